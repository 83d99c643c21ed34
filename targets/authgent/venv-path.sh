# shellcheck shell=sh disable=SC2034  # VENV and PINS_HASH are for the scripts that source this file
# Sourced by install.sh and start.sh (POSIX sh): sets VENV, the harness's own environment, outside the checkout:
# ${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/authgent-<hash of the pins>
# (a new requirements.txt is a new folder, so an upgrade never runs against the old install). Needs HERE.
PINS_HASH=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16])' \
  "$HERE/requirements.txt")
VENV=${DPOP_VENDOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpop-conformance/vendors}/authgent-$PINS_HASH
