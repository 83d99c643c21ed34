#!/usr/bin/env bash
# The Action's steps on this machine, from a wheel in a fresh venv:
#   1. build the wheel of this checkout (pip wheel: the release's build, hatchling from PyPI),
#   2. install it into a new venv in a temp folder (its dependencies from PyPI; nothing of the checkout),
#   3. run action/run.sh as the Action's run step does (DPOP_DEFER_EXIT=1, GITHUB_OUTPUT and
#      GITHUB_STEP_SUMMARY pointing at temp files) against the embedded reference server, and gate on the
#      exit-code output as the Action's last step does: it must pass;
#   4. again with a defect switched on and the first run as the baseline: the gate must fail (exit code 1,
#      new failures counted).
# Prints both runs' outputs and summaries. Exit status 0 when everything came out as it should.
#   action/demo.sh            (PYTHON=python3.12 action/demo.sh picks the venv's Python;
#                              DPOP_DEMO_KEEP=1 keeps the temp folder and prints where it is)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dpop-conformance-demo.XXXXXX")"
if [ "${DPOP_DEMO_KEEP:-}" = 1 ]; then
  trap 'echo "demo: left in $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
step() { printf '\n== %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

step "build the wheel of $root"
"$python" -m pip wheel --disable-pip-version-check --quiet --no-deps --wheel-dir "$work/dist" "$root"
wheels=("$work"/dist/dpop_conformance-*-py3-none-any.whl)
[ -f "${wheels[0]}" ] || fail "no wheel in $work/dist"
echo "${wheels[0]##*/}"

step "a fresh venv with the wheel (dependencies from PyPI)"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check --quiet "${wheels[0]}"
"$work/venv/bin/dpop-conformance" --version
location="$(cd "$work" && "$work/venv/bin/python" -c 'import conformance; print(conformance.__file__)')"
case "$location" in "$work/venv/"*) echo "conformance from $location" ;; *) fail "conformance came from $location" ;; esac

# what the Action does: the run step never stops the job, the last step exits with the exit-code output
action_run() {  # NAME, then VAR=VALUE settings for run.sh
  local name="$1"
  shift
  : >"$work/$name.output"
  : >"$work/$name.summary.md"
  (cd "$work" && env GITHUB_OUTPUT="$work/$name.output" GITHUB_STEP_SUMMARY="$work/$name.summary.md" \
    DPOP_BIN="$work/venv/bin/dpop-conformance" DPOP_CONFIG=embedded DPOP_REPORT_DIR="reports/$name" DPOP_DEFER_EXIT=1 \
    DPOP_ARTIFACT="dpop-conformance-$name" "$@" bash "$root/action/run.sh") || fail "run.sh itself failed ($name)"
  step "$name: \$GITHUB_OUTPUT"
  cat "$work/$name.output"
  step "$name: \$GITHUB_STEP_SUMMARY"
  cat "$work/$name.summary.md"
}
output() { sed -n "s/^$2=//p" "$work/$1.output"; }

step "action/run.sh against the embedded reference server"
action_run reference DPOP_FUZZ_PROFILE=ci
[ "$(output reference exit-code)" = 0 ] || fail "the reference server did not pass (exit code $(output reference exit-code))"
[ "$(output reference verdict)" = passed ] || fail "verdict $(output reference verdict)"

step "action/run.sh against the reference server without its ath check, the first run as the baseline"
action_run defect DPOP_BASELINE="$work/reports/reference/results.json" DPOP_ARGS="--reference-defect ath"
[ "$(output defect exit-code)" = 1 ] || fail "the gate did not fail (exit code $(output defect exit-code))"
[ "$(output defect new-failures)" -gt 0 ] || fail "no new failures counted"

step "the Action's last step: exit with the exit-code output"
for name in reference defect; do
  code="$(output "$name" exit-code)"
  echo "$name: exit status $code ($(output "$name" verdict)); the job $([ "$code" = 0 ] && echo passes || echo fails)"
done
echo "demo: OK"
