"""What people and CI read: junit.xml counts, baselines, the HTML summary, and no secret in any file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.report.results import exit_status

#: the resource's refusal cases: its own tests, and its rows of the tests parametrized by endpoint
RESOURCE_REFUSALS = "test_resource_refuses or (test_refuses and rs-proof)"

CLI = [sys.executable, "-m", "conformance", "run"]


def run(report_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [*CLI, "--report-dir", str(report_dir), "--fuzz-seed", "1", *args], capture_output=True, text=True, timeout=600
    )
    return done.returncode, json.loads((report_dir / "results.json").read_text())


@pytest.mark.slow
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


@pytest.mark.slow
def test_warnings_are_passes_with_a_property_in_junit(tmp_path: Path) -> None:
    # iat-integer-only: four SHOULD cases warn (a fractional iat and 1.7e9 refused, at the AS and the RS)
    status, results = run(
        tmp_path, "--pytest-html", "--reference-defect", "iat-integer-only", "--", "-m", "not fuzz", "-k", "legal_form"
    )
    assert results["summary"]["warning"] == 4 and status == 0
    # pytest-html's page, when asked for: the result column names the suite's outcome, never "Passed" for these
    plain = (tmp_path / "pytest-html.html").read_text()
    assert plain.count("col-result\\&#34;&gt;Warning&lt;") == 4 and "Passed&lt;" not in plain
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", -1)) == 0
    warned = [p for p in suite.iter("property") if p.get("name") == "dpop_outcome" and p.get("value") == "warning"]
    assert len(warned) == 4
    strict, _ = run(
        tmp_path / "strict", "--reference-defect", "iat-integer-only", "--fail-on", "should", "--", "-k", "legal_form"
    )
    assert strict == 1


@pytest.mark.slow
def test_a_gate_starts_without_a_baseline_and_records_one(tmp_path: Path) -> None:
    subset = ("-m", "not fuzz", "-k", RESOURCE_REFUSALS)
    missing, recorded = tmp_path / "ci" / "dpop-baseline.json", tmp_path / "ci" / "dpop-baseline.json"
    # without a baseline file, the choice is explicit: an error by default (one line, exit 2) ...
    refused = subprocess.run(
        [*CLI, "--report-dir", str(tmp_path / "refused"), "--baseline", str(missing)], capture_output=True, text=True
    )
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--baseline-missing ok" in refused.stderr and not (tmp_path / "refused" / "results.json").exists()
    # ... or every failure is new, and --write-baseline records the run as the next baseline
    args = ("--reference-defect", "ath", "--baseline", str(missing), "--baseline-missing", "ok")
    first, results = run(tmp_path / "first", *args, "--write-baseline", str(recorded), "--", *subset)
    assert first == 1 and results["baseline"]["missing"] is True
    assert results["baseline"]["new"] == results["summary"]["failed"] >= 4
    assert json.loads(recorded.read_text())["cases"] == {c["id"]: c["outcome"] for c in results["cases"]}
    # the recorded baseline gates the next run: nothing new
    again, _ = run(tmp_path / "again", "--reference-defect", "ath", "--baseline", str(recorded), "--", *subset)
    assert again == 0
    # (a baseline made by another suite version, and one whose selection was narrower: tests/test_gate.py)
    # --baseline-missing means nothing without --baseline
    alone = subprocess.run([*CLI, "--baseline-missing", "ok"], capture_output=True, text=True)
    assert alone.returncode == 2 and "--baseline-missing applies to a --baseline file" in alone.stderr


@pytest.mark.slow
def test_html_report_opens_with_the_verdict_findings_by_cause_and_the_grid(tmp_path: Path) -> None:
    run(tmp_path, "--reference-defect", "ath", "--reference-defect", "htu-normalization", "--", "-m", "not fuzz")
    results = json.loads((tmp_path / "results.json").read_text())
    page = (tmp_path / "report.html").read_text()
    # one truth: every count shown is results.json's, and an outcome is named by its own name
    shown = dict(re.findall(r'<li data-outcome="([a-z ]+)" data-count="(\d+)"', page))
    assert {k: int(v) for k, v in shown.items()} == {k: v for k, v in results["summary"].items()}
    assert "Passed" not in page
    for case in results["cases"]:
        anchor = f'id="case-{case["id"]}" data-outcome="{case["outcome"]}"'
        assert anchor in page, case["id"]
    # causes first: the verdict, then the groups (failures before warnings), then the grid, then every case
    groups = results["findings"]
    assert [g["outcome"] for g in groups] == sorted((g["outcome"] for g in groups), key=["failed", "warning"].index)
    htu = next(g for g in groups if g["outcome"] == "warning" and len(g["cases"]) == 6)
    assert all("htu" in i for i in htu["cases"])  # six htu cases, one cause
    order = [page.index(s) for s in ("MUST failure", 'id="findings"', 'class="dpop-grid"', 'id="cases"')]
    assert order == sorted(order)
    grid = page[page.index('<svg class="dpop-grid"') :]
    assert grid[: grid.index("</svg>")].count("<rect") == len(results["cases"])  # one cell a case
    assert "www.rfc-editor.org/rfc/rfc9449#section-4.3" in page
    assert "<script" not in page and 'href="assets/' not in page  # one file that needs nothing beside it
