#!/usr/bin/env bash
# Macro benchmark: rvsd beside the peers (plain routing, kernel nftables DNAT, HAProxy)
# in one run of ../shared/bench/peers.sh on its NAT topology, printing the ratio table.
# OFFLOADS=off for every mode (rvsd reads frames; see peers.sh's header). ROUNDS=3 for
# anything you decide on. Needs root and peers.sh's tools (`peers.sh deps`).
#   bench/macro.sh                      # ROUNDS=1 DUR=10
#   ROUNDS=3 RESULTS=/tmp/r.txt bench/macro.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
PEERS_SH=${PEERS_SH:-$repo/../shared/bench/peers.sh}
[ -x "$PEERS_SH" ] || [ -f "$PEERS_SH" ] || { echo "macro.sh: peers.sh not found at $PEERS_SH (set PEERS_SH)" >&2; exit 1; }
(cd "$repo" && cargo build --release -p rvsd -p rvs-admin)
export OFFLOADS=${OFFLOADS:-off} CUSTOM_NAME=${CUSTOM_NAME:-rvsd} RVS_BIN="$repo/target/release"
exec bash "$PEERS_SH" all "$here/rvsd-director.sh"
