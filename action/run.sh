#!/usr/bin/env bash
# The Action's run step, and the same on a terminal: `dpop-conformance check`, then `run`, then the
# outputs and the Markdown summary, both read from the run's results.json.
#
# Settings, from the environment (every one optional):
#   DPOP_CONFIG            the target file (TOML), required; "embedded": the embedded reference server (a
#                          self-test of the suite, which tests nothing of yours). Empty is an error: a
#                          forgotten setting must not pass a gate by testing the suite's own server
#   DPOP_REPORT_DIR        the report folder (default: reports/dpop-conformance)
#   DPOP_BASELINE          a baseline file (written by `run --write-baseline`): only failures new against it
#                          fail the gate (with DPOP_FAIL_ON=should, a warning it knows is accepted)
#   DPOP_BASELINE_MISSING  error (the suite's default: a missing baseline file is exit 2) or ok (a first
#                          run: every failure counts as new, nothing is written)
#   DPOP_FAIL_ON           must (default) or should
#   DPOP_PROFILES          profiles besides rfc9449, separated by commas or spaces: fapi2, browser
#   DPOP_FUZZ_PROFILE      quick (the suite's default), ci or thorough
#   DPOP_ARGS              more arguments for `run`, split into words as a shell would (quotes work) but
#                          never expanded or executed; `-- ARGS` at the end go to pytest
#   DPOP_BIN               the dpop-conformance command (default: the one on PATH)
#   DPOP_PYTHON            the Python the suite runs on, which reads results.json and the suite's verdict
#                          (default: the one beside DPOP_BIN, else the one its #! line names, else python3)
#   DPOP_ARTIFACT          the name of the artifact the report folder is uploaded as (named in the summary)
#   DPOP_DEFER_EXIT        1: exit 0 after a run that failed the gate, leaving its status to the exit-code
#                          output (the Action's last step exits with it, after the upload)
# Secrets are not settings: the target file reads them from the environment ("${DPOP_CLIENT_SECRET}").
#
# Outputs (name=value lines: verdict, exit-code, passed, failed, warning, info, skipped, error,
# new-failures, results) are appended to $GITHUB_OUTPUT, the summary to $GITHUB_STEP_SUMMARY; where
# those are not set, both are printed. The summary is also left in the report folder as summary.md. The
# verdict and new-failures are the run's own verdict (conformance.report.verdict.run_verdict of its
# results.json), the one the terminal, report.html and the summary show: never worked out again here.
# Annotations: one `::error title=<case id>::<cause> — fix: <fix>` line per case that turns the gate red
# (GitHub shows at most 10 error annotations of a step: 9 cases, then one line for the rest), printed after
# the ::stop-commands:: region, in the suite's own words, escaped as workflow commands must be. On a pull
# request from a fork whose target file reads an empty secret, a line says that GitHub passes no secrets
# to those (the job should skip forks: docs/ci.md).
# Exit status: the run's (0 passed, 1 the gate failed, 2 a usage or target-file error, 3 not judged).
set -euo pipefail

say() { printf 'dpop-conformance action: %s\n' "$*"; }

config="${DPOP_CONFIG:-}"
client_command="${DPOP_CLIENT_COMMAND:-}"  # client mode (issue 30): the suite plays the servers and judges it
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
  where="$(command -v "$bin")"
  python="$(dirname "$where")/python"
  if [ ! -x "$python" ]; then  # pipx and the like: the command's own interpreter, from its #! line
    python="$(sed -n '1s/^#![[:space:]]*//p' "$where" 2>/dev/null || true)"
    [ -n "$python" ] && [ -x "$python" ] || python=python3
  fi
fi
# the outputs and annotations come from the suite's own verdict: without it there is nothing to render
if ! "$python" -c "import conformance.report.verdict" 2>/dev/null; then
  say "error: $python cannot import the suite (set DPOP_PYTHON to the Python dpop-conformance runs on)" >&2
  exit 2
fi

# DPOP_ARGS as words: shlex splits them (quotes work), nothing expands them, NUL separates them
code=0
check_failed=false
reader_failed=false
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

if [ "$code" = 0 ] && [ -n "$client_command" ] && { [ -n "$config" ] || $embedded; }; then
  say "error: config and client-command are both given: give config to judge a server, client-command to judge a client" >&2
  code=2
fi
if [ "$code" = 0 ] && [ -z "$config" ] && [ -z "$client_command" ] && ! $embedded; then
  say "error: config is empty: give the target file (TOML), or embedded for the embedded reference server (a self-test)" >&2
  code=2
fi
if [ "$code" != 0 ]; then
  :  # the settings were refused: nothing runs
elif [ -n "$client_command" ]; then
  say "client-command given: judging a DPoP client (dpop-conformance client)"
elif [ -n "$config" ]; then
  "$bin" check --config "$config" ${profiles[@]+"${profiles[@]}"} || { code=$?; check_failed=true; }
else
  say "config is embedded: running against the embedded reference server, a self-test of the suite"
fi
run=("$bin" run --report-dir "$report_dir" --fail-on "$fail_on" ${profiles[@]+"${profiles[@]}"})
[ -z "$config" ] || run+=(--config "$config")
[ -z "${DPOP_BASELINE:-}" ] || run+=(--baseline "$DPOP_BASELINE")
[ -z "${DPOP_BASELINE_MISSING:-}" ] || run+=(--baseline-missing "$DPOP_BASELINE_MISSING")
[ -z "${DPOP_FUZZ_PROFILE:-}" ] || run+=(--fuzz-profile "$DPOP_FUZZ_PROFILE")
if [ -n "$client_command" ]; then
  run=("$bin" client --command "$client_command" --report-dir "$report_dir" --fail-on "$fail_on")
  [ -z "${DPOP_BASELINE:-}" ] || run+=(--baseline "$DPOP_BASELINE")
  [ -z "${DPOP_BASELINE_MISSING:-}" ] || run+=(--baseline-missing "$DPOP_BASELINE_MISSING")
fi
if [ "$code" = 0 ]; then
  "${run[@]}" ${extra[@]+"${extra[@]}"} || code=$?
fi

if $in_actions; then
  echo "::$token::"
  ! $embedded || echo "::notice title=dpop-conformance::config is embedded: the run tested the embedded reference server"
fi

# After the region: the outputs (to a file, for $GITHUB_OUTPUT), the annotations of the gating cases and,
# on a fork's pull request that left the target file without its secrets, why. All from the suite's own
# results.json and its own verdict; results.json is absent when check or run stopped first.
outputs_file="$(mktemp)"
why_file="$(mktemp)"  # why nothing ran, when the reader knows better than the exit status
"$python" - "$results" "$code" "$outputs_file" "$config" "$check_failed" "$why_file" <<'PY' || reader_failed=true
import json
import os
import re
import sys
from pathlib import Path

from conformance.printable import printable

path, code, outputs_file = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
config, check_failed, why_file = sys.argv[4], sys.argv[5] == "true", Path(sys.argv[6])
KEYS = ("passed", "failed", "warning", "info", "skipped", "error")
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations of one step
TEXT_LIMIT = 600  # characters of a cause or a fix in an annotation; report.html has them whole


def count(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def message(text: str) -> str:
    """A workflow command's message: % and line breaks escaped, so no text of it is another command; any
    other control character shown as an escape (\\x1b), never sent to the log as it is."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def prop(text: str) -> str:
    """A workflow command's property value: escaped as a message, and : and , too."""
    return message(text).replace(":", "%3A").replace(",", "%2C")


def short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def error(title: str, text: str) -> None:
    print(f"::error title={prop(title)}::{message(text)}")


try:
    results = json.loads(path.read_text(encoding="utf-8"))
except (OSError, ValueError):
    results = None

verdict_word = {0: "passed", 1: "failed", 2: "usage-error", 3: "not-judged"}.get(code, "error")
out = {"verdict": verdict_word, "exit-code": str(code)}
gating: tuple[str, ...] = ()
if isinstance(results, dict):
    from conformance.report.verdict import run_verdict

    verdict = run_verdict(results)  # the verdict every output of the run shows: not worked out again here
    gating = verdict.gating
    summary = results.get("summary") if isinstance(results.get("summary"), dict) else {}
    out |= {k: count(summary.get(k, 0)) for k in KEYS}
    if code in (0, 1, 3):  # a usage error (2) or a crash keeps its own word
        out["verdict"] = verdict.result
    out |= {"new-failures": str(len(gating)), "results": str(path)}
else:
    out |= {k: "" for k in (*KEYS, "new-failures", "results")}
outputs_file.write_text("".join(f"{k}={' '.join(v.splitlines())}\n" for k, v in out.items()), encoding="utf-8")

# one annotation per case that turns the gate red, MUST failures first (the verdict's order)
if gating:
    cases = {str(c.get("id")): c for c in results.get("cases") or [] if isinstance(c, dict)}
    shown = gating if len(gating) <= MAX_ANNOTATIONS else gating[: MAX_ANNOTATIONS - 1]
    for case_id in shown:
        case = cases.get(case_id, {})
        cause = str(case.get("cause") or "") or str(case.get("title") or case_id)
        fix = str(case.get("fix") or "") or "report.html has the evidence and the curl command"
        error(case_id, f"{short(cause)} — fix: {short(fix)}")
    rest = gating[len(shown) :]
    if rest:
        named = ", ".join(rest[:20]) + (", …" if len(rest) > 20 else "")
        error(
            "dpop-conformance",
            f"{len(rest)} more cases fail the gate ({named}): the step summary and report.html say why",
        )

# a fork's pull request gets no secrets: say so rather than let the target file's ${VAR} take the blame
if check_failed and config:
    try:
        from conformance.client.ci_context import fork_pull_request
    except ImportError:
        fork = None
    else:
        fork = fork_pull_request(os.environ)
    if fork:
        import tomllib

        def strings(value: object) -> list[str]:
            if isinstance(value, str):
                return [value]
            if isinstance(value, dict):
                return [s for v in value.values() for s in strings(v)]
            if isinstance(value, list):
                return [s for v in value for s in strings(v)]
            return []

        try:
            target = tomllib.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            target = {}
        refs = {m for s in strings(target) for m in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}", s)}
        empty = sorted(v for v in refs if not os.environ.get(v))
        if empty:
            names = ", ".join(f"${{{v}}}" for v in empty)
            text = (
                f"secrets are not passed to pull requests from forks: this run is {fork}, so {names} in "
                f"{config} read empty. Skip the step for forks (docs/ci.md: if: "
                "github.event.pull_request.head.repo.full_name == github.repository), or run it after the merge"
            )
            print(f"dpop-conformance action: {printable(text)}", file=sys.stderr)
            error("dpop-conformance", text)
            # for the summary's heading: variable names are letters, digits and _, safe in a code span
            why_file.write_text(f"secrets are not passed to pull requests from forks (`{names}` read empty)\n")
PY
outputs="$(cat "$outputs_file")"
why="$(cat "$why_file")"
rm -f "$outputs_file" "$why_file"
if [ -z "$outputs" ]; then  # the outputs must still say what happened: the Action's last step gates on them
  say "error: could not read $results (the lines above say why)" >&2
  code=$((code ? code : 2))
  outputs="verdict=error
exit-code=$code"
elif $reader_failed; then
  say "error: the annotations could not all be written (the lines above say why); the outputs stand" >&2
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  printf '%s\n' "$outputs" >>"$GITHUB_OUTPUT"
else
  say "outputs:"
  printf '%s\n' "$outputs"
fi

if [ -f "$results" ]; then
  # the summary renders the run's own verdict (results.json records its gate): no --fail-on of ours here
  "$bin" summary "$results" --output "$summary" || code=$((code ? code : 2))
else
  case "$code" in
    2) why="${why:-the target file or an argument was refused (exit status 2)}, so nothing was sent" ;;
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
