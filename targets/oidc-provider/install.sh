#!/bin/sh
# Installs the pinned packages of package-lock.json (oidc-provider, express-oauth2-jwt-bearer, express and
# every dependency) into node_modules/ beside this script with `npm ci`: Node's ES modules resolve packages
# beside the code only, so the install lives here (git ignores it), not in the vendor cache folder.
#
#   usage: install.sh               (start.sh calls it; .ci/run calls it before the vendor step)
#
# Idempotent: node_modules/.dpop-conformance-installed, written last, holds the SHA-256 of package.json and
# package-lock.json; while it matches, a call is a no-op (a changed lock file installs again). Safe when
# several run at once: one installs under a lock (flock, or a lock directory holding the owner's pid where
# there is no flock), the others wait for it and find the marker. Quiet unless it fails: then one line on
# stderr and exit 1 (npm's own output is kept in the log file that line names).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
MARKER=$HERE/node_modules/.dpop-conformance-installed
LOCK=$HERE/.install.lock
ME=install.sh

fail() {
  echo "$HERE/$ME: $*" >&2
  exit 1
}

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (Node.js 20.18 or newer with npm is needed)"
done
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)' ||
  fail "Node.js 20.18 or newer is needed, found $(node --version)"

# what the marker must hold: the pins (node rather than sha256sum/shasum, which differ between systems)
PINS=$(cd "$HERE" && node -e '
  const { createHash } = require("node:crypto");
  const { readFileSync } = require("node:fs");
  const hash = createHash("sha256");
  for (const file of ["package.json", "package-lock.json"]) hash.update(readFileSync(file));
  console.log(hash.digest("hex"));
') || fail "cannot read package.json and package-lock.json"

installed() { [ -f "$MARKER" ] && [ "$(cat "$MARKER" 2>/dev/null)" = "$PINS" ]; }
installed && exit 0

# the lock: flock where there is one (released by the kernel when its holder dies), else a lock directory
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK"
  flock -w 600 9 || fail "another install.sh has held $LOCK for 600 s"
  unlock() { :; }
else
  waited=0
  until mkdir "$LOCK.d" 2>/dev/null; do
    owner=$(cat "$LOCK.d/pid" 2>/dev/null || true)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then rm -rf "$LOCK.d"; continue; fi
    [ "$waited" -ge 1200 ] && fail "another install.sh has held $LOCK.d for 600 s; remove it if stale"
    sleep 0.5
    waited=$((waited + 1))
  done
  echo $$ >"$LOCK.d/pid"
  unlock() { rm -rf "$LOCK.d"; trap - EXIT; }
  trap unlock EXIT
  trap 'exit 1' HUP INT TERM
fi

# another install.sh may have finished while this one waited
if ! installed; then
  log=$(mktemp "${TMPDIR:-/tmp}/oidc-provider-npm-ci.XXXXXX") || fail "cannot create a log file"
  # --ignore-scripts: no package of the lock file has an install script (no hasInstallScript in it)
  if ! (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    last=$(grep -v '^[[:space:]]*$' "$log" | grep -i 'err' | head -n 3 | tr '\n' ' ' | cut -c 1-300)
    fail "npm ci failed${last:+: $last}(npm's output: $log)"
  fi
  rm -f "$log"
  printf '%s\n' "$PINS" >"$MARKER.tmp" && mv "$MARKER.tmp" "$MARKER" || fail "cannot write $MARKER"
fi
unlock
