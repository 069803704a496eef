#!/usr/bin/env bash
# The director command peers.sh runs for rvsd (in the director namespace, foreground):
# starts rvsd on the lab's two ports and configures the three virtual services the way
# peers.sh configures its peers: TCP 80 round robin, TCP 5201 with source persistence
# (iperf3's control and data connections must meet), UDP 5000 round robin; NAT, or the
# forwarding method in RVS_FORWARD (-m, -g or -i; rvsd-director-dr.sh sets -g).
# Environment from peers.sh: VIP HTTP_PORT BULK_PORT UDP_PORT RS_IPS CLIENT_IF SERVER_IF.
set -euo pipefail
BIN=${RVS_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
SOCK=${RVSD_SOCKET:-/run/rvsd-bench-$$.sock}
FWD=${RVS_FORWARD:--m}
"$BIN/rvsd" -i "$CLIENT_IF" -i "$SERVER_IF" --socket "$SOCK" ${RVSD_ARGS:-} &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' TERM INT EXIT
for _ in $(seq 100); do
  "$BIN/rvsadm" --socket "$SOCK" -L -n >/dev/null 2>&1 && break
  sleep 0.1
done
adm() { "$BIN/rvsadm" --socket "$SOCK" "$@"; }
adm -A -t "$VIP:$HTTP_PORT" -s rr
adm -A -t "$VIP:$BULK_PORT" -s rr -p 300
adm -A -u "$VIP:$UDP_PORT" -s rr
for ip in $RS_IPS; do
  adm -a -t "$VIP:$HTTP_PORT" -r "$ip" "$FWD"
  adm -a -t "$VIP:$BULK_PORT" -r "$ip" "$FWD"
  adm -a -u "$VIP:$UDP_PORT" -r "$ip" "$FWD"
done
adm -L -n
wait $pid
