#!/usr/bin/env bash
# The Action's steps on this machine, from a wheel in a fresh venv:
#   1. build the wheel of this checkout (pip wheel: the release's build, hatchling from PyPI),
#   2. install it into a new venv in a temp folder, its dependencies from PyPI at the versions of
#      constraints.txt (as the Action installs them; nothing of the checkout),
#   3. run action/run.sh as the Action's run step does (DPOP_DEFER_EXIT=1, GITHUB_OUTPUT and
#      GITHUB_STEP_SUMMARY pointing at temp files) against the embedded reference server, and gate on the
#      exit-code output as the Action's last step does: it must pass; it records a baseline;
#   4. again with a defect switched on, against that baseline: the gate must fail (exit code 1, new failures
#      counted);
#   5. a gate on SHOULD with a known warning, on a few cases (the same selection each time):
#      a. the reference server with a legal leniency (RSA keys under 2048 bits accepted: a SHOULD warning),
#         gated on MUST, recorded as the baseline;
#      b. the same, gated on SHOULD against that baseline: the known warning does not gate (exit code 0);
#      c. the same with a defect that breaks a MUST: the new failure gates (exit code 1), one annotation per
#         gating case (its cause and fix), the known warning neither gating nor annotated, new-failures
#         counting the gating cases.
# Prints every run's outputs and summary. Exit status 0 when everything came out as it should.
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

step "a fresh venv with the wheel (dependencies from PyPI, at the versions of constraints.txt)"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check --quiet -c "$root/constraints.txt" "${wheels[0]}"
"$work/venv/bin/dpop-conformance" --version
location="$(cd "$work" && "$work/venv/bin/python" -c 'import conformance; print(conformance.__file__)')"
case "$location" in "$work/venv/"*) echo "conformance from $location" ;; *) fail "conformance came from $location" ;; esac
hypothesis="$("$work/venv/bin/python" -c 'import hypothesis; print(hypothesis.__version__)')"
grep -qx "hypothesis==$hypothesis" "$root/constraints.txt" || fail "Hypothesis $hypothesis is not the one constraints.txt pins"
echo "Hypothesis $hypothesis, as constraints.txt pins it"

# what the Action does: the run step never stops the job, the last step exits with the exit-code output
action_run() {  # NAME, then VAR=VALUE settings for run.sh; its output is also left in $work/NAME.log
  local name="$1"
  shift
  : >"$work/$name.output"
  : >"$work/$name.summary.md"
  (cd "$work" && env GITHUB_OUTPUT="$work/$name.output" GITHUB_STEP_SUMMARY="$work/$name.summary.md" \
    DPOP_BIN="$work/venv/bin/dpop-conformance" DPOP_CONFIG=embedded DPOP_REPORT_DIR="reports/$name" DPOP_DEFER_EXIT=1 \
    DPOP_ARTIFACT="dpop-conformance-$name" "$@" bash "$root/action/run.sh") 2>&1 | tee "$work/$name.log" ||
    fail "run.sh itself failed ($name)"
  step "$name: \$GITHUB_OUTPUT"
  cat "$work/$name.output"
  step "$name: \$GITHUB_STEP_SUMMARY"
  cat "$work/$name.summary.md"
}
output() { sed -n "s/^$2=//p" "$work/$1.output"; }
annotations() { grep -c '^::error title=' "$work/$1.log" || true; }

step "action/run.sh against the embedded reference server, recorded as the baseline"
action_run reference DPOP_FUZZ_PROFILE=ci DPOP_ARGS="--write-baseline '$work/reference-baseline.json'"
[ "$(output reference exit-code)" = 0 ] || fail "the reference server did not pass (exit code $(output reference exit-code))"
[ "$(output reference verdict)" = passed ] || fail "verdict $(output reference verdict)"
[ -f "$work/reference-baseline.json" ] || fail "no baseline recorded"

step "action/run.sh against the reference server without its ath check, against that baseline"
action_run defect DPOP_BASELINE="$work/reference-baseline.json" DPOP_ARGS="--reference-defect ath"
[ "$(output defect exit-code)" = 1 ] || fail "the gate did not fail (exit code $(output defect exit-code))"
[ "$(output defect new-failures)" -gt 0 ] || fail "no new failures counted"

# the cases of the known warning (RSA keys under 2048 bits: a SHOULD at a server) and those the defect breaks
selection="--case '*-rsa-small-key' --case 'rs-proof-ath-*' --reference-leniency rsa-small-keys"

step "a: a leniency that gives a SHOULD warning, gated on MUST, recorded as the baseline"
action_run known DPOP_FAIL_ON=must DPOP_ARGS="$selection --write-baseline '$work/known-baseline.json'"
[ "$(output known exit-code)" = 0 ] || fail "the leniency failed the gate on MUST (exit code $(output known exit-code))"
[ "$(output known warning)" -gt 0 ] || fail "the leniency gave no warning"
[ -f "$work/known-baseline.json" ] || fail "no baseline recorded"

step "b: the same gated on SHOULD against that baseline: the known warning does not gate"
action_run accepted DPOP_FAIL_ON=should DPOP_BASELINE="$work/known-baseline.json" DPOP_ARGS="$selection"
[ "$(output accepted exit-code)" = 0 ] || fail "a known warning failed the gate (exit code $(output accepted exit-code))"
[ "$(output accepted warning)" = "$(output known warning)" ] || fail "the warnings changed"
[ "$(annotations accepted)" = 0 ] || fail "a passing gate annotated a case"

step "c: the same with the ath check broken: the new MUST failure gates, the known warning still does not"
action_run gated DPOP_FAIL_ON=should DPOP_BASELINE="$work/known-baseline.json" \
  DPOP_ARGS="$selection --reference-defect ath"
[ "$(output gated exit-code)" = 1 ] || fail "the new failure did not fail the gate (exit code $(output gated exit-code))"
[ "$(output gated verdict)" = failed ] || fail "verdict $(output gated verdict)"
gating="$(output gated new-failures)"
[ "$gating" -gt 0 ] || fail "no gating case counted"
[ "$(annotations gated)" = "$gating" ] || fail "$(annotations gated) annotations for $gating gating cases"
! grep -q '^::error title=[a-z-]*rsa-small-key::' "$work/gated.log" || fail "the known warning was annotated"
grep '^::error title=' "$work/gated.log" | grep -qv ' — fix: ' && fail "an annotation without its fix"

step "c: the annotations (one per gating case: its cause and fix)"
grep '^::error title=' "$work/gated.log"

step "the Action's last step: exit with the exit-code output"
for name in reference defect known accepted gated; do
  code="$(output "$name" exit-code)"
  echo "$name: exit status $code ($(output "$name" verdict)); the job $([ "$code" = 0 ] && echo passes || echo fails)"
done
echo "demo: OK"
