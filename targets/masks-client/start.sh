#!/bin/sh
# Starts the harness on 127.0.0.1 in the background: as.py (the harness's own token issuer) and rs.py
# (masks-client 0.3.3's ASGI middleware in front of /resource, under uvicorn).
#
#   usage: start.sh [default|public-url]
#     default     AsyncVerifier with its defaults: htu is compared with the URL built from the Host header
#     public-url  AsyncVerifier(public_url=the resource's origin): htu is compared with that origin
#
# env: DPOP_CLIENT_SECRET  required: the confidential client's secret (the target file reads it too)
#      AS_PORT, RS_PORT     ports (default 43000, 44000: five digits, as the runner's free ports; see README.md, "Suite questions")
#      DPOP_RUN_DIR         where servers.pid, the logs and target.toml go (default: ./run beside this script)
#      START_TIMEOUT        seconds to wait for both servers to answer (default 30)
#      WATCH_PID            optional: the servers exit when this process is gone (used by the tests)
# Calls install.sh first (a no-op once the pinned packages are installed). Stop with stop.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGURATION=${1:-default}
case $CONFIGURATION in
  default | public-url) ;;
  *) echo "usage: $0 [default|public-url]" >&2; exit 2 ;;
esac
: "${DPOP_CLIENT_SECRET:?set DPOP_CLIENT_SECRET first, e.g. export DPOP_CLIENT_SECRET=\$(openssl rand -hex 16)}"
AS_PORT=${AS_PORT:-43000}
RS_PORT=${RS_PORT:-44000}
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
START_TIMEOUT=${START_TIMEOUT:-30}
PID_FILE=$RUN_DIR/servers.pid
export AS_PORT RS_PORT START_TIMEOUT

"$HERE/install.sh"
PYTHON=$("$HERE/install.sh" --where)/bin/python

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
mkdir -p "$RUN_DIR"
if [ -f "$PID_FILE" ]; then
  OLD_PIDS=$(cat "$PID_FILE")
  for pid in $OLD_PIDS; do
    if running "$pid"; then
      echo "$0: already running (pid $pid, $PID_FILE); run stop.sh first" >&2
      exit 1
    fi
  done
fi

rm -f "$RUN_DIR/target.toml"  # written again only once both servers answer
cd "$HERE"
# -u: unbuffered, so the logs are complete whenever they are read
nohup "$PYTHON" -u "$HERE/as.py" >"$RUN_DIR/as.log" 2>&1 </dev/null &
AS_PID=$!
MASKS_CONFIGURATION=$CONFIGURATION nohup "$PYTHON" -u "$HERE/rs.py" >"$RUN_DIR/rs.log" 2>&1 </dev/null &
RS_PID=$!
printf '%s\n%s\n' "$AS_PID" "$RS_PID" >"$PID_FILE"

ISSUER=http://127.0.0.1:$AS_PORT
RESOURCE=http://127.0.0.1:$RS_PORT/resource
if ! "$PYTHON" "$HERE/../lib/ready.py" "$START_TIMEOUT" "$AS_PID=$ISSUER/.well-known/openid-configuration" "$RS_PID=$RESOURCE"; then
  echo "$0: the servers did not come up; their logs:" >&2
  for log in as rs; do
    echo "--- $RUN_DIR/$log.log" >&2
    cat "$RUN_DIR/$log.log" >&2
  done
  DPOP_RUN_DIR=$RUN_DIR "$HERE/stop.sh" >/dev/null 2>&1 || true
  exit 1
fi

VERSION=$("$PYTHON" -c 'from importlib.metadata import version; print(version("masks-client"))')
TARGET=$RUN_DIR/target.toml
cat >"$TARGET" <<TOML
# Written by targets/masks-client/start.sh: masks-client $VERSION (RS: masks.asgi.Middleware, configuration
# $CONFIGURATION) behind the harness's own token issuer (as.py, not judged: run with --actor RS).
name = "masks-client-$CONFIGURATION"
timeout = 10
dpop_alg = "ES256"

[authorization_server]
# discovery finds the token endpoint
issuer = "$ISSUER"

[resource_server]
url = "$RESOURCE"

[client]
id = "conformance-client"
secret = "\${DPOP_CLIENT_SECRET}"
auth_method = "client_secret_basic"
grant_type = "client_credentials"
scope = "read"
TOML

cat <<EOF
masks-client $VERSION ($CONFIGURATION) on $RESOURCE, tokens from $ISSUER
pids $AS_PID $RS_PID in $PID_FILE, logs in $RUN_DIR/
run the suite (with the same DPOP_CLIENT_SECRET exported):
  dpop-conformance run --config $TARGET --actor RS
stop: DPOP_RUN_DIR=$RUN_DIR $HERE/stop.sh
EOF
