# Sourced by install.sh and start.sh (POSIX sh): sets VENV, the harness's own environment outside the checkout,
#   ${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/pydpop-<hash of the pins>
# where the hash is the first 16 hex digits of the SHA-256 of requirements.txt: new pins, a new environment.
# Needs HERE (this folder) and python3 on PATH.
PINS_HASH=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16])' \
  "$HERE/requirements.txt") || { echo "$HERE: cannot read requirements.txt" >&2; exit 1; }
# shellcheck disable=SC2034 # VENV is read by the scripts that source this file
VENV=${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/pydpop-$PINS_HASH
