#!/bin/sh
# Stops the servers start.sh started (by the pids in its PID file): TERM, then KILL after 5 s.
#
# env: DPOP_RUN_DIR  the run directory given to start.sh (default: ./run beside this script)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
PID_FILE=$RUN_DIR/servers.pid
if [ ! -f "$PID_FILE" ]; then
  echo "not running (no $PID_FILE)"
  exit 0
fi

# only our own servers: a pid from the file whose process is node running as.js or rs.js
ours() {
  case $(ps -o args= -p "$1" 2>/dev/null) in
    *node*as.js* | *node*rs.js*) return 0 ;;
    *) return 1 ;;
  esac
}

PIDS=""
for pid in $(cat "$PID_FILE"); do
  if ours "$pid"; then kill -TERM "$pid" 2>/dev/null && PIDS="$PIDS $pid"; fi
done
tries=0
for pid in $PIDS; do
  while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
done
rm -f "$PID_FILE"
echo "stopped${PIDS:- (nothing was running)}"
