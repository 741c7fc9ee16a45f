# apt-get for the setup scripts (sourced by setup.sh and setup-ci-extras.sh).
#
#   apt_get ARGS...   apt-get as root (sudo when not root), noninteractive. When another apt
#                     process holds apt's lock (unattended upgrades on a fresh machine, a second
#                     setup), it waits for the lock, saying so, up to SOBERHARNESS_APT_LOCK_TIMEOUT
#                     seconds (default 300), then fails naming the lock.
#   can_apt           0 when apt-get can be run as root (we are root, or sudo exists).
#   need_apt WHAT     fail with one line naming WHAT when apt-get cannot be run as root.

APT_LOCK_TIMEOUT="${SOBERHARNESS_APT_LOCK_TIMEOUT:-300}"
APT_SAY="${APT_SAY:-[setup]}"

can_apt() {
  command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }
}

need_apt() { # WHAT: what is missing, for the message
  if ! command -v apt-get >/dev/null 2>&1; then
    printf '%s error: %s is missing and there is no apt-get here: install it with your package manager\n' \
      "$APT_SAY" "$1" >&2
    exit 1
  fi
  if ! can_apt; then
    printf '%s error: %s is missing; installing it needs root (apt-get): run this setup as root or with sudo, or install it yourself\n' \
      "$APT_SAY" "$1" >&2
    exit 1
  fi
}

apt_get() {
  local root=() err deadline waited=0 status
  if [ "$(id -u)" != 0 ]; then root=(sudo); fi
  err="$(mktemp)"
  deadline=$(( $(date +%s) + APT_LOCK_TIMEOUT ))
  while :; do
    status=0
    "${root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" "$@" 2>"$err" || status=$?
    if [ "$status" = 0 ]; then rm -f "$err"; return 0; fi
    if ! grep -qiE 'could not get lock|unable to acquire the dpkg|unable to lock' "$err"; then
      cat "$err" >&2; rm -f "$err"; return "$status"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf '%s error: apt is still locked by another process after %s s (%s); try again when it is done, or set SOBERHARNESS_APT_LOCK_TIMEOUT\n' \
        "$APT_SAY" "$APT_LOCK_TIMEOUT" "$(grep -iE 'lock' "$err" | head -1)" >&2
      rm -f "$err"; return "$status"
    fi
    if [ "$waited" = 0 ]; then
      printf '%s apt: another apt process holds its lock; waiting for it (up to %s s)...\n' \
        "$APT_SAY" "$APT_LOCK_TIMEOUT"
      waited=1
    fi
    sleep 3
  done
}
