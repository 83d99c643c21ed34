#!/bin/sh
# The client command of this harness (harness.toml): installs requests-oauth2client if it is not yet (install.sh,
# a no-op once installed), then runs client.py with the venv's Python. The environment is the contract of
# targets/clients/README.md (DPOP_ISSUER, DPOP_TOKEN_ENDPOINT, DPOP_RESOURCE_URL, DPOP_CLIENT_ID, ...).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
sh "$HERE/install.sh"
# shellcheck source=venv.sh
. "$HERE/venv.sh"
exec "$VENV/bin/python" "$HERE/client.py"
