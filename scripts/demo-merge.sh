#!/usr/bin/env bash
# make demo: two ntkd networks come up apart, meet, merge; before and after (addresses, network ids, a ping
# across), the graph, then the lab is torn down (also when a step fails). Every wait has a budget.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-netns}
ntklab() { node dist/lab/src/cli/ntklab.js "$@"; }
LAB=merge-demo
NODES=(a1 a2 b1 b2 b3)
trap 'ntklab destroy $LAB >/dev/null 2>&1 || true' EXIT

status() { ntklab ntkctl $LAB "$1" --json status 2>/dev/null; }
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);console.log(j[process.argv[1]] ?? "")}catch{console.log("")}})' "$1"; }
show() {
  printf '%-4s %-10s %-16s %s\n' node address global network
  for n in "${NODES[@]}"; do
    s=$(status "$n" || true)
    printf '%-4s %-10s %-16s %s\n' "$n" "$(field address <<<"$s")" "$(field global <<<"$s")" "$(field networkId <<<"$s")"
  done
}
networks() { for n in "$@"; do status "$n" | field networkId; done | sort -u | grep -c . ; }
# waits (at most $1 seconds) until the nodes after it share one network id
wait_one_network() {
  local budget=$1; shift
  for _ in $(seq 1 $((budget * 2))); do
    [ "$(networks "$@")" = 1 ] && return 0
    sleep 0.5
  done
  echo "demo: $* did not become one network within ${budget}s" >&2; return 1
}

ntklab deploy topologies/merge/demo.yaml --backend "$BACKEND"
echo; echo "== two networks form apart (each daemon founds its own, then they merge along each line)"
wait_one_network 90 a1 a2
wait_one_network 90 b1 b2 b3
show
echo; echo "== the link a2-b1 comes up"
ntklab link up $LAB a2:eth2 b1:eth2
wait_one_network 90 "${NODES[@]}"
target=$(status b3 | field global)
for _ in $(seq 1 60); do
  ntklab exec $LAB a1 -- ping -c 1 -W 1 "$target" >/dev/null 2>&1 && break
  sleep 0.5
done
echo; echo "== one network"
show
echo; echo "== a1 pings b3 ($target) across the merge"
ntklab exec $LAB a1 -- ping -c 3 -i 0.3 -W 2 "$target"
echo; echo "== the graph (as the topology declares it: a2-b1 starts down)"
ntklab graph topologies/merge/demo.yaml --format mermaid
echo; ntklab destroy $LAB
trap - EXIT
