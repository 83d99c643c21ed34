#!/bin/sh
# Stops the servers start.sh started, by the pids in its PID file: TERM, then KILL after 5 s.
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

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
# ours: python running this folder's as_server.py or rs_server.py (a pid from an old PID file may name
# another process by now)
ours() {
  case $(ps -ww -o args= -p "$1" 2>/dev/null) in
    *python*"$HERE/as_server.py"* | *python*"$HERE/rs_server.py"*) return 0 ;;
    *) return 1 ;;
  esac
}

STOPPED=""
while read -r pid; do
  if running "$pid" && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null && STOPPED="$STOPPED $pid"
  fi
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
