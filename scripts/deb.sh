#!/usr/bin/env bash
# deb.sh - build the rvs Debian package: rvsd and rvsadm in /usr/sbin, the systemd unit
# rvsd.service, /etc/default/rvsd, a sample /etc/rvs/keepalived.conf, man pages (rvsd's
# generated from its command-line definitions, rvsadm's written by hand) and bash, zsh
# and fish completions. Prints the path of the .deb (in target/debian/). Installs
# cargo-deb with cargo when it is missing. JOBS (default 2) bounds the build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
target=${CARGO_TARGET_DIR:-target}

if ! command -v cargo-deb >/dev/null; then
  echo "deb.sh: installing cargo-deb" >&2
  cargo install cargo-deb --version 3.8.0 --locked -j "$jobs" >&2
fi

cargo build --release -j "$jobs" -p rvsd -p rvs-admin >&2
docs="$target/release/gen-docs"
rm -rf "$docs"
"$target/release/rvsd" gen-docs "$docs" >/dev/null
# Man pages compressed as Debian policy wants (cargo-deb compresses only files it did not build).
gzip -9n "$docs"/*.8

cargo deb -p rvsd --no-build --strip --output "$target/debian/" 2>&1 >/dev/null | grep -v '^$' >&2 || true
deb=$(ls -t "$target"/debian/rvs_*.deb | head -1)
echo "$deb"
