#!/usr/bin/env bash
# The Action's run step, and the same on a terminal: `dpop-conformance check`, then `run`, then the
# outputs and the Markdown summary, both read from the run's results.json.
#
# Settings, from the environment (every one optional):
#   DPOP_CONFIG            the target file (TOML), required; "embedded": the embedded reference server (a
#                          self-test of the suite, which tests nothing of yours). Empty is an error: a
#                          forgotten setting must not pass a gate by testing the suite's own server
#   DPOP_REPORT_DIR        the report folder (default: reports/dpop-conformance)
#   DPOP_BASELINE          an earlier results.json: only failures new against it fail the gate
#   DPOP_BASELINE_MISSING  error (the suite's default: a missing baseline file is exit 2) or ok (a first
#                          run: every failure counts as new, nothing is written)
#   DPOP_FAIL_ON           must (default) or should
#   DPOP_PROFILES          profiles besides rfc9449, separated by commas or spaces: fapi2, browser
#   DPOP_FUZZ_PROFILE      quick (the suite's default), ci or thorough
#   DPOP_ARGS              more arguments for `run`, split into words as a shell would (quotes work) but
#                          never expanded or executed; `-- ARGS` at the end go to pytest
#   DPOP_BIN               the dpop-conformance command (default: the one on PATH)
#   DPOP_PYTHON            the Python that reads results.json (default: the one beside DPOP_BIN, else python3)
#   DPOP_ARTIFACT          the name of the artifact the report folder is uploaded as (named in the summary)
#   DPOP_DEFER_EXIT        1: exit 0 after a run that failed the gate, leaving its status to the exit-code
#                          output (the Action's last step exits with it, after the upload)
# Secrets are not settings: the target file reads them from the environment ("${DPOP_CLIENT_SECRET}").
#
# Outputs (name=value lines: verdict, exit-code, passed, failed, warning, info, skipped, error,
# new-failures, results) are appended to $GITHUB_OUTPUT, the summary to $GITHUB_STEP_SUMMARY; where
# those are not set, both are printed. The summary is also left in the report folder as summary.md.
# Exit status: the run's (0 passed, 1 the gate failed, 2 a usage or target-file error, 3 not judged).
set -euo pipefail

say() { printf 'dpop-conformance action: %s\n' "$*"; }

config="${DPOP_CONFIG:-}"
embedded=false
[ "$config" = embedded ] && { embedded=true; config=""; }
report_dir="${DPOP_REPORT_DIR:-reports/dpop-conformance}"
fail_on="${DPOP_FAIL_ON:-must}"
bin="${DPOP_BIN:-dpop-conformance}"
if ! command -v "$bin" >/dev/null; then
  say "error: $bin: no such command (set DPOP_BIN to the dpop-conformance command)" >&2
  exit 2
fi
python="${DPOP_PYTHON:-}"
if [ -z "$python" ]; then
  python="$(dirname "$(command -v "$bin")")/python"
  [ -x "$python" ] || python=python3
fi

# DPOP_ARGS as words: shlex splits them (quotes work), nothing expands them, NUL separates them
code=0
extra=()
if [ -n "${DPOP_ARGS:-}" ]; then
  words="$(mktemp)"
  "$python" - "$DPOP_ARGS" >"$words" <<'PY' || code=2
import shlex
import sys

try:
    words = shlex.split(sys.argv[1])
except ValueError as exc:
    sys.exit(f"dpop-conformance action: error: args: {exc} (quote with ' or \", as in a shell)")
sys.stdout.write("".join(word + "\0" for word in words))
PY
  while IFS= read -r -d '' word; do extra+=("$word"); done <"$words"
  rm -f "$words"
fi
profiles=()
for profile in ${DPOP_PROFILES:+${DPOP_PROFILES//,/ }}; do profiles+=(--profile "$profile"); done

mkdir -p "$report_dir"
results="$report_dir/results.json"
summary="$report_dir/summary.md"
rm -f "$results" "$summary"  # nothing left from an earlier run in the same folder

# Between these markers GitHub obeys no workflow command: the suite prints what the target answered,
# and a line of it must not become an annotation, a mask or an output.
in_actions=false
[ "${GITHUB_ACTIONS:-}" = true ] && in_actions=true
token=""
if $in_actions; then
  token="dpop-$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
  echo "::stop-commands::$token"
fi

if [ "$code" = 0 ] && [ -z "$config" ] && ! $embedded; then
  say "error: config is empty: give the target file (TOML), or embedded for the embedded reference server (a self-test)" >&2
  code=2
fi
if [ "$code" != 0 ]; then
  :  # the settings were refused: nothing runs
elif [ -n "$config" ]; then
  "$bin" check --config "$config" ${profiles[@]+"${profiles[@]}"} || code=$?
else
  say "config is embedded: running against the embedded reference server, a self-test of the suite"
fi
run=("$bin" run --report-dir "$report_dir" --fail-on "$fail_on" ${profiles[@]+"${profiles[@]}"})
[ -z "$config" ] || run+=(--config "$config")
[ -z "${DPOP_BASELINE:-}" ] || run+=(--baseline "$DPOP_BASELINE")
[ -z "${DPOP_BASELINE_MISSING:-}" ] || run+=(--baseline-missing "$DPOP_BASELINE_MISSING")
[ -z "${DPOP_FUZZ_PROFILE:-}" ] || run+=(--fuzz-profile "$DPOP_FUZZ_PROFILE")
if [ "$code" = 0 ]; then
  "${run[@]}" ${extra[@]+"${extra[@]}"} || code=$?
fi

if $in_actions; then
  echo "::$token::"
  ! $embedded || echo "::notice title=dpop-conformance::config is embedded: the run tested the embedded reference server"
fi

# the outputs and the summary's footer, from results.json (absent when check or run stopped first)
outputs="$("$python" - "$results" "$code" "${DPOP_ARTIFACT:-}" <<'PY'
import json
import sys
from pathlib import Path

path, code, artifact = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
verdict = {0: "passed", 1: "failed", 2: "usage-error", 3: "not-judged"}.get(code, "error")
out = {"verdict": verdict, "exit-code": str(code)}
keys = ("passed", "failed", "warning", "info", "skipped", "error")


def count(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


try:
    results = json.loads(path.read_text(encoding="utf-8"))
except (OSError, ValueError):
    results = None
if isinstance(results, dict):
    summary = results.get("summary") if isinstance(results.get("summary"), dict) else {}
    out |= {k: count(summary.get(k, 0)) for k in keys}
    baseline = results.get("baseline")
    # without a baseline every failure gates, so every failure is a new one
    new = baseline.get("new", 0) if isinstance(baseline, dict) else summary.get("failed", 0)
    out |= {"new-failures": count(new), "results": str(path)}
else:
    out |= {k: "" for k in (*keys, "new-failures", "results")}
for name, value in out.items():
    print(f"{name}={' '.join(value.splitlines())}")
PY
)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  printf '%s\n' "$outputs" >>"$GITHUB_OUTPUT"
else
  say "outputs:"
  printf '%s\n' "$outputs"
fi

if [ -f "$results" ]; then
  "$bin" summary "$results" --fail-on "$fail_on" --output "$summary" || code=$((code ? code : 2))
else
  case "$code" in
    2) why="the target file or an argument was refused (exit status 2), so nothing was sent" ;;
    *) why="the run ended with status $code before any case was judged" ;;
  esac
  printf '### ❌ DPoP conformance: no results — %s\n\nThe step'"'"'s log says why.\n' "$why" >"$summary"
fi
if [ -n "${DPOP_ARTIFACT:-}" ]; then
  "$python" - "$DPOP_ARTIFACT" >>"$summary" <<'PY'
import re
import sys

name = re.sub(r"([\\`*_{}\[\]<>#|!~&])", r"\\\1", " ".join(sys.argv[1].split()))
print(f"\nThe report folder (report.html, junit.xml, results.json) is this run's artifact **{name}**.")
PY
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$summary" >>"$GITHUB_STEP_SUMMARY"
else
  say "summary ($summary):"
  cat "$summary"
fi

if [ "${DPOP_DEFER_EXIT:-}" = 1 ]; then
  say "exit status $code (left to the exit-code output)"
  exit 0
fi
exit "$code"
