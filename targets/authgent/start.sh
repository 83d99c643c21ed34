#!/bin/sh
# Starts authgent-server (AS, as_server.py) and a resource built on the authgent SDK (RS, rs_server.py) on
# 127.0.0.1 in the background, waits until both answer, then writes servers.pid and target.toml.
#
#   usage: start.sh CONFIGURATION
#     optional   authgent's defaults: DPoP optional at the token endpoint, no nonces
#     required   AUTHGENT_REQUIRE_DPOP=true: a proof on every token request, and a server nonce in it
#
# env: DPOP_CLIENT_SECRET  required: the confidential client's secret (target.toml reads it as well)
#      AS_PORT, RS_PORT     ports (default 4300, 4400)
#      DPOP_RUN_DIR         where servers.pid, the logs, the database and target.toml go (default: ./run here)
#      START_TIMEOUT        seconds to wait for both servers to answer (default 30)
#      WATCH_PID            optional: the servers exit when this process is gone
# Calls install.sh first (a no-op once installed). Stop with stop.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGURATION=${1:-}
case $CONFIGURATION in
  optional) REQUIRE_DPOP=false ;;
  required) REQUIRE_DPOP=true ;;
  *) echo "usage: $0 optional|required" >&2; exit 2 ;;
esac
: "${DPOP_CLIENT_SECRET:?set DPOP_CLIENT_SECRET first, e.g. export DPOP_CLIENT_SECRET=\$(openssl rand -hex 16)}"
AS_PORT=${AS_PORT:-4300}
RS_PORT=${RS_PORT:-4400}
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
START_TIMEOUT=${START_TIMEOUT:-30}
PID_FILE=$RUN_DIR/servers.pid

"$HERE/install.sh"
# shellcheck source-path=SCRIPTDIR source=venv-path.sh
. "$HERE/venv-path.sh"
PYTHON=$VENV/bin/python

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
if [ -f "$PID_FILE" ]; then
  while read -r pid; do
    if running "$pid"; then
      echo "$0: already running (pid $pid, $PID_FILE); run stop.sh first" >&2
      exit 1
    fi
  done <"$PID_FILE"
fi

rm -f "$RUN_DIR/target.toml" "$RUN_DIR"/*.listening  # written again once both servers listen and answer
# the servers run in the run folder, so authgent's Settings never read a .env of the caller's folder;
# no bytecode is written beside the glue, in the checkout
cd "$RUN_DIR"
export AS_PORT RS_PORT DPOP_RUN_DIR="$RUN_DIR" PYTHONDONTWRITEBYTECODE=1
AUTHGENT_REQUIRE_DPOP=$REQUIRE_DPOP nohup "$PYTHON" "$HERE/as_server.py" >"$RUN_DIR/as.log" 2>&1 </dev/null &
AS_PID=$!
nohup "$PYTHON" "$HERE/rs_server.py" >"$RUN_DIR/rs.log" 2>&1 </dev/null &
RS_PID=$!
printf '%s\n%s\n' "$AS_PID" "$RS_PID" >"$PID_FILE"

ISSUER=http://127.0.0.1:$AS_PORT
RESOURCE=http://127.0.0.1:$RS_PORT/resource
if ! "$PYTHON" "$HERE/common.py" ready "$START_TIMEOUT" "$AS_PID=$ISSUER/ready" "$RS_PID=$RESOURCE"; then
  echo "$0: the servers did not come up; their logs:" >&2
  for log in as rs; do echo "--- $RUN_DIR/$log.log" >&2; cat "$RUN_DIR/$log.log" >&2; done
  "$HERE/stop.sh" >/dev/null 2>&1 || true
  exit 1
fi

version() { "$PYTHON" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$1"; }
TARGET=$RUN_DIR/target.toml
cat >"$TARGET" <<TOML
# Written by targets/authgent/start.sh: authgent-server $(version authgent-server) (AS) and a resource on the
# authgent SDK $(version authgent) (RS) on loopback; configuration $CONFIGURATION (AUTHGENT_REQUIRE_DPOP=$REQUIRE_DPOP).
name = "authgent-$CONFIGURATION"
timeout = 10
dpop_alg = "ES256"

[authorization_server]
# discovery finds the token, introspection and authorization endpoints
issuer = "$ISSUER"

[resource_server]
url = "$RESOURCE"

[client]
id = "conformance-client"
secret = "\${DPOP_CLIENT_SECRET}"
auth_method = "client_secret_basic"
grant_type = "client_credentials"
scope = "read"

[public_client]
id = "conformance-spa"
redirect_uri = "http://127.0.0.1:8765/callback"
login = "auto"
scope = "read"
TOML

cat <<EOF
authgent-server (AS) on $ISSUER and the authgent SDK (RS) on $RESOURCE, configuration $CONFIGURATION
pids $AS_PID $RS_PID in $PID_FILE, logs in $RUN_DIR/
run the suite (with the same DPOP_CLIENT_SECRET exported):
  dpop-conformance run --config $TARGET
stop: DPOP_RUN_DIR=$RUN_DIR $HERE/stop.sh
EOF
