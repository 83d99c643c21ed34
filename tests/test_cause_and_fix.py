"""Every case that did not pass, and every finding, says what the server does and what to change (issue 27).

The cause and the fix are written where each check is (conformance/judge/, cases/), never read from a
message: real runs against the embedded reference server with defects that give failures, warnings and
errors show them in results.json, and the terminal prints each finding's fix whole, wrapped to its width.
tests/test_kill_matrix.py applies the same check (tests/explained.py) to every defect's run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from explained import unexplained

from conformance.client.evidence import Exchange
from conformance.client.flow import FlowError
from conformance.judge.verdicts import CouldNotJudge, Outcome, Violation
from conformance.report.terminal import MIN_WIDTH, summary_lines
from conformance.run.verdict_hook import UNEXPECTED, _cause

PREFIX = "dpop-conformance: "


def _run(report_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "120"},
    )
    results_file = report_dir / "results.json"
    assert results_file.exists(), done.stdout[-3000:] + done.stderr
    return done, json.loads(results_file.read_text(encoding="utf-8"))


def _words(text: str) -> str:
    return " ".join(text.split())


def _printed(stdout: str) -> str:
    """What the run printed after its prefix, as one run of words (a wrapped fix reads whole in it)."""
    return _words(" ".join(line.removeprefix(PREFIX) for line in stdout.splitlines()))


def _defects(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--reference-defect", name)]


@pytest.mark.slow
def test_failures_warnings_and_errors_each_carry_their_own_cause_and_fix(tmp_path: Path) -> None:
    # typ: failures; malformed-500: warnings (server errors); ath-hex: every valid resource request refused, so
    # the resource cases cannot be judged (errors)
    done, results = _run(tmp_path, *_defects("typ", "malformed-500", "ath-hex"), "--", "-m", "not fuzz")
    summary = results["summary"]
    assert summary["failed"] and summary["warning"] and summary["error"], summary
    assert unexplained(results) == []
    cases = {case["id"]: case for case in results["cases"]}
    typ = cases["as-proof-typ-jwt"]
    assert typ["cause"].startswith("POST http")
    assert " accepts a token request carrying a proof with typ JWT" in typ["cause"]
    assert "§4.3 check 4" in typ["fix"] and not typ["shared_cause"]
    # a server error's cause is shared: one finding per endpoint, not one per case
    failing = cases["as-proof-not-jwt-garbage"]
    assert failing["shared_cause"]
    assert failing["cause"].endswith("/token fails with HTTP 500 on requests it should refuse")
    (finding,) = [g for g in results["findings"] if g["cause"] == failing["cause"]]
    assert finding["fix"] == failing["fix"] and "as-proof-b64-padded" in finding["cases"]
    # an error says what to change to get the case judged
    error = cases["rs-proof-typ-jwt"]
    assert error["outcome"] == "error" and "rs-accepts-dpop-request" in error["fix"]
    # passed and skipped cases say nothing of a cause
    assert all(not c["cause"] and not c["fix"] for c in results["cases"] if c["outcome"] in ("passed", "skipped"))
    # the terminal prints every finding's fix in full, and the errors' fix
    printed = _printed(done.stdout)
    for group in results["findings"]:
        assert _words(group["fix"]) in printed, group["fix"]
    assert _words(error["fix"]) in printed
    # at the terminal's width (COLUMNS here), after the prefix
    summary = [line.removeprefix(PREFIX) for line in done.stdout.splitlines() if line.startswith(PREFIX + "  ")]
    assert summary and all(len(line) <= 120 for line in summary), [line for line in summary if len(line) > 120]


@pytest.mark.slow
def test_the_fuzz_cases_explain_themselves_too(tmp_path: Path) -> None:
    """(Every fixed case of every defect is checked by the kill matrix, tests/test_kill_matrix.py: explained.py.)"""
    fuzz_args = ("--case", "as-fuzz-*", "--fuzz-examples", "5", "--fuzz-seed", "1")
    _, fuzzed = _run(tmp_path / "fuzz", *_defects("zero-signature", "malformed-500"), *fuzz_args)
    assert fuzzed["summary"]["failed"] and fuzzed["summary"]["warning"], fuzzed["summary"]
    assert unexplained(fuzzed) == []
    cases = {case["id"]: case for case in fuzzed["cases"]}
    assert "signature-zero" in cases["as-fuzz-signature-refused"]["cause"]
    assert "§4.3 check 6" in cases["as-fuzz-signature-refused"]["fix"]
    # a fuzz case that met only server errors joins the fixed cases' finding at that endpoint
    assert cases["as-fuzz-no-server-error"]["shared_cause"]


# --- the terminal: the terminal's width, the fix never cut ------------------------------------------------

LONG_FIX = (
    "find the exception in the server's logs and refuse an invalid request with HTTP 400 and an error code "
    "(RFC 6749 §5.2); where a reverse proxy stands in front of it, check that it passes the DPoP header field "
    "through unchanged, and that the URL the server compares htu with is its public one, not the internal one"
)
LONG_CAUSE = "POST https://as.example.com/token " + "accepts a proof it must refuse " * 12


def _results(**extra: Any) -> dict[str, Any]:
    cases = [{"id": f"as-proof-{n}", "outcome": "warning", "cause": "", "fix": LONG_FIX} for n in range(30)]
    cases.append({"id": "rs-proof-typ-jwt", "outcome": "error", "fix": "check [client] id in the target file"})
    return {
        "summary": {"passed": 1, "failed": 1, "warning": 30, "info": 0, "skipped": 0, "error": 1},
        "verdict": {"status": 1, "text": "1 MUST failure"},
        "preflight": {"ok": True},
        "findings": [
            {"outcome": "failed", "cause": LONG_CAUSE, "fix": "refuse it", "count": 1, "cases": ["as-proof-x"]},
            {
                "outcome": "warning",
                "cause": "POST https://as.example.com/token fails with HTTP 500 on requests it should refuse",
                "fix": LONG_FIX,
                "count": 30,
                "cases": [c["id"] for c in cases[:30]],
            },
        ],
        "causes": [
            {
                "cause": "POST https://as.example.com/token answered 401 invalid_client",
                "count": 1,
                "cases": ["rs-proof-typ-jwt"],
            }
        ],
        "cases": cases,
        **extra,
    }


@pytest.mark.parametrize("width", [100, 200])
def test_the_summary_fills_the_width_and_prints_each_fix_whole(width: int) -> None:
    lines = summary_lines(_results(), width=width)
    assert all(len(line) <= width for line in lines[1:]), [line for line in lines if len(line) > width]
    text = _words(" ".join(lines))
    assert _words(LONG_FIX) in text  # wrapped onto lines of its own, never cut
    assert "fix: check [client] id in the target file" in text  # the errors' fix, from their cases
    warning = next(n for n, line in enumerate(lines) if line.startswith("  warning  30 cases: "))
    fix = next(n for n, line in enumerate(lines) if line.lstrip().startswith("fix: find the exception"))
    assert warning < fix <= warning + 2  # the fix on lines of its own, right under its cause
    # a long cause takes at most two lines and says it was cut; the ids stay a few lines whatever their number
    head = next(n for n, line in enumerate(lines) if line.startswith("  failed "))
    assert lines[head + 1].endswith("…") and lines[head + 2].lstrip().startswith("fix: refuse it")
    assert len(lines) <= 16
    if width == 200:
        assert sum(line.lstrip().startswith(("fix:", "find")) for line in lines) <= 3  # one line each, or two


def test_a_width_too_narrow_for_a_finding_gets_the_narrowest_layout() -> None:
    lines = summary_lines(_results(), width=20)
    assert all(len(line) <= MIN_WIDTH for line in lines[1:]) and _words(LONG_FIX) in _words(" ".join(lines))


def test_a_failed_setup_prints_its_fix_whole() -> None:
    preflight = {"ok": False, "cause": "the client was refused", "sent": "a token request", "got": "HTTP 401"}
    failed = _results(preflight={**preflight, "fix": LONG_FIX})
    lines = summary_lines(failed, width=100)
    assert lines[1] == "setup failed: the client was refused"
    assert _words(LONG_FIX) in _words(" ".join(lines)) and all(len(line) <= 100 for line in lines[1:])


# --- the plugin records the verdict's own cause and fix, and says so when there was no verdict ----------------


def test_the_plugin_takes_cause_and_fix_from_the_verdict_and_never_from_its_message() -> None:
    violation = Violation("Sent: x\nGot: y", cause="POST /token accepts x", fix="refuse x", shared=True)
    assert _cause(violation, Outcome.WARNING) == ("POST /token accepts x", "refuse x", True)
    error = CouldNotJudge("message words", cause="GET /me answered 503", fix="run again later")
    assert _cause(error, Outcome.ERROR) == ("GET /me answered 503", "run again later", False)
    assert _cause(violation, Outcome.INFO) == ("", "", False)
    cause, fix, shared = _cause(AssertionError("a case's own assert"), Outcome.FAILED)
    assert cause.startswith(UNEXPECTED) and fix and not shared
    body = '{"error": "invalid_client"}'
    refused = Exchange("token", "POST", "https://as.example/token", [], status=400, response_body=body)
    cause, fix, _ = _cause(FlowError("the token request failed", [refused]), Outcome.ERROR)
    assert cause == "the client was refused (POST https://as.example/token answered 400 invalid_client)"
    assert "[client]" in fix
