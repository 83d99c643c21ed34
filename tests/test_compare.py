"""dpop-conformance compare: the matrix of several targets' results (a pure function of results.json files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conformance.compare import load_runs, render_html, render_markdown


def results(
    name: str, version: str, outcomes: dict[str, str], measured: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    cases = [
        {
            "id": case_id,
            "title": f"title of {case_id}",
            "section": "4.3" if "proof" in case_id else "8",
            "level": "MUST",
            "actor": case_id[:2].upper(),
            "outcome": outcome,
            "message": "",
            "measurements": (measured or {}).get(case_id, {}),
        }
        for case_id, outcome in outcomes.items()
    ]
    summary: dict[str, int] = {}
    for outcome in outcomes.values():
        summary[outcome] = summary.get(outcome, 0) + 1
    return {
        "suite": {"name": "dpop-conformance", "version": version},
        "target": {"name": name},
        "summary": summary,
        "cases": cases,
    }


def write(tmp_path: Path, folder: str, doc: dict[str, Any], report: bool = True) -> Path:
    directory = tmp_path / folder
    directory.mkdir()
    (directory / "results.json").write_text(json.dumps(doc))
    if report:
        (directory / "report.html").write_text("<html></html>")
    return directory / "results.json"


def test_matrix_marks_differences_missing_cases_and_measurements(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a",
        results(
            "vendor-a",
            "0.1.0",
            {
                "rs-proof-ath-hex": "passed",
                "as-nonce-challenge": "passed",
                "as-replay-identical": "warning",
                "as-advertised-algs-accepted": "passed",
            },
            measured={"as-advertised-algs-accepted": {"algs_accepted": ["ES256", "EdDSA"]}},
        ),
    )
    b = write(
        tmp_path,
        "b",
        results(
            "vendor-b",
            "0.2.0",
            {
                "rs-proof-ath-hex": "failed",
                "as-nonce-challenge": "skipped",
                "as-replay-identical": "passed",
                "rs-proof-new-case": "passed",
            },
        ),
        report=False,
    )
    runs = load_runs([str(a), str(b.parent)])
    page = render_html(runs, tmp_path / "out" / "compare.html")
    assert "vendor-a" in page and "vendor-b" in page
    assert "not run" in page  # rs-proof-new-case at vendor-a, and the algs row at vendor-b
    assert "differs" in page and "only-differences" in page
    assert "../a/report.html" in page and "../b/report.html" not in page
    assert "0.1.0, 0.2.0" in page
    text = render_markdown(runs, only_differences=True)
    assert "`rs-proof-ath-hex`" in text and "**failed**" in text
    assert "| *nonce demanded at the AS* | | | yes | no |" in text
    assert "| *replayed proof at the AS* | | | accepted | refused |" in text
    assert "ES256, EdDSA" in text


def test_same_outcomes_drop_out_with_only_differences(tmp_path: Path) -> None:
    doc = results("x", "0.1.0", {"rs-proof-ath-hex": "passed", "rs-proof-typ-jwt": "failed"})
    a, b = write(tmp_path, "a", doc), write(tmp_path, "b", doc)
    text = render_markdown(load_runs([str(a), str(b)]), only_differences=True)
    assert "rs-proof-ath-hex" not in text and "rs-proof-typ-jwt" not in text
    assert text.splitlines()[0].endswith("| x | x (2) |")


def test_cli_compare_writes_the_page_and_refuses_bad_input(tmp_path: Path) -> None:
    a = write(tmp_path, "a", results("a", "0.1.0", {"rs-proof-ath-hex": "passed"}))
    out = tmp_path / "compare.html"
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "compare", str(a), str(a), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and out.exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "compare", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "not a results.json" in done.stderr
