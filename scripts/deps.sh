#!/usr/bin/env bash
# deps.sh - install what the namespace lab (crates/lab) and its root tests need on Debian 12.
# Idempotent: packages already present are left as they are. Run as root.
#
#   iproute2      ip netns / link / addr / route: builds every topology
#   nftables      nft: the stand-in director's DNAT in the lab tests; rvsd installs its rules with it
#   ethtool       turns TSO/GSO/GRO off on the lab's veths (AF_PACKET would see 64 KB frames)
#   nginx         the real servers' HTTP service (one private instance per server namespace)
#   curl          the client's HTTP requests through the VIP
#   tcpdump       captures in a namespace (Lab::capture)
#   tshark        checksum verification of captured packets (verify_pcap_checksums)
#   iputils-ping  reachability checks and neighbour warm-up after a topology is built
#   procps        sysctl, inside each namespace
#   prometheus    promtool: the metrics e2e test checks rvsd's /metrics with `promtool check metrics`
#   chromium      headless browser: the status-page test loads the page, screenshots it, dumps the DOM
#   keepalived    the VRRP peer of the failover interoperability tests (run VRRP-only in a namespace)
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "deps.sh: needs root (apt-get install)" >&2; exit 1; }

PKGS="iproute2 nftables ethtool nginx curl tcpdump tshark iputils-ping procps prometheus chromium keepalived"
export DEBIAN_FRONTEND=noninteractive

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps.sh: all present ($PKGS)"
  exit 0
fi

# tshark asks whether non-root users may capture; answer "no" up front so no prompt appears.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

# The nginx package would start a system nginx on port 80 of the root namespace, and the
# keepalived package a system keepalived (VRRP adverts and VIPs on the host's interfaces). The
# lab runs its own instances inside namespaces, so keep package scripts from starting any
# service for the duration of the install (policy-rc.d exit 101 = "action forbidden"), unless
# the host already has its own policy.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

# Nor should they start at the next boot.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now nginx prometheus keepalived >/dev/null 2>&1 || true
fi
echo "deps.sh: installed$missing"
