"""The release gate from a real CLI against real servers on loopback: baselines, the one verdict, report folders.

Each test plays one scenario a team meets in CI (issue 27, "What was seen") and asserts the fixed behaviour:
a partial baseline does not hide a failure, another target's baseline is refused, an unchanged target writes the
same baseline bytes, `-q` still records the baseline, `--fail-on should` accepts known warnings, and every output
(terminal, report.html, junit.xml, the Markdown summary) says what the exit status says.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.report.markdown import render_summary
from conformance.report.verdict import run_verdict

CLI = [sys.executable, "-m", "conformance"]
#: a small selection with room for every kind of verdict: warnings under iat-integer-only (the two legal iat
#: forms) and htm-case (htm in lower case), a MUST failure under ath (a hex ath accepted), and passes
SELECTION = (
    "--case", "as-proof-iat-*-accepted", "--case", "as-proof-htm-lowercase", "--case", "as-proof-typ-jwt",
    "--case", "rs-proof-ath-hex", "--case", "rs-proof-typ-jwt",
)  # fmt: skip


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def gate_run(report_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`run` against the embedded reference server; the outputs checked to agree with the exit status."""
    done = cli("run", "--report-dir", str(report_dir), "--color", "never", *args)
    assert done.returncode in (0, 1, 3), done.stdout[-3000:] + done.stderr
    results = json.loads((report_dir / "results.json").read_text())
    assert_outputs_agree(done, report_dir, results)
    return done, results


def assert_outputs_agree(done: subprocess.CompletedProcess[str], report_dir: Path, results: dict[str, Any]) -> None:
    """Terminal, report.html, junit.xml, the Markdown summary and results.json all say what the exit status says."""
    verdict = run_verdict(results)
    assert done.returncode == verdict.status == results["verdict"]["status"]
    verdict_lines = [line for line in done.stdout.splitlines() if " — " in line]
    assert verdict_lines and verdict_lines[0].endswith(verdict.text), done.stdout
    page = (report_dir / "report.html").read_text()
    shown = re.search(r'<div class="verdict (\w+)" data-status="(\d)">([^<]*)</div>', page)
    assert shown is not None
    assert (shown.group(1), int(shown.group(2))) == (verdict.css, done.returncode)
    assert shown.group(3) == verdict.sentence()
    assert ("Conformant" in shown.group(3) or "No new failure" in shown.group(3)) == (done.returncode == 0)
    suite = ET.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    # a JUnit failure is exactly a case that gates: none when the gate is green, each one when it is red
    assert int(suite.get("failures", -1)) == len(verdict.gating)
    assert (int(suite.get("failures", -1)) > 0) == (done.returncode == 1)
    heading = render_summary(results).splitlines()[0]
    assert heading.startswith("### ✅" if done.returncode == 0 else "### ❌" if done.returncode == 1 else "### ⚠️")
    assert heading.endswith(verdict.text)


@pytest.mark.slow
def test_a_partial_baseline_never_hides_a_failure(tmp_path: Path) -> None:
    # the altered proofs at the token endpoint and the resource (the PAR endpoint's ids start with par-)
    subset = ("-m", "not fuzz", "-k", "test_refuses_altered_proof and not par-proof")
    baseline = tmp_path / "as-only.json"
    done, _ = gate_run(tmp_path / "as", "--actor", "AS", "--write-baseline", str(baseline), "--", *subset)
    assert done.returncode == 0 and "recorded this run as the baseline" in done.stdout
    recorded = json.loads(baseline.read_text())
    assert recorded["selection"]["actors"] == ["AS"] and recorded["selection"]["markers"] == "not fuzz"
    assert not any(case.startswith("rs-") for case in recorded["cases"])
    # the full run meets a resource that skips its ath check: the RS failures are outside the baseline's selection
    done, results = gate_run(tmp_path / "all", "--reference-defect", "ath", "--baseline", str(baseline), "--", *subset)
    assert done.returncode == 1, done.stdout
    failed = [c for c in results["cases"] if c["outcome"] == "failed"]
    assert failed and all(c["baseline"] == "not in baseline" for c in failed)
    assert results["baseline"]["not_in_baseline"] == len(failed) and results["baseline"]["new_cases"] == 0
    assert f"{len(failed)} MUST failure" in results["verdict"]["text"]
    assert "another selection (actors AS (this run: all))" in done.stdout


@pytest.mark.slow
def test_known_warnings_are_accepted_under_fail_on_should_and_new_ones_gate(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    warn = ("--reference-defect", "iat-integer-only")
    # without a baseline, --fail-on should fails on the two warnings (and still records the baseline)
    done, results = gate_run(
        tmp_path / "first", *warn, "--fail-on", "should", "--write-baseline", str(baseline), *SELECTION
    )
    assert done.returncode == 1 and results["summary"]["warning"] == 2
    assert sorted(results["verdict"]["gating"]) == ["as-proof-iat-exponent-accepted", "as-proof-iat-fraction-accepted"]
    # with it, the same warnings are known: green
    done, results = gate_run(tmp_path / "known", *warn, "--fail-on", "should", "--baseline", str(baseline), *SELECTION)
    assert done.returncode == 0, done.stdout
    marks = {c["id"]: c["baseline"] for c in results["cases"] if c["baseline"]}
    assert set(marks.values()) == {"still warning"} and len(marks) == 2
    # to JUnit a known warning is a skipped test that says why, its outcome kept as a property
    suite = ET.parse(tmp_path / "known" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", -1)) == 0
    known = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    reasons = [str(c.find("skipped").get("message")) for c in known]  # type: ignore[union-attr]
    assert len(known) == 2 and all(r.startswith("known warning since the baseline (baseline.json)") for r in reasons)
    assert all({p.get("name"): p.get("value") for p in c.iter("property")}["dpop_outcome"] == "warning" for c in known)
    # a new warning gates under should only
    new = (*warn, "--reference-defect", "htm-case", "--baseline", str(baseline), *SELECTION)
    done, results = gate_run(tmp_path / "new-should", *new, "--fail-on", "should")
    assert done.returncode == 1 and results["verdict"]["gating"] == ["as-proof-htm-lowercase"]
    assert results["baseline"]["new_warnings"] == 1 and "1 SHOULD violation new against the baseline" in done.stdout
    done, _ = gate_run(tmp_path / "new-must", *new, "--fail-on", "must")
    assert done.returncode == 0
    # a new MUST failure gates under both, beside the known warnings; what it had is fixed
    done, results = gate_run(tmp_path / "failure", "--reference-defect", "ath", "--baseline", str(baseline), *SELECTION)
    assert done.returncode == 1 and results["verdict"]["gating"] == ["rs-proof-ath-hex"]
    marks = {c["id"]: c["baseline"] for c in results["cases"] if c["baseline"]}
    assert marks == {
        "rs-proof-ath-hex": "new",
        "as-proof-iat-exponent-accepted": "fixed",
        "as-proof-iat-fraction-accepted": "fixed",
    }
    assert "new" in (tmp_path / "failure" / "report.html").read_text()


@pytest.mark.slow
def test_an_unchanged_target_writes_the_same_baseline_bytes_and_quiet_still_records_it(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    outputs = []
    for path, folder in ((first, "a"), (second, "b")):
        done = cli("run", "-q", "--report-dir", str(tmp_path / folder), "--write-baseline", str(path), *SELECTION)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert str(tmp_path) not in text and "started" not in text and "duration" not in text and "2026-" not in text
    document = json.loads(text)
    assert document["format"] == "dpop-conformance baseline" and document["target"] == {
        "name": "reference",
        "embedded": True,
    }
    assert list(document["cases"]) == sorted(document["cases"]) and len(document["cases"]) == 6
    # -q: the verdict, what was written and where the reports are; no progress, no findings
    lines = outputs[0].strip().splitlines()
    assert len(lines) == 3, outputs[0]
    assert "conformant" in lines[0] and "recorded this run as the baseline" in lines[1] and "reports in" in lines[2]


def _baseline_file(path: Path, target: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {
                "format": "dpop-conformance baseline",
                "format_version": 1,
                "suite_version": "0.2.0",
                "target": target,
                "selection": {},
                "options": {},
                "cases": {"as-proof-typ-jwt": "failed"},
            }
        )
    )
    return path


def _unreachable_target(path: Path, name: str) -> Path:
    """A target file on a loopback port nothing listens on: a refusal before the run must send nothing."""
    path.write_text(
        f'name = "{name}"\n[authorization_server]\ntoken_endpoint = "http://127.0.0.1:9/token"\n'
        '[client]\nid = "c"\nsecret = "s"\n'
    )
    return path


def test_a_baseline_of_another_target_is_refused_unless_meant(tmp_path: Path) -> None:
    staging = _baseline_file(tmp_path / "staging.json", {"name": "staging", "endpoints": {"x": "https://a/token"}})
    done = cli("run", "--report-dir", str(tmp_path / "out"), "--baseline", str(staging), "--case", "as-proof-typ-jwt")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "belongs to another target" in done.stderr and "--baseline-for-another-target" in done.stderr
    assert not (tmp_path / "out" / "results.json").exists()
    # the embedded server's baseline for a target file: refused too
    embedded = _baseline_file(tmp_path / "embedded.json", {"name": "reference", "embedded": True})
    config = _unreachable_target(tmp_path / "reference.toml", "reference")
    done = cli("run", "--config", str(config), "--report-dir", str(tmp_path / "out"), "--baseline", str(embedded))
    assert done.returncode == 2 and "recorded against the embedded reference server" in done.stderr
    # one --baseline for several targets: one per --config, or nothing runs
    other = _unreachable_target(tmp_path / "other.toml", "other")
    done = cli("run", "--config", str(config), "--config", str(other), "--baseline", str(embedded))
    assert done.returncode == 2 and "one per --config" in done.stderr
    # meant: the run goes ahead, says so, and its known failure is the other target's
    done = cli(
        "run", "--report-dir", str(tmp_path / "meant"), "--baseline", str(staging), "--baseline-for-another-target",
        "--case", "as-proof-typ-jwt",
    )  # fmt: skip
    assert done.returncode == 0 and "used on purpose" in done.stdout, done.stdout + done.stderr
    results = json.loads((tmp_path / "meant" / "results.json").read_text())
    assert results["baseline"]["fixed"] == 1


def test_an_older_suites_baseline_lets_only_cases_it_did_not_have_pass_as_new(tmp_path: Path) -> None:
    # 0.1.0 had rs-proof-ath-hex but not rs-proof-htu-userinfo (conformance/judge/released/0.1.0.txt)
    older = tmp_path / "older.json"
    older.write_text(
        json.dumps(
            {
                "format": "dpop-conformance baseline",
                "format_version": 1,
                "suite_version": "0.1.0",
                "target": {"name": "reference", "embedded": True},
                "selection": {},
                "cases": {"rs-proof-typ-jwt": "passed"},
            }
        )
    )
    args = ("--reference-defect", "htu-hostname-only", "--baseline", str(older), "--case", "rs-proof-htu-userinfo")
    done, results = gate_run(tmp_path / "new-case", *args)
    assert done.returncode == 0 and "made by dpop-conformance 0.1.0" in done.stdout
    assert {c["id"]: c["baseline"] for c in results["cases"]} == {"rs-proof-htu-userinfo": "new case"}
    suite = ET.parse(tmp_path / "new-case" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    skipped = [c.find("skipped") for c in suite.iter("testcase")]
    assert next(str(s.get("message")) for s in skipped if s is not None).startswith("new case: failing")
    done, results = gate_run(
        tmp_path / "outside", "--reference-defect", "ath", "--baseline", str(older), "--case", "rs-proof-ath-hex"
    )
    assert done.returncode == 1 and results["cases"][0]["baseline"] == "not in baseline"


def test_a_results_json_baseline_is_read_with_a_note(tmp_path: Path) -> None:
    # the format before 0.2.0: a whole results.json, of which a baseline reads the cases' ids and outcomes
    legacy = tmp_path / "accepted-run.json"  # (not named results.json: the v1 file is no run of this version)
    legacy.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "suite": {"name": "dpop-conformance", "version": "0.1.0"},
                "target": {"name": "reference", "token_endpoint": "http://127.0.0.1:40000/token"},
                "started_at": "2026-12-01T10:00:00Z",
                "summary": {"passed": 2},
                "cases": [
                    {"id": "as-proof-typ-jwt", "outcome": "passed"},
                    {"id": "rs-proof-ath-hex", "outcome": "passed"},
                ],
            }
        )
    )
    args = (
        "--baseline",
        str(legacy),
        "--reference-defect",
        "ath",
        "--case",
        "as-proof-typ-jwt",
        "--case",
        "rs-proof-ath-*",
    )
    done, results = gate_run(tmp_path / "run", *args)
    assert "is a results.json (read as a baseline in this version only)" in done.stdout
    assert done.returncode == 1 and results["baseline"]["format"] == "results.json"
    marks = {c["id"]: c["baseline"] for c in results["cases"] if c["baseline"]}
    # the one it had is new; those 0.1.0 had and it lacks are outside its selection: they gate too
    assert marks["rs-proof-ath-hex"] == "new" and marks["rs-proof-ath-missing"] == "not in baseline"
