"""dpop-conformance compare: the matrix of several targets' results (a pure function of results.json files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, probe

from conformance.report.compare import load_runs, render_html, render_markdown


def results(
    name: str,
    version: str,
    outcomes: dict[str, str],
    measured: dict[str, dict[str, Any]] | None = None,
    sections: dict[str, str] | None = None,
) -> dict[str, Any]:
    cases = [
        {
            "id": case_id,
            "title": f"title of {case_id}",
            "section": (sections or {}).get(case_id) or ("4.3" if "proof" in case_id else "8"),
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
    assert 'class="differs"' in page and 'id="differ"' in page  # the rows that differ, shown first
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


# --- the HTML page -------------------------------------------------------------------------------------

IAT = {"as-iat-window": {"iat_past_s": 300, "iat_future_s": 60}}
SECTIONS = {"as-iat-window": "11.1"}


def three_targets(tmp_path: Path) -> tuple[list[Path], str]:
    """Three targets: b fails two cases a and c pass, the three others are the same; c measured no iat window."""
    same = {"as-nonce-challenge": "passed", "as-replay-identical": "passed", "as-iat-window": "passed"}
    a = results("vendor-a", "0.1.0", {"rs-proof-ath-hex": "passed", "rs-ath-exact": "passed", **same}, IAT, SECTIONS)
    b = results("vendor-b", "0.1.0", {"rs-proof-ath-hex": "failed", "rs-ath-exact": "failed", **same}, IAT, SECTIONS)
    c = results("vendor-c", "0.1.0", {"rs-proof-ath-hex": "passed", "rs-ath-exact": "passed", **same}, {}, SECTIONS)
    paths = [write(tmp_path, folder, doc) for folder, doc in (("a", a), ("b", b), ("c", c))]
    output = tmp_path / "compare.html"
    return paths, render_html(load_runs([str(p) for p in paths]), output)


class _Counts(HTMLParser):
    """Each target's shown counts ({name: [{outcome: count}, …]}, one dict per place they are shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: dict[str, list[dict[str, int]]] = {}
        self.cells: list[tuple[str, str]] = []  # (class, data-outcome) of every outcome cell
        self._target: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "td" and "cell" in (found.get("class") or "").split():
            self.cells.append((found.get("class") or "", found.get("data-outcome") or ""))
        if tag != "span":
            return
        if "data-target" in found:
            self._target, self._depth = found["data-target"] or "", 0
            self.shown.setdefault(self._target, []).append({})
        elif self._target is not None:
            self._depth += 1
            if "data-count" in found:
                self.shown[self._target][-1][found["data-outcome"] or ""] = int(found["data-count"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._target is not None:
            if self._depth == 0:
                self._target = None
            else:
                self._depth -= 1


def test_page_with_three_targets_has_a_grid_each_linking_to_its_report(tmp_path: Path) -> None:
    _, page = three_targets(tmp_path)
    assert page.count('class="dpop-grid"') == 3
    assert 'href="b/report.html#case-rs-proof-ath-hex"' in page  # a cell of vendor-b's grid, and its table cell
    assert page.index('class="dpop-grid"') < page.index('id="differ"')  # the grids above the tables


def test_rows_sit_under_section_headings_in_rfc_order_with_no_section_column(tmp_path: Path) -> None:
    _, page = three_targets(tmp_path)
    headings = [f'<a href="https://www.rfc-editor.org/rfc/rfc9449#section-{n}">§{n}</a>' for n in ("4.3", "8", "11.1")]
    tables = page[page.index("<details") :]
    assert all(h in tables for h in headings)
    assert tables.index(headings[0]) < tables.index(headings[1]) < tables.index(headings[2])  # 8 before 11.1
    assert "<th>section</th>" not in page and ">section</th>" not in page


def test_differing_rows_come_first_and_show_without_script(tmp_path: Path) -> None:
    _, page = three_targets(tmp_path)
    assert "<script" not in page
    differ, everything = page.index('id="differ"'), page.index('<details id="all">')  # folded, not open
    assert differ < everything and "<details" not in page[:differ]
    shown_first = page[differ:everything]
    assert "<code>rs-proof-ath-hex</code>" in shown_first and "<code>rs-ath-exact</code>" in shown_first
    assert "<code>as-nonce-challenge</code>" not in shown_first  # the same at every target: only under all
    assert "<code>as-nonce-challenge</code>" in page[everything:]
    assert "2 of 5 cases</a> differ" in page


def test_no_difference_is_said_in_one_line_and_every_case_is_open(tmp_path: Path) -> None:
    doc = results("x", "0.1.0", {"rs-proof-ath-hex": "passed", "as-nonce-challenge": "skipped"})
    a, b = write(tmp_path, "a", doc), write(tmp_path, "b", doc)
    page = render_html(load_runs([str(a), str(b)]), tmp_path / "compare.html")
    assert "No case differs: the 2 targets have the same outcome in all 2 cases." in page
    assert 'id="differ"' not in page and '<details id="all" open>' in page


def test_every_shown_count_and_outcome_is_the_results_json_one(tmp_path: Path) -> None:
    paths, page = three_targets(tmp_path)
    parsed = _Counts()
    parsed.feed(page)
    for path in paths:
        doc = json.loads(path.read_text())
        shown = parsed.shown[doc["target"]["name"]]
        assert len(shown) == 3  # the grid's caption and the head of both tables
        assert all(counts == doc["summary"] for counts in shown), shown
    assert len(parsed.cells) == 3 * (2 + 5)  # three targets: the two differing cases, then all five
    assert all(css.split() == ["cell", outcome.replace(" ", "-")] for css, outcome in parsed.cells)
    assert {outcome for _, outcome in parsed.cells} == {"passed", "failed"}


def test_measured_values_are_charts_a_column_per_target(tmp_path: Path) -> None:
    _, page = three_targets(tmp_path)
    measured = page[page.index('id="measured"') : page.index("<details")]
    assert measured.count('class="dpop-chart"') == 2  # the iat window at a's and b's token endpoint
    assert "300 s past … 60 s future" in measured
    assert measured.count("not measured") == 1  # c measured none
    assert "server nonces" in measured and "replayed proof at the AS" in measured


def test_a_case_one_target_did_not_run_is_marked_and_links_nowhere(tmp_path: Path) -> None:
    a = write(tmp_path, "a", results("a", "0.1.0", {"rs-proof-ath-hex": "passed", "rs-proof-new": "passed"}))
    b = write(tmp_path, "b", results("b", "0.0.9", {"rs-proof-ath-hex": "passed"}))
    page = render_html(load_runs([str(a), str(b)]), tmp_path / "compare.html")
    assert '<td class="cell not-run" data-outcome="not run">not run</td>' in page
    assert "0.0.9, 0.1.0" in page  # the version note


def test_hostile_names_and_ids_stay_escaped(tmp_path: Path) -> None:
    name, case_id = "<script>alert(1)</script>\x1b]0;pwned\x07", "rs-proof-\x1b[2J-\u202e<img src=x>"
    a = write(tmp_path, "a", results(name, "0.1.0", {case_id: "failed"}))
    b = write(tmp_path, "b", results("plain", "0.1.0", {case_id: "passed"}))
    page = render_html(load_runs([str(a), str(b)]), tmp_path / "compare.html")
    assert "<script" not in page and "<img" not in page
    assert "\x1b" not in page and "\x07" not in page and "\u202e" not in page  # in the grids' tooltips too
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b]0;pwned\\x07" in page
    assert "rs-proof-\\x1b[2J-\\u202e&lt;img src=x&gt;" in page
    assert 'href="a/report.html#case-rs-proof-%1B%5B2J-%E2%80%AE%3Cimg%20src%3Dx%3E"' in page  # the anchor


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("DPOP_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium package (apt-get install chromium; .ci/run installs it)",
)
def test_page_of_three_targets_fits_a_phone_in_a_browser(tmp_path: Path) -> None:
    paths, page = three_targets(tmp_path)
    out = tmp_path / "compare.html"
    out.write_text(page, encoding="utf-8")
    seen = probe(out, 420)
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]  # the tables scroll in their frame
    assert seen["grids"] == 3 and seen["gridCells"] == [5, 5, 5]
    summaries = {json.loads(p.read_text())["target"]["name"]: json.loads(p.read_text())["summary"] for p in paths}
    assert len(seen["targets"]) == 9 and all(counts == summaries[name] for name, counts in seen["targets"])
