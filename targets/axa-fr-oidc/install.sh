#!/bin/sh
# Installs the pinned packages of requirements.txt (axa-fr-oidc 2.2.0 and its dependencies) into a venv of
# their own, outside the checkout:
#   ${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/axa-fr-oidc-<pins hash>/venv
# made with the python3 on PATH. Idempotent (a marker written last: a second call is a no-op), safe when two
# run at once (a lock directory holding its owner's pid), quiet unless it fails (one line, exit 1).
#
#   usage: install.sh          install (a no-op once installed)
#          install.sh --dir    print the environment's folder (install nothing)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REQUIREMENTS=$HERE/requirements.txt

pins_hash() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$REQUIREMENTS" | cut -c1-16
  else
    shasum -a 256 "$REQUIREMENTS" | cut -c1-16
  fi
}
CACHE=${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}
DIR=$CACHE/axa-fr-oidc-$(pins_hash)
if [ "${1:-}" = "--dir" ]; then
  echo "$DIR"
  exit 0
fi
MARKER=$DIR/.installed
[ -f "$MARKER" ] && exit 0

fail() {
  echo "$0: $1" >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || fail "python3 is not on PATH"
mkdir -p "$CACHE" || fail "cannot create $CACHE"

# one installer at a time: a lock directory holding the owner's pid (a stale one, whose owner is gone, is taken)
LOCK=$DIR.lock
waited=0
until mkdir "$LOCK" 2>/dev/null; do
  owner=$(cat "$LOCK/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    rm -rf "$LOCK"
    continue
  fi
  [ "$waited" -ge 1200 ] && fail "another install has held $LOCK for 600 s; remove it if stale"
  sleep 0.5
  waited=$((waited + 1))
done
echo $$ >"$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT
trap 'exit 1' INT TERM

if [ ! -f "$MARKER" ]; then
  # a folder without the marker is a failed or interrupted install: start again from nothing
  rm -rf "$DIR"
  mkdir -p "$DIR"
  LOG=$DIR/install.log
  {
    python3 -m venv "$DIR/venv" &&
      "$DIR/venv/bin/python" -m pip install --disable-pip-version-check --no-input --no-deps \
        -r "$REQUIREMENTS" &&
      "$DIR/venv/bin/python" -m pip check --disable-pip-version-check
  } >"$LOG" 2>&1 || fail "installing requirements.txt into $DIR/venv failed (see $LOG)"
  cp "$REQUIREMENTS" "$DIR/requirements.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
fi
