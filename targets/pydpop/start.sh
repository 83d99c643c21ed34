#!/bin/sh
# Starts pydpop 0.2.1 on 127.0.0.1 in the background: glue.py serves GET /resource behind pydpop's Starlette
# DPoPMiddleware (RS, what the runs judge: --actor RS) and the harness's own token endpoint minting the
# DPoP-bound tokens it accepts (AS, not judged), in one process.
#
#   usage: start.sh CONFIGURATION
#     required  DPoPMiddleware's defaults: DPoP required, its replay store (MemoryJtiStore), no nonces
#     nonces    as required, and a server nonce: DPoPMiddleware(expected_nonce=N, challenge_nonce=N)
#
# env: DPOP_CLIENT_SECRET  required: the confidential client's secret (the target file reads it too)
#      AS_PORT, RS_PORT     ports (default 4300, 4400)
#      DPOP_RUN_DIR         where servers.pid, servers.log and target.toml go (default: ./run beside this script)
#      START_TIMEOUT        seconds to wait for both servers to answer (default 30)
#      WATCH_PID            optional: the servers exit once this process is gone
# Calls install.sh first (a venv outside the checkout on first use, a no-op afterwards). Stop with stop.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGURATION=${1:-}
case $CONFIGURATION in
  required | nonces) ;;
  *)
    echo "usage: $0 required|nonces" >&2
    exit 2
    ;;
esac
: "${DPOP_CLIENT_SECRET:?set DPOP_CLIENT_SECRET first, e.g. export DPOP_CLIENT_SECRET=\$(openssl rand -hex 16)}"
AS_PORT=${AS_PORT:-4300}
RS_PORT=${RS_PORT:-4400}
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
START_TIMEOUT=${START_TIMEOUT:-30}
PID_FILE=$RUN_DIR/servers.pid
LOG=$RUN_DIR/servers.log
export AS_PORT RS_PORT DPOP_CLIENT_SECRET

# the pinned packages in their own venv (a no-op once installed; safe beside another start.sh)
sh "$HERE/install.sh" || exit 1
# shellcheck source=venv.sh
. "$HERE/venv.sh"
PYTHON=$VENV/bin/python

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
mkdir -p "$RUN_DIR"
if [ -f "$PID_FILE" ]; then
  while read -r pid; do
    if [ -n "$pid" ] && running "$pid"; then
      echo "$0: already running (pid $pid, $PID_FILE); run stop.sh first" >&2
      exit 1
    fi
  done <"$PID_FILE"
fi

rm -f "$RUN_DIR/target.toml" # written again only once both servers answer
cd "$HERE"
nohup "$PYTHON" glue.py "$CONFIGURATION" >"$LOG" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PID_FILE"

ISSUER=http://127.0.0.1:$AS_PORT
RESOURCE=http://127.0.0.1:$RS_PORT/resource
if ! "$PYTHON" "$HERE/../lib/ready.py" "$START_TIMEOUT" "$PID=$ISSUER/.well-known/oauth-authorization-server" "$PID=$RESOURCE"; then
  echo "$0: the servers did not come up; their log:" >&2
  echo "--- $LOG" >&2
  cat "$LOG" >&2
  sh "$HERE/stop.sh" >/dev/null 2>&1 || true
  exit 1
fi

VERSION=$("$PYTHON" -c 'from importlib.metadata import version; print(version("pydpop"))')
TARGET=$RUN_DIR/target.toml
cat >"$TARGET" <<TOML
# Written by targets/pydpop/start.sh: pydpop $VERSION on loopback, configuration $CONFIGURATION
# (glue.py: GET /resource behind the Starlette DPoPMiddleware, judged with --actor RS; a token endpoint of
# the harness's own, not judged, mints the DPoP-bound tokens).
name = "pydpop-$CONFIGURATION"
timeout = 10
dpop_alg = "ES256"

[authorization_server]
# discovery (RFC 8414) finds the token endpoint; there is no authorization, PAR or introspection endpoint
issuer = "$ISSUER"

[resource_server]
url = "$RESOURCE"

[client]
id = "conformance-client"
secret = "\${DPOP_CLIENT_SECRET}"
auth_method = "client_secret_basic"
grant_type = "client_credentials"
TOML

cat <<EOF
pydpop $VERSION ($CONFIGURATION): AS on $ISSUER, RS on $RESOURCE
pid $PID in $PID_FILE, log in $LOG
run the suite (with the same DPOP_CLIENT_SECRET exported):
  dpop-conformance run --config $TARGET --actor RS
stop: DPOP_RUN_DIR=$RUN_DIR $HERE/stop.sh
EOF
