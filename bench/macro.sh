#!/usr/bin/env bash
# Macro benchmark: rvsd beside the peers (plain routing, kernel nftables DNAT, HAProxy)
# in one run of ../shared/bench/peers.sh on its NAT topology, printing the ratio table.
# Needs root and peers.sh's tools (`peers.sh deps`). ROUNDS=3 for anything you decide on.
#
#   bench/macro.sh                                   # NAT, OFFLOADS=off, ROUNDS=1, DUR=10
#   ROUNDS=3 RESULTS=/tmp/r.txt bench/macro.sh
#   METHOD=dr ROUNDS=3 bench/macro.sh                # direct routing (compare with "direct")
#   OFFLOADS=on ROUNDS=3 bench/macro.sh              # veths with TSO/GSO/GRO on, every mode
#   RVSD_ARGS="--backend packet" bench/macro.sh      # force a backend (default: auto)
#
# METHOD=nat runs bench/rvsd-director.sh, METHOD=dr bench/rvsd-director-dr.sh (which turns
# peers.sh's real servers into DR real servers while it runs). rvsd's own CPU is in the
# *_lb_cpu rows; its log per round lands beside RESULTS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
PEERS_SH=${PEERS_SH:-$repo/../shared/bench/peers.sh}
[ -x "$PEERS_SH" ] || [ -f "$PEERS_SH" ] || { echo "macro.sh: peers.sh not found at $PEERS_SH (set PEERS_SH)" >&2; exit 1; }
METHOD=${METHOD:-nat}
case "$METHOD" in
  nat) director=$here/rvsd-director.sh; name=rvsd ;;
  dr) director=$here/rvsd-director-dr.sh; name=rvsd-dr ;;
  *) echo "macro.sh: METHOD must be nat or dr" >&2; exit 2 ;;
esac
(cd "$repo" && cargo build --release -j2 -p rvsd -p rvs-admin)
export OFFLOADS=${OFFLOADS:-off} CUSTOM_NAME=${CUSTOM_NAME:-$name} RVS_BIN="$repo/target/release"
export PREFIX=${PREFIX:-lvs} RVSD_ARGS=${RVSD_ARGS:-}
exec bash "$PEERS_SH" all "$director"
