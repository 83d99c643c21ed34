#!/bin/sh
# Starts the harness on 127.0.0.1 in the background: the harness's own authorization server (as_server.py,
# tokens only) and the resource (rs_server.py: GET /resource behind axa-fr-oidc's OidcValidator).
#
#   usage: start.sh [required|optional]
#          required (default): only the DPoP scheme is read; every request is validated with its proof
#          optional: the Bearer scheme is read too, and validated by the library without a proof
#
# env: DPOP_CLIENT_SECRET  required: the confidential client's secret (target.toml reads it too)
#      AS_PORT, RS_PORT     ports (default 4300, 4400)
#      DPOP_RUN_DIR         where servers.pid, the logs and target.toml go (default: ./run beside this script)
#      START_TIMEOUT        seconds to wait for both servers to answer (default 30)
#      WATCH_PID            optional: the servers exit when this process is gone (used by the tests)
# Calls install.sh first (a no-op once installed). Stop with stop.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIGURATION=${1:-required}
case $CONFIGURATION in
  required | optional) ;;
  *) echo "usage: $0 [required|optional]" >&2; exit 2 ;;
esac
: "${DPOP_CLIENT_SECRET:?set DPOP_CLIENT_SECRET first, e.g. export DPOP_CLIENT_SECRET=\$(openssl rand -hex 16)}"
AS_PORT=${AS_PORT:-4300}
RS_PORT=${RS_PORT:-4400}
RUN_DIR=${DPOP_RUN_DIR:-$HERE/run}
START_TIMEOUT=${START_TIMEOUT:-30}
PID_FILE=$RUN_DIR/servers.pid
# the servers' own requests (the resource's discovery and JWKS fetches, ready.py) stay on loopback, and the
# checkout gets no __pycache__
NO_PROXY=127.0.0.1${NO_PROXY:+,$NO_PROXY}
no_proxy=$NO_PROXY
PYTHONDONTWRITEBYTECODE=1
export AS_PORT RS_PORT NO_PROXY no_proxy PYTHONDONTWRITEBYTECODE

"$HERE/install.sh"
PYTHON=$("$HERE/install.sh" --dir)/venv/bin/python

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
    if running "$pid"; then
      echo "$0: already running (pid $pid, $PID_FILE); run stop.sh first" >&2
      exit 1
    fi
  done <"$PID_FILE"
fi

rm -f "$RUN_DIR/target.toml" # written again only once both servers answer
cd "$HERE"
nohup "$PYTHON" "$HERE/as_server.py" >"$RUN_DIR/as.log" 2>&1 </dev/null &
AS_PID=$!
AXA_DPOP=$CONFIGURATION nohup "$PYTHON" "$HERE/rs_server.py" >"$RUN_DIR/rs.log" 2>&1 </dev/null &
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

VERSION=$("$PYTHON" -c 'from importlib.metadata import version; print(version("axa-fr-oidc"))')
TARGET=$RUN_DIR/target.toml
cat >"$TARGET" <<TOML
# Written by targets/axa-fr-oidc/start.sh: axa-fr-oidc $VERSION (OidcValidator.validate_token) in front of
# GET /resource, DPoP $CONFIGURATION; the tokens come from the harness's own authorization server (not judged:
# run with --actor RS).
name = "axa-fr-oidc-$CONFIGURATION"
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
axa-fr-oidc $VERSION (RS, DPoP $CONFIGURATION) on $RESOURCE, tokens from $ISSUER
pids $AS_PID $RS_PID in $PID_FILE, logs in $RUN_DIR/
run the suite (with the same DPOP_CLIENT_SECRET exported):
  dpop-conformance run --config $TARGET --actor RS
stop: DPOP_RUN_DIR=$RUN_DIR $HERE/stop.sh
EOF
