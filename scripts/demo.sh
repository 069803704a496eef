#!/usr/bin/env bash
# The lab demo: builds rvs, then a complete LVS in network namespaces (a client, the
# director running rvsd, three nginx real servers), sends requests through the VIP, shows
# which real server answered each and the `rvsadm -L -n --stats` view, and tears it all
# down. Needs root. Arguments go to `rvs-lab demo` (e.g. --method dr --scheduler wrr).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release -p rvsd -p rvs-admin -p rvs-lab
exec target/release/rvs-lab demo "$@"
