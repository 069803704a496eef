#!/usr/bin/env bash
# deb-check.sh - build the rvs .deb (scripts/deb.sh) and check it on this machine: it
# installs with dpkg -i, `systemd-analyze verify` accepts the unit (where systemd-analyze
# exists), the binaries run and name their build, `man rvsadm` and `man rvsd` render,
# the completions parse, the conffiles are registered, and removal and purge leave
# nothing behind. Needs root; refuses to touch a machine where rvs is already installed.
# CI may run it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "deb-check.sh: needs root (dpkg -i)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' rvs 2>/dev/null | grep -q "install ok installed"; then
  echo "deb-check.sh: the rvs package is already installed here; not touching it" >&2
  exit 1
fi

fail() { echo "deb-check.sh: FAIL: $*" >&2; exit 1; }
step() { echo "deb-check.sh: $*"; }

deb=$(scripts/deb.sh)
[ -f "$deb" ] || fail "no package built"
step "built $deb"
dpkg-deb --info "$deb" >/dev/null
files=$(dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$')

installed=0
cleanup() {
  if [ "$installed" = 1 ]; then
    dpkg --purge rvs >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb"
installed=1
dpkg-query -W -f='${Status}\n' rvs | grep -q "install ok installed" || fail "not installed"

for f in /usr/sbin/rvsd /usr/sbin/rvsadm; do
  [ -x "$f" ] || fail "$f missing"
done
/usr/sbin/rvsd --version | grep -q '^commit ' || fail "rvsd --version names no commit"
/usr/sbin/rvsd --version | grep -q 'rustc ' || fail "rvsd --version names no compiler"
/usr/sbin/rvsadm --version | grep -q '^build: commit ' || fail "rvsadm --version names no build"
step "binaries run: $(/usr/sbin/rvsd -V); $(/usr/sbin/rvsadm -v | head -1)"

unit=$(dpkg -L rvs | grep '/systemd/system/rvsd.service$') || fail "no unit installed"
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  # Complaints about the unit itself would name it; others concern this host.
  if echo "$out" | grep -q 'rvsd.service'; then
    fail "systemd-analyze verify: $out"
  fi
  step "systemd-analyze verify accepts $unit"
else
  step "systemd-analyze not available: unit not verified"
fi

for page in rvsadm rvsd rvsd-realserver; do
  text=$(MANWIDTH=80 man -P cat "$page" 2>/dev/null) || fail "man $page does not render"
  echo "$text" | grep -q "^NAME" || fail "man $page has no NAME section"
done
MANWIDTH=80 man -P cat rvsadm | grep -q -- '--add-service' || fail "man rvsadm lacks the commands"
step "man rvsadm, man rvsd render"

bash -n /usr/share/bash-completion/completions/rvsadm || fail "rvsadm completion"
bash -n /usr/share/bash-completion/completions/rvsd || fail "rvsd completion"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' rvs)
for c in /etc/default/rvsd /etc/rvs/keepalived.conf; do
  echo "$conffiles" | grep -q " $c " || fail "$c is not a conffile"
done
step "completions parse; conffiles registered"

step "dpkg -r"
dpkg -r rvs >/dev/null
for f in $files; do
  case $f in
    /etc/*) ;;  # conffiles stay until purge
    *) [ ! -e "$f" ] || fail "$f left after removal" ;;
  esac
done
step "dpkg --purge"
dpkg --purge rvs >/dev/null
installed=0
for f in $files; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
[ ! -e /etc/rvs ] || fail "/etc/rvs left after purge"
[ ! -e /etc/systemd/system/rvsd.service ] || fail "a mask of rvsd.service left after purge"
if dpkg-query -W rvs >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' rvs | grep -q "not-installed"; then
  fail "dpkg still knows rvs: $(dpkg-query -W -f='${Status}' rvs)"
fi
step "removed and purged cleanly"
echo "deb-check.sh: ok"
