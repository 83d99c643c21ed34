#!/bin/sh
# Stops the servers start.sh started: targets/lib/stop-servers.sh with the command lines that are this
# harness's own (TERM, then KILL after 5 s).
#
# env: DPOP_RUN_DIR  the run directory given to start.sh (default: ./run beside this script)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
exec sh "$HERE/../lib/stop-servers.sh" "${DPOP_RUN_DIR:-$HERE/run}" "*python*$HERE/as_server.py*" "*python*$HERE/rs_server.py*"
