#!/usr/bin/env bash
# Fuzz every parser of untrusted bytes for SECONDS each (default 60): packets through the
# whole director, the wire parsers, IPVS sync messages, VRRP adverts, configuration files.
# Stable Rust: cargo-fuzz without a sanitizer (`-s none`). Crashes land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
secs=${1:-60}
for t in director wire_parse sync_parse vrrp_parse config_parse; do
  echo "== $t (${secs}s)"
  cargo fuzz run -s none "$t" -- -max_total_time="$secs" 2>&1 | grep -E "^Done|crash|panicked" || true
done
