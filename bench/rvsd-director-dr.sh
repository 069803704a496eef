#!/usr/bin/env bash
# The direct-routing variant of the director command peers.sh runs for rvsd: the same three
# virtual services (TCP 80 rr, TCP 5201 rr with persistence, UDP 5000 rr) forwarded by direct
# routing (-g). Started in the director namespace by peers.sh; it makes peers.sh's real
# servers DR real servers for as long as it runs: the VIP on their loopback, ARP for it
# neither answered nor announced (arp_ignore=1, arp_announce=2), and undoes that on exit.
# Replies then go from the servers straight towards the client; in peers.sh's topology
# their gateway is the director host, whose kernel routes them like any router (rvsd never
# sees them), so compare against peers.sh's "direct" (plain routing) figures.
# Environment from peers.sh: VIP HTTP_PORT BULK_PORT UDP_PORT RS_IPS; PREFIX names the
# namespaces (peers.sh's PREFIX, default lvs).
set -euo pipefail
BIN=${RVS_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
SOCK=${RVSD_SOCKET:-/run/rvsd-bench-$$.sock}
P=${PREFIX:-lvs}
RS_NS=()
i=0
for _ in $RS_IPS; do i=$((i + 1)); RS_NS+=("$P-rs$i"); done

undo() {
  for ns in "${RS_NS[@]}"; do
    ip netns exec "$ns" ip addr del "$VIP/32" dev lo 2>/dev/null || true
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0 || true
  done
}
for ns in "${RS_NS[@]}"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  ip netns exec "$ns" ip addr add "$VIP/32" dev lo
done

"$BIN/rvsd" -i "$CLIENT_IF" -i "$SERVER_IF" --socket "$SOCK" ${RVSD_ARGS:-} &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; undo' TERM INT EXIT
for _ in $(seq 100); do
  "$BIN/rvsadm" --socket "$SOCK" -L -n >/dev/null 2>&1 && break
  sleep 0.1
done
adm() { "$BIN/rvsadm" --socket "$SOCK" "$@"; }
adm -A -t "$VIP:$HTTP_PORT" -s rr
adm -A -t "$VIP:$BULK_PORT" -s rr -p 300
adm -A -u "$VIP:$UDP_PORT" -s rr
for ip in $RS_IPS; do
  adm -a -t "$VIP:$HTTP_PORT" -r "$ip" -g
  adm -a -t "$VIP:$BULK_PORT" -r "$ip" -g
  adm -a -u "$VIP:$UDP_PORT" -r "$ip" -g
done
adm -L -n
wait $pid
