#!/usr/bin/env bash
# One-time (and idempotent) setup of a fresh Debian/Ubuntu machine for the harness:
#   1. a PostgreSQL 15+ server package (installed with apt when none is present),
#   2. the virtualenv .venv with the harness and its Python packages,
#   3. the real services that can be had here (Mailpit, Toxiproxy, Deno; GoTrue where the Go
#      module proxy serves it) into .tools/, and the compose checker for the stack's compose file.
# Fast when everything is already there. Prints one line per step.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=apt.sh
. "$REPO/scripts/apt.sh"

apt_updated=0
apt_install() { # PACKAGE...: only what is missing; fails naming it when apt cannot run as root
  need_apt "$*"
  if [ "$apt_updated" = 0 ]; then apt_get update -qq >/dev/null; apt_updated=1; fi
  apt_get install -y -qq "$@" >/dev/null
}

# 1. PostgreSQL ------------------------------------------------------------------------------
have_pg=""
for bindir in /usr/lib/postgresql/*/bin; do
  major="$(basename "$(dirname "$bindir")")"
  if [ -x "$bindir/postgres" ] && [ "$major" -ge 15 ] 2>/dev/null; then have_pg="$major"; fi
done
if [ -n "${SOBERHARNESS_PG_BINDIR:-}" ]; then
  say "postgresql: using SOBERHARNESS_PG_BINDIR=$SOBERHARNESS_PG_BINDIR"
elif [ -n "$have_pg" ]; then
  say "postgresql: server $have_pg already installed"
else
  say "postgresql: installing postgresql-15 and contrib from Debian..."
  apt_install postgresql-15 postgresql-contrib || die "could not install postgresql-15 (apt-get failed)"
fi
# PostgreSQL refuses to run as root; the harness runs it as the 'postgres' account then.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  say "postgresql: creating the unprivileged 'postgres' account to run the server as"
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
# No cluster of the system is needed: the harness runs its own in a temporary directory.

# 2. Python ----------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is needed ($PY is $("$PY" --version 2>&1))"
if [ ! -x .venv/bin/python ]; then
  say "python: creating .venv"
  "$PY" -m venv .venv || { apt_install python3-venv && "$PY" -m venv .venv; }
fi
stamp=".venv/.soberharness-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "python: packages up to date"
else
  say "python: installing the harness and its packages (about a minute the first time)..."
  .venv/bin/pip install -q --disable-pip-version-check -U pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi

# 3. Services and tools ----------------------------------------------------------------------
bash scripts/install-services.sh
case "${CI:-}" in
  ""|0|false|no) ;;
  *) # In CI every tool a registry here serves must be present (GoTrue is served by none): a
     # test needing one must never skip there. Already installed above, so this only checks.
     bash scripts/install-services.sh --strict mailpit toxiproxy deno actionlint versitygw ;;
esac
if [ -f scripts/setup-ci-extras.sh ]; then bash scripts/setup-ci-extras.sh; fi
say "done"
