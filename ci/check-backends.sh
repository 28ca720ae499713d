#!/usr/bin/env bash
# Says which backend or tool that ci/setup.sh installs is missing, one line each ("ci: missing backend: ..."),
# and exits 1 if any is; silent and 0 when everything the tests need is there. .ci/run calls it after setup.
set -uo pipefail
missing=0
say() { echo "ci: missing backend: $*"; missing=1; }
[ "$(id -u)" = 0 ] || say "root (the netns and docker backends need it)"
for tool in ip tc iptables iptables-save iptables-restore ping nsenter unshare babeld dot; do
  command -v "$tool" >/dev/null 2>&1 || say "$tool is not installed"
done
docker info >/dev/null 2>&1 || say "no Docker engine answers (docker info failed)"
exit "$missing"
