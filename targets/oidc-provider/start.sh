#!/bin/sh
# Starts the vendor stack on 127.0.0.1 in the background: oidc-provider (AS) and express-oauth2-jwt-bearer (RS).
#
#   usage: start.sh [off|on]        off (default): no DPoP nonces; on: the AS demands nonces (§8)
#
# env: DPOP_CLIENT_SECRET  required: the confidential client's secret (the target file reads it too)
#      AS_PORT, RS_PORT     ports (default 4100, 4200)
#      DPOP_RUN_DIR         where the PID file, the logs and target.toml go (default: ./run beside this script)
#      START_TIMEOUT        seconds to wait for both servers to answer (default 30)
#      WATCH_PID            optional: the servers exit when this process is gone (used by the tests)
# Calls install.sh first (npm ci from package-lock.json on first use, a no-op afterwards). Stop with stop.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${1:-off}
case $MODE in
  on) NONCE=1 ;;
  off) NONCE=0 ;;
  *) echo "usage: $0 [off|on]" >&2; exit 2 ;;
esac
: "${DPOP_CLIENT_SECRET:?set DPOP_CLIENT_SECRET first, e.g. export DPOP_CLIENT_SECRET=\$(openssl rand -hex 16)}"
AS_PORT=${AS_PORT:-4100}
RS_PORT=${RS_PORT:-4200}
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
START_TIMEOUT=${START_TIMEOUT:-30}
PID_FILE=$RUN_DIR/servers.pid
export AS_PORT RS_PORT

# npm ci from the lock file on first use (a no-op once installed; safe beside another start.sh)
"$HERE/install.sh" || exit 1

# running: the process exists and has not ended (an ended one may wait a while to be reaped: a zombie)
running() {
  case $(ps -o stat= -p "$1" 2>/dev/null) in
    '' | Z*) return 1 ;;
    *) return 0 ;;
  esac
}
mkdir -p "$RUN_DIR"
if [ -f "$PID_FILE" ]; then
  for pid in $(cat "$PID_FILE"); do
    if running "$pid"; then
      echo "$0: already running (pid $pid, $PID_FILE); run stop.sh first" >&2
      exit 1
    fi
  done
fi

rm -f "$RUN_DIR/target.toml"  # written again only once both servers answer
cd "$HERE"
DPOP_NONCE=$NONCE nohup node as.js >"$RUN_DIR/as.log" 2>&1 </dev/null &
AS_PID=$!
nohup node rs.js >"$RUN_DIR/rs.log" 2>&1 </dev/null &
RS_PID=$!
printf '%s\n%s\n' "$AS_PID" "$RS_PID" > "$PID_FILE"

ISSUER=http://127.0.0.1:$AS_PORT
RESOURCE=http://127.0.0.1:$RS_PORT/resource
if ! node ready.js "$START_TIMEOUT" "$AS_PID=$ISSUER/.well-known/openid-configuration" "$RS_PID=$RESOURCE"; then
  echo "$0: the servers did not come up; their logs:" >&2
  for log in as rs; do echo "--- $RUN_DIR/$log.log" >&2; cat "$RUN_DIR/$log.log" >&2; done
  "$HERE/stop.sh" >/dev/null 2>&1 || true
  exit 1
fi

version() { node -p "require('./node_modules/$1/package.json').version"; }
TARGET=$RUN_DIR/target.toml
cat > "$TARGET" <<TOML
# Written by targets/oidc-provider/start.sh: oidc-provider $(version oidc-provider) (AS) and
# express-oauth2-jwt-bearer $(version express-oauth2-jwt-bearer) (RS) on loopback, DPoP nonces $MODE.
name = "oidc-provider-$MODE"
timeout = 10
dpop_alg = "ES256"

[authorization_server]
# discovery finds the token, introspection, PAR and authorization endpoints
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
oidc-provider (AS) on $ISSUER and express-oauth2-jwt-bearer (RS) on $RESOURCE, DPoP nonces $MODE
pids $AS_PID $RS_PID in $PID_FILE, logs in $RUN_DIR/
run the suite (with the same DPOP_CLIENT_SECRET exported):
  dpop-conformance run --config $TARGET
stop: $HERE/stop.sh
EOF
