#!/usr/bin/env bash
# Tools the selftests use to check the stack's files with real implementations, from Debian:
#   docker-compose  compose v1 (1.29), `docker-compose config -q` validates the compose file
#                   and needs no Docker engine. Installed without its recommended docker.io.
#   nginx           the binary only, unpacked into .tools/nginx/ (no service is installed or
#                   started): `nginx -t` checks the gateway configuration, and the gateway
#                   selftest runs it on 127.0.0.1 in front of protocol doubles.
#
# Idempotent: what is already there is left alone. Exits non-zero when a tool cannot be
# installed, so CI does not silently skip the checks. Needs root (or sudo) for apt-get.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NGINX_DIR="$REPO/.tools/nginx"
say() { echo "setup-ci-extras: $*"; }

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

# -- docker-compose (compose v1) ----------------------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
  say "docker-compose present: $(docker-compose version --short 2>/dev/null || echo unknown)"
else
  apt_update_once
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose
  say "docker-compose installed: $(docker-compose version --short)"
fi

# -- nginx binary (unpacked, not installed as a service) -----------------------------------
if [ -x "$NGINX_DIR/usr/sbin/nginx" ]; then
  say "nginx present: $("$NGINX_DIR/usr/sbin/nginx" -v 2>&1)"
else
  apt_update_once
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # `apt-get download` fetches the .deb only; its maintainer scripts never run.
  (cd "$work" && chmod 777 . && apt-get download -qq nginx)
  mkdir -p "$NGINX_DIR"
  dpkg-deb -x "$work"/nginx_*.deb "$NGINX_DIR"
  say "nginx unpacked: $("$NGINX_DIR/usr/sbin/nginx" -v 2>&1)"
fi
