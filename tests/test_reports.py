"""What people and CI read: junit.xml counts, baselines, the HTML summary, and no secret in any file."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.results import exit_status

CLI = [sys.executable, "-m", "conformance", "run"]


def run(report_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [*CLI, "--report-dir", str(report_dir), "--fuzz-seed", "1", *args], capture_output=True, text=True, timeout=600
    )
    return done.returncode, json.loads((report_dir / "results.json").read_text())


def test_junit_counts_match_results_json(tmp_path: Path) -> None:
    # htu-https-assumed breaks the happy path (errors); replay gives warnings; failures come with both
    status, results = run(
        tmp_path, "--reference-defect", "htu-https-assumed", "--reference-nonce", "none", "--", "-m", "not fuzz"
    )
    summary = results["summary"]
    assert summary["error"] and summary["failed"] and summary["skipped"]
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", -1)) == summary["failed"]
    assert int(suite.get("errors", -1)) == summary["error"]
    assert int(suite.get("skipped", -1)) == summary["skipped"]
    assert int(suite.get("tests", -1)) == len(results["cases"])
    outcomes = {p.get("value") for p in suite.iter("property") if p.get("name") == "dpop_outcome"}
    assert {"failed", "error", "passed", "skipped"} <= outcomes
    assert status == exit_status(results) == 1


def test_warnings_are_passes_with_a_property_in_junit(tmp_path: Path) -> None:
    # iat-integer-only: four SHOULD cases warn (a fractional iat and 1.7e9 refused, at the AS and the RS)
    status, results = run(
        tmp_path, "--reference-defect", "iat-integer-only", "--", "-m", "not fuzz", "-k", "legal_form"
    )
    assert results["summary"]["warning"] == 4 and status == 0
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", -1)) == 0
    warned = [p for p in suite.iter("property") if p.get("name") == "dpop_outcome" and p.get("value") == "warning"]
    assert len(warned) == 4
    strict, _ = run(
        tmp_path / "strict", "--reference-defect", "iat-integer-only", "--fail-on", "should", "--", "-k", "legal_form"
    )
    assert strict == 1


def test_baseline_gates_only_new_failures(tmp_path: Path) -> None:
    # the resource's §4.3 cases: what the ath and htm defects fail, and enough others that pass
    subset = ("-m", "not fuzz", "-k", "test_resource_refuses")
    first, before = run(tmp_path / "before", "--reference-defect", "ath", "--", *subset)
    assert first == 1
    baseline = tmp_path / "before" / "results.json"
    same, again = run(tmp_path / "same", "--reference-defect", "ath", "--baseline", str(baseline), "--", *subset)
    assert same == 0
    assert again["baseline"]["new"] == 0 and again["baseline"]["still_failing"] == before["summary"]["failed"]
    other, changed = run(tmp_path / "other", "--reference-defect", "htm", "--baseline", str(baseline), "--", *subset)
    assert other == 1
    marks = {c["id"]: c["baseline"] for c in changed["cases"] if c["baseline"]}
    assert marks["rs-proof-htm-wrong"] == "new"
    assert marks["rs-proof-ath-hex"] == "fixed"
    assert "new" in (tmp_path / "other" / "report.html").read_text()


def test_html_report_puts_the_summary_first(tmp_path: Path) -> None:
    run(tmp_path, "--reference-defect", "ath", "--", "-m", "not fuzz")
    page = (tmp_path / "report.html").read_text()
    for expected in (
        "dpop-summary",
        "MUST failures",
        "rs-proof-ath-hex",
        "Likely cause",
        "dpop-legend",
        "www.rfc-editor.org/rfc/rfc9449#section-4.3",
    ):
        assert expected in page, expected
    assert 'href="assets/' not in page and 'src="assets/' not in page  # one file: nothing to load beside it
