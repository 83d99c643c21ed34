#!/bin/sh
# The command client conformance runs (harness.toml): installs the pins if they are not yet (install.sh, a no-op
# once installed), then runs client.mjs with the contract's environment (DPOP_ISSUER, DPOP_CLIENT_ID, ...).
#
#   usage: sh targets/clients/oauth4webapi/run.sh      (from anywhere; the runner sets the environment)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
sh "$HERE/install.sh"
exec node "$HERE/client.mjs"
