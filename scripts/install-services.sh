#!/usr/bin/env bash
# Install the real services the local target runs (GoTrue, Mailpit, Toxiproxy, Deno) into .tools/,
# actionlint, which the test command runs on .github/workflows/, and versitygw, the S3-compatible
# gateway two of which stand for two clouds in the cloud-move drill (suites/dr).
#
# Idempotent: a tool whose pinned version is already installed is left alone (one line, no network).
# Never fails the whole setup: a tool that cannot be installed prints
#   skipped: <tool> because <reason>
# and the script goes on; it exits 0 unless called with --strict (then 1 when anything was skipped).
# GO=/path/to/go and NPM=/path/to/npm choose the commands (default: found on PATH).
#
# Versions live in scripts/versions.env. Layout:
#   .tools/bin/<tool>            executables the harness looks for
#   .tools/stamps/<tool>         the version installed, to skip work next time
#   .tools/deno/                 the npm prefix holding the deno package
#   .tools/logs/install-<tool>.log  build output of the last attempt
set -u

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/stamps"
LOGS="$TOOLS/logs"
STRICT=0
ONLY=""
for arg in "$@"; do
  case "$arg" in
    --strict) STRICT=1 ;;
    gotrue|mailpit|toxiproxy|deno|actionlint|versitygw) ONLY="$ONLY $arg" ;;
    -h|--help)
      echo "usage: $0 [--strict] [gotrue|mailpit|toxiproxy|deno|actionlint|versitygw ...]"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=versions.env
. "$REPO/scripts/versions.env"
mkdir -p "$BIN" "$STAMPS" "$LOGS"

SKIPPED=0
say() { echo "install-services: $*"; }
skip() { # tool reason: print it and keep it for the harness's skip messages
  say "skipped: $1 because $2"
  echo "$2" >"$STAMPS/$1.skipped"
  SKIPPED=$((SKIPPED + 1))
}
wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
installed() { # tool version binary -> 0 when the stamp matches and the binary runs
  [ -x "$BIN/$3" ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]
}
log_tail() { tail -n 3 "$1" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# The go and npm commands: $GO / $NPM when set (a path), else found on PATH or where Go's
# tarball and Debian put it.
have_go() {
  if [ -z "${GO:-}" ]; then
    GO="$(command -v go || true)"
    for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
      [ -z "$GO" ] && [ -x "$candidate" ] && GO="$candidate"
    done
  fi
  [ -n "$GO" ] && [ -x "$GO" ]
}
have_npm() {
  [ -z "${NPM:-}" ] && NPM="$(command -v npm || true)"
  [ -n "$NPM" ] && [ -x "$NPM" ]
}

# How the suites get a tool this script cannot install: a binary built elsewhere, or a
# deployment that runs the service.
offer_hint() { # TOOL
  local var
  var="SOBER_$(echo "$1" | tr '[:lower:]-' '[:upper:]_')_BIN"
  echo "to offer $1 to the suites, set $var=/path/to/$1 (a binary built elsewhere) or run them" \
    "against a deployment that has it (--target FILE.toml)"
}

# go_install TOOL MODULE_PACKAGE VERSION BUILT_NAME FINAL_NAME
go_install() {
  local tool="$1" pkg="$2" version="$3" built="$4" final="$5" var refused
  var="SOBER_$(echo "$tool" | tr '[:lower:]-' '[:upper:]_')_BIN"
  if [ -n "${!var:-}" ] && [ -x "${!var}" ]; then
    say "$tool: using $var=${!var} (nothing to install)"
    return 0
  fi
  if installed "$tool" "$version" "$final"; then
    say "$tool $version already installed ($BIN/$final)"
    return 0
  fi
  # The module proxy refused this very version before (403): it will again; do not ask.
  refused="$STAMPS/$tool.refused"
  if [ -f "$refused" ] && [ "$(head -n 1 "$refused")" = "$pkg@$version" ]; then
    say "skipped: $tool because the Go module proxy refused $pkg@$version (403) on" \
      "$(sed -n 2p "$refused"); not asked again (delete $refused to retry); $(offer_hint "$tool")"
    SKIPPED=$((SKIPPED + 1))
    return 0
  fi
  if ! have_go; then
    skip "$tool" "the go command is not installed (needed for go install)"
    return 0
  fi
  local gobin log start end
  gobin="$(mktemp -d "$TOOLS/gobin.XXXXXX")"
  log="$LOGS/install-$tool.log"
  say "$tool: go install $pkg@$version (this can take a few minutes)"
  start=$(date +%s)
  if GOBIN="$gobin" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 \
      timeout 1500 "$GO" install "$pkg@$version" >"$log" 2>&1; then
    end=$(date +%s)
    mv -f "$gobin/$built" "$BIN/$final"
    echo "$version" >"$STAMPS/$tool"
    rm -f "$STAMPS/$tool.skipped"
    say "$tool $version installed as $BIN/$final in $((end - start)) s"
  else
    if grep -q "403 Forbidden" "$log"; then
      printf '%s\n%s\n' "$pkg@$version" "$(date -u +%Y-%m-%d)" >"$refused"
      skip "$tool" "the Go module proxy refuses $pkg@$version (403; see $log)"
      say "$(offer_hint "$tool"); the refusal is remembered: later runs do not ask again"
    else
      skip "$tool" "go install failed: $(log_tail "$log") (see $log)"
    fi
  fi
  rm -rf "$gobin"
}

install_deno() {
  local version="$DENO_NPM_VERSION"
  if installed deno "$version" deno; then
    say "deno $version already installed ($BIN/deno)"
    return 0
  fi
  if ! have_npm; then
    skip deno "npm is not installed (Deno comes from the npm package 'deno')"
    return 0
  fi
  local log="$LOGS/install-deno.log" start end target
  say "deno: npm install deno@$version"
  start=$(date +%s)
  mkdir -p "$TOOLS/deno"
  if timeout 600 "$NPM" install --no-audit --no-fund --prefix "$TOOLS/deno" "deno@$version" \
      >"$log" 2>&1; then
    target="$TOOLS/deno/node_modules/.bin/deno"
    if [ ! -e "$target" ]; then
      skip deno "npm installed the package but $target is missing (see $log)"
      return 0
    fi
    ln -sfn "../deno/node_modules/.bin/deno" "$BIN/deno"
    if ! "$BIN/deno" --version >>"$log" 2>&1; then
      skip deno "the installed deno does not run: $(log_tail "$log") (see $log)"
      return 0
    fi
    end=$(date +%s)
    echo "$version" >"$STAMPS/deno"
    rm -f "$STAMPS/deno.skipped"
    say "deno $version installed as $BIN/deno in $((end - start)) s"
  else
    skip deno "npm install failed: $(log_tail "$log") (see $log)"
  fi
}

wanted gotrue && go_install gotrue "$GOTRUE_MODULE" "$GOTRUE_VERSION" auth gotrue
wanted mailpit && go_install mailpit "$MAILPIT_MODULE" "$MAILPIT_VERSION" mailpit mailpit
wanted toxiproxy && go_install toxiproxy "$TOXIPROXY_MODULE/cmd/server" "$TOXIPROXY_VERSION" \
  server toxiproxy-server
wanted deno && install_deno
wanted actionlint && go_install actionlint "$ACTIONLINT_MODULE/cmd/actionlint" "$ACTIONLINT_VERSION" \
  actionlint actionlint
wanted versitygw && go_install versitygw "$VERSITYGW_MODULE/cmd/versitygw" "$VERSITYGW_VERSION" \
  versitygw versitygw

if [ "$SKIPPED" -gt 0 ]; then
  say "done, $SKIPPED skipped (tests needing them skip and name the missing service)"
  [ "$STRICT" -eq 1 ] && exit 1
else
  say "done"
fi
exit 0
