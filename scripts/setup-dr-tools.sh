#!/usr/bin/env bash
# Tools of the disaster-recovery drills (suites/dr) and the alert-rule tests, from Debian:
#   pgbackrest  WAL archiving, encrypted backups, point-in-time restore, `check` and `verify`
#               (installed as a package: it has no service, the drills run it on their own
#               throwaway clusters with a config file of their own).
#   promtool    from the `prometheus` package, unpacked into .tools/prometheus/ (no service is
#               installed or started): `promtool check config` and `promtool test rules`.
# pg_basebackup, pg_rewind and pg_verifybackup come with the PostgreSQL server package.
#
# Idempotent: what is already there is left alone. Exits non-zero when a tool cannot be
# installed, so CI does not silently skip the drills. Needs root (or sudo) for apt-get.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROM_DIR="$REPO/.tools/prometheus"
say() { echo "setup-dr-tools: $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    say "not root and no sudo: cannot run apt-get"; exit 1
  fi
fi

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
}

# -- pgbackrest ------------------------------------------------------------------------------
if command -v pgbackrest >/dev/null 2>&1; then
  say "pgbackrest present: $(pgbackrest version)"
else
  apt_update_once
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends pgbackrest >/dev/null
  say "pgbackrest installed: $(pgbackrest version)"
fi

# -- promtool (unpacked from the prometheus package, not installed as a service) ------------
if [ -x "$PROM_DIR/usr/bin/promtool" ]; then
  say "promtool present: $("$PROM_DIR/usr/bin/promtool" --version 2>&1 | head -1)"
else
  apt_update_once
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # `apt-get download` fetches the .deb only; its maintainer scripts never run.
  (cd "$work" && chmod 777 . && apt-get download -qq prometheus)
  mkdir -p "$PROM_DIR"
  dpkg-deb -x "$work"/prometheus_*.deb "$PROM_DIR"
  say "promtool unpacked: $("$PROM_DIR/usr/bin/promtool" --version 2>&1 | head -1)"
fi
