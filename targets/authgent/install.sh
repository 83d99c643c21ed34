#!/bin/sh
# Installs the pinned authgent-server and authgent (requirements.txt, every dependency pinned) into a venv of
# their own, outside the checkout (see venv-path.sh), made with the python3 on PATH.
#
# Idempotent: the marker .installed is written last, and a second call with it present does nothing.
# Safe when two run at once: a lock directory holding the owner's pid (a dead owner's lock is taken over).
# Quiet unless it fails: then one line naming pip's log, exit 1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "$0: python3 is not on PATH (3.11 or newer is needed)" >&2; exit 1; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  { echo "$0: authgent-server needs Python 3.11 or newer, found $(python3 --version 2>&1)" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=venv-path.sh
. "$HERE/venv-path.sh"
MARKER=$VENV/.installed
[ -f "$MARKER" ] && exit 0

mkdir -p "$(dirname "$VENV")"
LOCK=$VENV.lock
waited=0
until mkdir "$LOCK" 2>/dev/null; do
  owner=$(cat "$LOCK/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then rm -rf "$LOCK"; continue; fi
  [ "$waited" -ge 1200 ] && { echo "$0: another install has held $LOCK for 600 s; remove it if stale" >&2; exit 1; }
  sleep 0.5
  waited=$((waited + 1))
done
echo $$ >"$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT
trap 'exit 1' INT TERM

if [ ! -f "$MARKER" ]; then  # another install may have finished while this one waited for the lock
  rm -rf "$VENV"
  LOG=$(dirname "$VENV")/authgent-$PINS_HASH.pip.log
  if ! { python3 -m venv "$VENV" &&
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$HERE/requirements.txt"; } >"$LOG" 2>&1; then
    rm -rf "$VENV"
    echo "$0: installing requirements.txt into $VENV failed; see $LOG" >&2
    exit 1
  fi
  rm -f "$LOG"
  date >"$MARKER"
fi
