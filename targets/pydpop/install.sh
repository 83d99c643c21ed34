#!/bin/sh
# Installs pydpop 0.2.1 with Starlette and uvicorn (requirements.txt: every package pinned) into a venv of its
# own outside the checkout (venv.sh says where), made with the python3 on PATH.
#
#   usage: install.sh               (start.sh calls it; .ci/run calls it before the vendor step)
#
# Idempotent: the marker .installed, written last, makes a second call a no-op. Safe when several run at once:
# one installs under a lock directory holding its pid (a dead owner's lock is taken over), the others wait and
# then find the marker. Quiet unless it fails: then one line on stderr naming pip's log, and exit 1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ME=$HERE/install.sh

fail() {
  echo "$ME: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || fail "python3 is not on PATH (Python 3.11 or newer is needed)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  fail "the pins (starlette, uvicorn) need Python 3.11 or newer, found $(python3 --version 2>&1)"
# shellcheck source=venv.sh
. "$HERE/venv.sh"
MARKER=$VENV/.installed
[ -f "$MARKER" ] && exit 0

mkdir -p "$(dirname "$VENV")" || fail "cannot create $(dirname "$VENV")"
LOCK=$VENV.lock
waited=0
until mkdir "$LOCK" 2>/dev/null; do
  owner=$(cat "$LOCK/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    rm -rf "$LOCK"
    continue
  fi
  [ "$waited" -ge 1200 ] && fail "another install.sh has held $LOCK for 600 s; remove it if stale"
  sleep 0.5
  waited=$((waited + 1))
done
echo $$ >"$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT
trap 'exit 1' HUP INT TERM

if [ ! -f "$MARKER" ]; then # another install.sh may have finished while this one waited for the lock
  rm -rf "$VENV"
  LOG=$VENV.pip.log
  if ! { python3 -m venv "$VENV" &&
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$HERE/requirements.txt"; } >"$LOG" 2>&1; then
    rm -rf "$VENV"
    fail "installing requirements.txt into $VENV failed; pip's output: $LOG"
  fi
  rm -f "$LOG"
  if ! { date >"$MARKER.tmp" && mv "$MARKER.tmp" "$MARKER"; }; then fail "cannot write $MARKER"; fi
fi
