#!/bin/sh
# Installs the pinned packages of requirements.txt (masks-client 0.3.3, uvicorn and every dependency) into the
# harness's own venv, outside the checkout, made with the python3 on PATH:
#
#   ${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/masks-client-<hash of the pins>/
#
#   usage: install.sh            install; a no-op once installed (the marker .installed is written last)
#          install.sh --where    print that folder and install nothing (start.sh runs the glue with its python)
#
# Safe when several run at once (a lock directory holding its owner's pid; a stale one is taken over), quiet
# unless it fails: then one line naming the log, and exit status 1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
NAME=masks-client

fail() {
  echo "$0: $*" >&2
  exit 1
}

# the hash of the pins names the folder: a new requirements.txt gets a new environment, never a mixed one
if command -v sha256sum >/dev/null 2>&1; then
  PINS=$(sha256sum <"$HERE/requirements.txt" | cut -c1-16)
else
  PINS=$(shasum -a 256 <"$HERE/requirements.txt" | cut -c1-16)
fi
CACHE=${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}
ENV_DIR=$CACHE/$NAME-$PINS
MARKER=$ENV_DIR/.installed
LOG=$CACHE/$NAME-$PINS.log

case ${1:-} in
  --where) echo "$ENV_DIR"; exit 0 ;;
  '') ;;
  *) echo "usage: $0 [--where]" >&2; exit 2 ;;
esac
[ -f "$MARKER" ] && exit 0

command -v python3 >/dev/null 2>&1 || fail "python3 is not on PATH (Python 3.10 or newer is needed)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  fail "masks-client needs Python 3.10 or newer, found $(python3 --version 2>&1)"
mkdir -p "$CACHE" || fail "cannot create $CACHE"

LOCK=$ENV_DIR.lock
waited=0
until mkdir "$LOCK" 2>/dev/null; do
  owner=$(cat "$LOCK/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    rm -rf "$LOCK"  # its owner died without cleaning up
    continue
  fi
  [ "$waited" -ge 1200 ] && fail "another install has held $LOCK for 600 s; remove it if stale"
  sleep 0.5
  waited=$((waited + 1))
done
echo $$ >"$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT
trap 'exit 1' INT TERM

if [ ! -f "$MARKER" ]; then  # another install may have finished while this one waited for the lock
  rm -rf "$ENV_DIR"  # what a failed or interrupted install left: never installed over
  {
    python3 -m venv "$ENV_DIR" &&
      "$ENV_DIR/bin/python" -m pip install --no-input --disable-pip-version-check --require-virtualenv \
        -r "$HERE/requirements.txt"
  } >"$LOG" 2>&1 || fail "installing the pinned packages into $ENV_DIR failed; see $LOG"
  cp "$HERE/requirements.txt" "$ENV_DIR/requirements.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
fi
