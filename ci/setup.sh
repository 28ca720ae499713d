#!/usr/bin/env bash
# Installs what the project needs on a Debian machine (idempotent, quiet when all is there):
# Debian packages for the lab (nftables: the radio segments' bridge filter), npm packages, and a Docker engine that answers.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip       || need+=(iproute2)
have tc       || need+=(iproute2)
have iptables || need+=(iptables)
have ping     || need+=(iputils-ping)
have nsenter  || need+=(util-linux)
have dockerd  || need+=(docker.io)
have babeld   || need+=(babeld)
have dot      || need+=(graphviz)
have sysctl   || need+=(procps)
have nft      || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing ${need[*]}; run as root to install them" >&2; exit 1; fi
  echo "setup: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm ci only when node_modules does not match the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi

# A Docker engine for the docker backend. One we start here is recorded so .ci/run can stop it.
if ! docker info >/dev/null 2>&1; then
  if [ "${NTK_SKIP_DOCKER:-0}" = 1 ]; then exit 0; fi
  echo "setup: starting dockerd" >&2
  mkdir -p /run/ntklab
  nohup dockerd >/var/log/ntklab-dockerd.log 2>&1 &
  echo $! > /run/ntklab/dockerd.pid
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$(cat /run/ntklab/dockerd.pid)" 2>/dev/null || { echo "setup: dockerd exited; see /var/log/ntklab-dockerd.log" >&2; tail -20 /var/log/ntklab-dockerd.log >&2; exit 1; }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not answer within 60 s" >&2; exit 1; }
fi
