#!/bin/sh
# Stops the servers a harness's start.sh started, by the pids of its PID file: TERM, then KILL after 5 s, and
# only processes whose command line matches one of the harness's patterns (a pid from an old PID file may name
# another process by now). Each harness's stop.sh calls it with its own patterns.
#
# usage: stop-servers.sh RUN_DIR PATTERN...   (a PATTERN is a shell pattern for the server's command line)
set -u
RUN_DIR=$1
shift
PID_FILE=$RUN_DIR/servers.pid
if [ ! -f "$PID_FILE" ]; then
  echo "not running (no $PID_FILE)"
  exit 0
fi

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
# ours PID PATTERN...: the command line matches a pattern (ps -ww: ps cuts it to $COLUMNS, which pytest sets)
ours() {
  args=$(ps -ww -o args= -p "$1" 2>/dev/null)
  shift
  for pattern in "$@"; do
    # shellcheck disable=SC2254 # the pattern is meant to match as a pattern
    case $args in $pattern) return 0 ;; esac
  done
  return 1
}

STOPPED=""
while read -r pid; do
  if [ -n "$pid" ] && running "$pid" && ours "$pid" "$@"; then
    kill -TERM "$pid" 2>/dev/null && STOPPED="$STOPPED $pid"
  fi
  rm -f "$RUN_DIR/$pid.listening" # the mark a server leaves once it listens (authgent's common.py)
done <"$PID_FILE"
waited=0
for pid in $STOPPED; do
  while running "$pid" && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
done
rm -f "$PID_FILE"
echo "stopped${STOPPED:- (nothing was running)}"
