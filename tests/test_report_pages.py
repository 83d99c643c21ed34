"""report.html as a reader's browser shows it (headless Chromium, tests/browser.py):
every count equals results.json, no warning is labelled passed, the grid is there, and nothing is wider
than a 420 px phone. `pytest tests/test_report_pages.py --screenshots` also saves PNGs of the page at
1400 and 420 px into docs/screenshots/ (the README shows them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, probe, screenshot

# skipped where Chromium is missing, except in CI (.ci/run installs it and sets DPOP_REQUIRE_CHROMIUM)
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("DPOP_REQUIRE_CHROMIUM"),
        reason="needs Debian's chromium package (apt-get install chromium; .ci/run installs it)",
    ),
    pytest.mark.slow,  # whole runs and a browser: left out by `pytest -m "not slow"`
]
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _run(folder: Path, *defects: str) -> Path:
    args = [f"--reference-defect={d}" for d in defects]
    subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(folder), *args, "--", "-m", "not fuzz"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert (folder / "results.json").exists()
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    base = tmp_path_factory.mktemp("pages")
    yield [
        _run(base / "clean"),
        _run(base / "broken", "ath", "htu-normalization", "as-nonce-status"),
        _run(base / "other", "replay", "token-type"),
    ]


@pytest.mark.parametrize("width", [1400, 420])
def test_report_shows_results_json_and_fits_the_screen(runs: list[Path], width: int) -> None:
    folder = runs[1]
    results = json.loads((folder / "results.json").read_text())
    seen = probe(folder / "report.html", width)
    assert seen["counts"] == results["summary"]
    assert seen["grids"] == 1 and seen["gridCells"] == [len(results["cases"])]
    outcomes = {c["id"]: c["outcome"] for c in results["cases"]}
    assert {case_id: outcome for case_id, outcome, _ in seen["labels"]} == outcomes
    assert all(label == outcome for _, outcome, label in seen["labels"])  # a warning is called a warning
    assert "Passed" not in seen["text"]
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]


def test_screenshots_when_asked(runs: list[Path], tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("screenshots"):
        pytest.skip("--screenshots saves the pages as PNGs into docs/screenshots/")
    page = tmp_path / "compare.html"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "compare",
            *(str(r / "results.json") for r in runs),
            "--output",
            str(page),
        ],
        check=True,
        capture_output=True,
    )
    for width in (1400, 420):
        screenshot(runs[1] / "report.html", width, SHOTS / f"report-{width}.png")
        screenshot(page, width, SHOTS / f"compare-{width}.png")
