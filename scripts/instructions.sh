#!/usr/bin/env bash
# Instructions per packet on the director's established paths, counted by callgrind
# (repeatable on a busy machine). Each figure includes copying the 66-byte test frame
# into the buffer (about 10 instructions).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p rvs-core --bench instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)
count() {
  PACKETS=$2 PATH_KIND=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
N=${PACKETS:-200000}
printf '%-10s %s\n' path instructions/packet
for p in nat_in nat_out route_in tunnel_in; do
  a=$(count "$p" 0); b=$(count "$p" "$N")
  printf '%-10s %s\n' "$p" "$(( (b - a) / N ))"
done
