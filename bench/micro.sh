#!/usr/bin/env bash
# Micro benchmarks of the core, one command: ns per packet on the established paths and
# per new connection, ns per lookup at 1 M and 10 M connections (criterion), ns per
# scheduler pick with 100 real servers, bytes per tracked connection at 1 M and 10 M
# (table accounting and RSS growth), and instructions per packet (callgrind, stable on
# a busy machine). No root, no network. Takes about 10 minutes on 2 cores.
#
#   bench/micro.sh                 # everything
#   bench/micro.sh datapath sched  # a subset: datapath sched memory instructions
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(datapath sched memory instructions)
for p in "${parts[@]}"; do
  echo "== $p"
  case "$p" in
    datapath) cargo bench -p rvs-core --bench datapath ;;
    sched) cargo bench -p rvs-core --bench sched ;;
    memory) cargo bench -p rvs-core --bench conn_memory ;;
    instructions)
      command -v valgrind >/dev/null || { echo "micro.sh: valgrind is needed for instruction counts (apt-get install valgrind)" >&2; exit 1; }
      scripts/instructions.sh ;;
    *) echo "micro.sh: unknown part $p (datapath sched memory instructions)" >&2; exit 2 ;;
  esac
done
