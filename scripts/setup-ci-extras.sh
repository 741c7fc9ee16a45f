#!/usr/bin/env bash
# Tools the selftests use to check the stack's files with real implementations, from Debian:
#   docker-compose  compose v1 (1.29), `docker-compose config -q` validates the compose file
#                   and needs no Docker engine. Installed without its recommended docker.io.
#   nginx           the binary only, unpacked into .tools/nginx/ (no service is installed or
#                   started): `nginx -t` checks the gateway configuration, and the gateway
#                   selftest runs it on 127.0.0.1 in front of protocol doubles.
#   pgbackrest      the disaster-recovery drills (suites/dr): WAL archiving, encrypted backups,
#                   point-in-time restore (a package without a service; the drills run it on
#                   their own throwaway clusters with a config file of their own).
#   promtool        from the `prometheus` package, unpacked into .tools/prometheus/ (no service):
#                   `promtool check config` and `promtool test rules` for stack/monitoring.
#   chromium        headless, for the run page's browser selftest (suites/selftest/
#                   test_run_page_browser.py): a screenshot at 1400 px and the page's layout
#                   measured in the page. Any of chromium, chromium-browser or Google Chrome
#                   already present is used (GitHub's Ubuntu runners ship google-chrome);
#                   otherwise Debian's `chromium` is installed (about 20 s).
#   docker.io       Debian's Docker engine (dockerd 20.10) and debootstrap, for the containers
#   debootstrap     target on a real engine (suites/ops/test_containers_live.py): the test starts
#                   a private dockerd of its own (no system service is started here) and builds
#                   its images from a debootstrap rootfs, with no registry.
# pg_basebackup, pg_rewind and pg_verifybackup come with the PostgreSQL server package.
#
# Idempotent: what is already there is left alone (also as an ordinary user without sudo).
# Exits non-zero when a missing tool cannot be installed, naming it, so CI does not silently
# skip the checks. Installing needs root (or sudo) for apt-get; apt's lock is waited for.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NGINX_DIR="$REPO/.tools/nginx"
PROM_DIR="$REPO/.tools/prometheus"
say() { echo "setup-ci-extras: $*"; }
APT_SAY="setup-ci-extras:"
# shellcheck source=apt.sh
. "$REPO/scripts/apt.sh"

APT_UPDATED=0
apt_update_once() { # WHAT: the missing tool that needs it
  need_apt "$1"
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt_get update -qq
    APT_UPDATED=1
  fi
}

# Installs Debian packages with their services kept from starting (a policy-rc.d answering 101,
# honoured by invoke-rc.d and deb-systemd-invoke), removed again afterwards if it made it.
install_without_services() { # PACKAGE...
  apt_update_once "$*"
  local policy=/usr/sbin/policy-rc.d made_policy=0 status=0
  if [ ! -e "$policy" ]; then
    if [ "$(id -u)" = 0 ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"
    else printf '#!/bin/sh\nexit 101\n' | sudo tee "$policy" >/dev/null; sudo chmod 755 "$policy"; fi
    made_policy=1
  fi
  apt_get install -y -qq --no-install-recommends "$@" >/dev/null || status=$?
  if [ "$made_policy" = 1 ]; then
    if [ "$(id -u)" = 0 ]; then rm -f "$policy"; else sudo rm -f "$policy"; fi
  fi
  [ "$status" = 0 ] || exit "$status"
}

# -- docker-compose (compose v1) ----------------------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
  say "docker-compose present: $(docker-compose version --short 2>/dev/null || echo unknown)"
else
  apt_update_once docker-compose
  apt_get install -y -qq --no-install-recommends docker-compose
  say "docker-compose installed: $(docker-compose version --short)"
fi

# `apt-get download` fetches a .deb only; its maintainer scripts never run.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# It needs no root: an ordinary user downloads from the package lists already on the machine,
# and only when that fails are the lists refreshed (as root, or with sudo).
unpack_deb() { # PACKAGE DEST
  if [ "$APT_UPDATED" -eq 1 ] || ! (cd "$work" && chmod 777 . && apt-get download -qq "$1" 2>/dev/null); then
    apt_update_once "$1 (unpacked into $2)"
    (cd "$work" && apt-get download -qq "$1")
  fi
  mkdir -p "$2"
  dpkg-deb -x "$work"/"$1"_*.deb "$2"
}

# -- nginx binary (unpacked, not installed as a service) -----------------------------------
if [ -x "$NGINX_DIR/usr/sbin/nginx" ]; then
  say "nginx present: $("$NGINX_DIR/usr/sbin/nginx" -v 2>&1)"
else
  unpack_deb nginx "$NGINX_DIR"
  say "nginx unpacked: $("$NGINX_DIR/usr/sbin/nginx" -v 2>&1)"
fi

# -- pgbackrest ------------------------------------------------------------------------------
if command -v pgbackrest >/dev/null 2>&1; then
  say "pgbackrest present: $(pgbackrest version)"
else
  apt_update_once pgbackrest
  apt_get install -y -qq --no-install-recommends pgbackrest >/dev/null
  say "pgbackrest installed: $(pgbackrest version)"
fi

# -- chromium (headless browser for the run page's browser selftest) ---------------------------
browser=""
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then browser="$name"; break; fi
done
if [ -n "$browser" ]; then
  say "chromium present: $("$browser" --version 2>/dev/null | head -1)"
else
  apt_update_once chromium
  apt_get install -y -qq chromium >/dev/null
  say "chromium installed: $(chromium --version 2>/dev/null | head -1)"
fi

# -- promtool (unpacked from the prometheus package, not installed as a service) ------------
if [ -x "$PROM_DIR/usr/bin/promtool" ]; then
  say "promtool present: $("$PROM_DIR/usr/bin/promtool" --version 2>&1 | head -1)"
else
  unpack_deb prometheus "$PROM_DIR"
  say "promtool unpacked: $("$PROM_DIR/usr/bin/promtool" --version 2>&1 | head -1)"
fi

# -- monitoring end to end (suites/ops): the Prometheus server comes with promtool above;
# Alertmanager and the two exporters are unpacked the same way (static Go binaries, no
# service installed or started): the suite runs them on 127.0.0.1 for the length of a test.
unpack_tool() { # PACKAGE DIR BINARY
  if [ -x "$2/usr/bin/$3" ]; then
    say "$3 present: $("$2/usr/bin/$3" --version 2>&1 | head -1)"
  else
    unpack_deb "$1" "$2"
    say "$3 unpacked: $("$2/usr/bin/$3" --version 2>&1 | head -1)"
  fi
}
# Alertmanager reads its default notification template from a fixed path under /usr/share:
# it is installed as a package, with services kept from starting (policy-rc.d, honoured by
# invoke-rc.d and deb-systemd-invoke); the suite runs its own on 127.0.0.1.
if command -v prometheus-alertmanager >/dev/null 2>&1; then
  say "alertmanager present: $(prometheus-alertmanager --version 2>&1 | head -1)"
else
  install_without_services prometheus-alertmanager
  say "alertmanager installed (not started): $(prometheus-alertmanager --version 2>&1 | head -1)"
fi
unpack_tool prometheus-postgres-exporter "$REPO/.tools/postgres-exporter" prometheus-postgres-exporter
unpack_tool prometheus-nginx-exporter "$REPO/.tools/nginx-exporter" prometheus-nginx-exporter
# mtail reads the gateway's request log and exports http_requests_total{service, code}
# (stack/monitoring/mtail; ServiceHigh5xxRate).
if [ -x "$REPO/.tools/mtail/usr/bin/mtail" ]; then
  say "mtail present: $("$REPO/.tools/mtail/usr/bin/mtail" --version 2>&1 | head -1)"
else
  unpack_deb mtail "$REPO/.tools/mtail"
  say "mtail unpacked: $("$REPO/.tools/mtail/usr/bin/mtail" --version 2>&1 | head -1)"
fi

# -- the gateway's WAF (suites/ops): ModSecurity's library and the OWASP core rule set are
# installed from Debian (a library and rule files, no service; their paths are the gateway
# image's); nginx's module is unpacked beside the unpacked nginx (the package would pull in
# Debian's nginx service).
if [ -f /etc/modsecurity/crs/crs-setup.conf ] && compgen -G "/usr/lib/*/libmodsecurity.so.3" >/dev/null; then
  say "libmodsecurity3 and modsecurity-crs present"
else
  apt_update_once "libmodsecurity3 modsecurity-crs"
  apt_get install -y -qq --no-install-recommends libmodsecurity3 modsecurity-crs >/dev/null
  say "libmodsecurity3 and modsecurity-crs installed"
fi
MODSEC_DIR="$REPO/.tools/nginx-modsecurity"
if [ -f "$MODSEC_DIR/usr/lib/nginx/modules/ngx_http_modsecurity_module.so" ]; then
  say "nginx ModSecurity module present"
else
  unpack_deb libnginx-mod-http-modsecurity "$MODSEC_DIR"
  say "nginx ModSecurity module unpacked"
fi

# -- Docker engine and debootstrap (the containers target on a real engine): installed with
# services kept from starting (policy-rc.d, as for Alertmanager above; docker.socket included),
# since the test runs a dockerd of its own with everything in its own folder.
if command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; then
  say "dockerd and debootstrap present: $(dockerd --version 2>/dev/null | head -1)"
else
  install_without_services docker.io debootstrap
  say "dockerd and debootstrap installed (no service started): $(dockerd --version 2>/dev/null | head -1)"
fi

# -- pgaudit (suites/ops audit logging): an extension of the PostgreSQL server package, so it
# is installed beside it (no service); the suite loads it in clusters of its own.
pg_major=""
for bindir in /usr/lib/postgresql/*/bin; do
  candidate="$(basename "$(dirname "$bindir")")"
  if [ -x "$bindir/postgres" ] && [ "$candidate" -ge 15 ] 2>/dev/null; then pg_major="$candidate"; fi
done
if [ -z "$pg_major" ]; then
  say "pgaudit: no Debian PostgreSQL server here (SOBERHARNESS_PG_BINDIR?): not installed"
elif [ -f "/usr/lib/postgresql/$pg_major/lib/pgaudit.so" ]; then
  say "pgaudit present for PostgreSQL $pg_major"
else
  apt_update_once "postgresql-$pg_major-pgaudit"
  apt_get install -y -qq --no-install-recommends "postgresql-$pg_major-pgaudit" >/dev/null
  say "pgaudit installed for PostgreSQL $pg_major"
fi
