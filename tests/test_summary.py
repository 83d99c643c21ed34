"""`dpop-conformance summary`: one run's results.json as Markdown (the GitHub Action's step summary).

Real runs against the embedded reference server give the results; handed-over results.json files with
hostile strings must stay one table row per case, their escapes visible.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.printable import markdown_cell
from conformance.report.markdown import render_summary

CLI = [sys.executable, "-m", "conformance"]
ATH = ["--case", "rs-proof-ath-*", "--case", "rs-ath-exact"]  # a few cases the ath defect fails


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ))


def cells(line: str) -> list[str]:
    """A table row's cells, split at the pipes that are not escaped."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return re.split(r"(?<!\\) \| ", re.sub(r"\\\\", "\0", line[2:-2]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A clean run (the baseline), then one with the ath defect against it: report folders by name."""
    base = tmp_path_factory.mktemp("summary")
    clean = cli("run", "--report-dir", str(base / "clean"), "-q", *ATH)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    broken = cli(
        "run",
        "--report-dir",
        str(base / "broken"),
        "-q",
        "--reference-defect",
        "ath",
        "--baseline",
        str(base / "clean" / "results.json"),
        *ATH,
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    return {"clean": base / "clean", "broken": base / "broken"}


def test_a_passing_run_says_so_first(runs: dict[str, Path]) -> None:
    done = cli("summary", str(runs["clean"]))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "### ✅ DPoP conformance: reference — conformant to every MUST that was judged"
    summary = json.loads((runs["clean"] / "results.json").read_text())["summary"]
    header = lines.index("| passed | failed | warning | info | skipped | error |")
    assert cells(lines[header + 2]) == [
        str(summary[k]) for k in ("passed", "failed", "warning", "info", "skipped", "error")
    ]
    assert "#### Findings by cause" not in done.stdout


def test_new_failures_and_findings_of_a_failing_run(runs: dict[str, Path], tmp_path: Path) -> None:
    results: dict[str, Any] = json.loads((runs["broken"] / "results.json").read_text())
    out = tmp_path / "deep" / "summary.md"
    done = cli("summary", str(runs["broken"] / "results.json"), "--output", str(out))
    assert done.returncode == 0 and not done.stdout, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    assert text == render_summary(results)
    lines = text.splitlines()
    new = [c for c in results["cases"] if c["baseline"] == "new" and c["outcome"] == "failed"]
    assert new and results["baseline"]["new"] == len(new) > 1
    assert lines[0] == f"### ❌ DPoP conformance: reference — {len(new)} MUST failures new against the baseline"
    assert f"**{len(new)} new failures**, 1 new warning, 0 still failing, 0 fixed" in text
    # the new failures: one row each, in a table of their own, with what the server answered
    table = text.split("#### What fails the gate (new against the baseline)", 1)[1].split("####", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [cells(r)[0] for r in rows] == [f"`{c['id']}`" for c in new]
    assert all(cells(r)[4].startswith("HTTP 200") for r in rows), rows
    # the findings: one row per cause, as results.json groups them, the ids marked against the baseline
    findings = text.split("#### Findings by cause", 1)[1]
    for group in results["findings"]:
        (row,) = [
            line
            for line in findings.splitlines()
            if line.startswith(f"| {group['outcome']} |") and markdown_cell(group["cause"]) in line
        ]
        assert cells(row)[:2] == [group["outcome"], str(group["count"])]
        for case_id in group["cases"]:
            assert f"`{case_id}`" in row
    assert "(new)" in findings


def test_fail_on_should_turns_a_warning_into_the_verdict() -> None:
    results = {
        "target": {"name": "staging"},
        "summary": {"passed": 3, "failed": 0, "warning": 1, "info": 0, "skipped": 0, "error": 0},
        "cases": [{"id": "as-htu-dot-segment", "outcome": "warning"}],
        "findings": [{"outcome": "warning", "cause": "htu compared raw", "count": 1, "cases": ["as-htu-dot-segment"]}],
    }
    assert render_summary(results).startswith("### ✅ DPoP conformance: staging — conformant to every MUST")
    strict = render_summary(results, fail_on="should")
    assert strict.startswith("### ❌ DPoP conformance: staging — 1 SHOULD violation (the gate counts SHOULD")
    assert "| 3 | 0 | **1** | 0 | 0 | 0 |" in strict
    # recorded in results.json, the run's own gate is the summary's without being asked
    recorded = render_summary({**results, "gate": {"fail_on": "should"}})
    assert recorded == strict


def test_a_setup_failure_names_the_cause_and_the_fix() -> None:
    results = {
        "target": {"name": "staging"},
        "summary": {"passed": 0, "failed": 0, "warning": 0, "info": 0, "skipped": 0, "error": 250},
        "preflight": {
            "ok": False,
            "cause": "the client was refused",
            "got": "401 invalid_client",
            "fix": "check [client]",
        },
        "causes": [{"cause": "the client was refused", "count": 250, "cases": [f"case-{n}" for n in range(250)]}],
    }
    text = render_summary(results)
    assert text.startswith("### ⚠️ DPoP conformance: staging — nothing judged: the setup failed")
    assert "**The setup failed, so no case was judged:** the client was refused" in text
    assert "- fix: check \\[client\\]" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| 250 |")]
    assert "`case-9`, … and 240 more" in row


def test_hostile_strings_stay_in_their_cell_and_show_their_escapes(tmp_path: Path) -> None:
    evil_id = "evil|`id`\x1b[31m"
    evil = "pipe | tick ` esc \x1b]52;c;cm0gLXJm\x07 line\nbreak <img src=x> [link](http://x) **bold** \\| done"
    results = {
        "target": {"name": "t|`\x1b[2J"},
        "summary": {"passed": 0, "failed": 1, "warning": 0, "info": 0, "skipped": 0, "error": "9"},
        "baseline": {"file": "b|`.json", "new": 1, "still_failing": 0, "fixed": 0},
        "cases": [
            {
                "id": evil_id,
                "outcome": "failed",
                "baseline": "new",
                "level": "MUST",
                "section": "4|3",
                "title": evil,
                "message": f"Sent: x\n  Got: {evil}",
            }
        ],
        "findings": [{"outcome": "failed", "cause": evil, "fix": evil, "count": 1, "cases": [evil_id]}],
        "causes": [{"cause": evil, "count": 1, "cases": [evil_id]}],
        "warnings": [evil],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    done = cli("summary", str(path))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text == render_summary(results)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text), "a control character got through"
    assert "\\\\x1b" in text and "\\\\x07" in text and "\\\\x0a" in text  # shown, escaped as Markdown text
    plain = re.sub(r"\\.", "", text)  # every escaped character removed
    assert "<img" not in plain and "](http" not in plain and "**bold**" not in plain and "\\<img" in text
    rows = [line for line in text.splitlines() if "evil" in line]
    assert len(rows) == 3  # new failures, findings, could not be judged: one row each, the line break escaped
    # case, level, section, title, got; outcome, cases, cause, fix, case ids; cases, cause, case ids
    assert [len(cells(row)) for row in rows] == [5, 5, 3]
    for row in rows:
        plain = re.sub(r"\\.", "", row)  # every escaped character removed: nothing special may be left
        assert "`" not in plain and "<" not in plain and "[" not in plain, row
        assert plain.count("|") == len(cells(row)) + 1, row
    assert text.splitlines()[0].startswith("### ❌ DPoP conformance: t\\|\\`\\\\x1b\\[2J — ")
    assert "| 0 | **1** | 0 | 0 | 0 | 0 |" in text  # a count that is not a number counts as none


def test_long_results_make_a_bounded_summary() -> None:
    many = [
        {"outcome": "failed", "cause": f"cause {n} " + "x" * 100_000, "count": 1, "cases": [f"c-{n}"]}
        for n in range(2000)
    ]
    results = {"summary": {"failed": 2000}, "findings": many, "cases": [{"id": "c-0", "outcome": "failed"}]}
    text = render_summary(results)
    assert len(text.encode()) < 100_000  # GitHub keeps 1 MiB of a step summary
    assert "… and 1975 more causes of findings (report.html has them all)" in text


def test_summary_of_something_else_is_a_one_line_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"not": "results"}')
    for target in (tmp_path / "x.json", tmp_path / "missing.json"):
        done = cli("summary", str(target))
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("dpop-conformance: error: ")
