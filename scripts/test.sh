#!/usr/bin/env bash
# The test command: formatting, lints, then every test. As root, the end-to-end tests
# build network namespaces and run rvsd, nginx, curl and tshark for real; otherwise they
# skip with a visible message.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "test.sh: cargo not found (install Rust 1.95 or newer)" >&2; exit 1; }
export CARGO_TERM_COLOR=never
jobs=${JOBS:-2}

cargo fmt --all --check
cargo clippy --workspace --all-targets -j "$jobs" -- -D warnings
# The end-to-end tests drive the release binaries (the data plane at full speed).
cargo build --release --workspace --bins -j "$jobs"
export RVSD_BIN="$PWD/target/release/rvsd" RVSADM_BIN="$PWD/target/release/rvsadm" RVS_LAB_BIN="$PWD/target/release/rvs-lab"
cargo test --workspace -j "$jobs" -- --test-threads="${TEST_THREADS:-2}"
