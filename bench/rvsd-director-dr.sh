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
here=$(cd "$(dirname "$0")" && pwd)
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
trap undo EXIT
trap 'exit 143' TERM INT
for ns in "${RS_NS[@]}"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  ip netns exec "$ns" ip addr add "$VIP/32" dev lo
done

# The NAT director command with -g; not exec'd, so that the trap undoes the servers.
RVS_FORWARD=-g bash "$here/rvsd-director.sh"
