"""dpop-conformance compare: the matrix of several targets' results (a pure function of results.json files)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, probe

from conformance.report.compare import (
    APPLIES,
    DIFFERS,
    SAME,
    difference,
    load_runs,
    render_html,
    render_markdown,
    verdict_table,
)
from conformance.report.html import render_report
from conformance.report.verdict import run_verdict


def results(
    name: str,
    version: str,
    outcomes: dict[str, str],
    measured: dict[str, dict[str, Any]] | None = None,
    sections: dict[str, str] | None = None,
    levels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A results.json document as the suite writes one (the fields compare and the verdict read)."""
    cases = [
        {
            "id": case_id,
            "title": f"title of {case_id}",
            "section": (sections or {}).get(case_id) or ("4.3" if "proof" in case_id else "8"),
            "level": (levels or {}).get(case_id, "MUST"),
            "actor": case_id[:2].upper(),
            "outcome": outcome,
            "message": "",
            "baseline": "",
            "measurements": (measured or {}).get(case_id, {}),
        }
        for case_id, outcome in outcomes.items()
    ]
    summary = {o: 0 for o in ("passed", "failed", "warning", "info", "skipped", "error")}
    for outcome in outcomes.values():
        summary[outcome] += 1
    return {
        "suite": {"name": "dpop-conformance", "version": version},
        "target": {"name": name},
        "summary": {o: n for o, n in summary.items() if n},
        "preflight": {"ok": True},
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
    header = [line for line in text.splitlines() if line.startswith("| case |")]
    assert header == ["| case | section | level | x | x (2) |"]
    assert "No case differs: the 2 targets have the same outcome in all 2 cases." in text


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
        assert len(shown) == 4  # the verdict line, the grid's caption and the head of both tables
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
    # the verdict line, the grid's caption and the head of both tables, for each of the three
    assert len(seen["targets"]) == 12 and all(counts == summaries[name] for name, counts in seen["targets"])
    for name in summaries:
        assert f"{name}:" in seen["text"]  # its verdict line, shown on the phone too


# --- who passed: a verdict line per target ------------------------------------------------------------


def verdict_targets(tmp_path: Path) -> tuple[list[Path], str]:
    """Three targets, one per verdict, each with its report.html: vendor-a conformant (a SHOULD warned),
    vendor-b two MUST failures, vendor-c a case it could not judge."""
    levels = {"rs-proof-htm-lowercase": "SHOULD"}
    a = results(
        "vendor-a",
        "0.2.0",
        {"rs-proof-ath-hex": "passed", "as-token-type-dpop": "passed", "rs-proof-htm-lowercase": "warning"},
        levels=levels,
    )
    b = results(
        "vendor-b",
        "0.2.0",
        {"rs-proof-ath-hex": "failed", "as-token-type-dpop": "failed", "rs-proof-htm-lowercase": "passed"},
        levels=levels,
    )
    c = results(
        "vendor-c",
        "0.2.0",
        {"rs-proof-ath-hex": "passed", "as-token-type-dpop": "error", "rs-proof-htm-lowercase": "passed"},
        levels=levels,
    )
    paths = []
    for folder, doc in (("a", a), ("b", b), ("c", c)):
        path = write(tmp_path, folder, doc)
        (path.parent / "report.html").write_text(render_report(doc), encoding="utf-8")
        paths.append(path)
    output = tmp_path / "compare.html"
    page = render_html(load_runs([str(p) for p in paths]), output)
    output.write_text(page, encoding="utf-8")
    return paths, page


class _Verdicts(HTMLParser):
    """The verdict lines of the compare page: (class, data-status, data-result, link, sentence) each."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, str]] = []
        self._in: str | None = None  # "line" inside a verdict line, "says" inside its sentence

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "li" and "verdict" in found.get("class", "").split():
            self.lines.append({**found, "href": "", "says": ""})
            self._in = "line"
        elif self._in == "line" and tag == "a" and not self.lines[-1]["href"]:
            self.lines[-1]["href"] = found.get("href", "")
        elif self._in == "line" and tag == "span" and found.get("class") == "says":
            self._in = "says"

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._in = None
        elif tag == "span" and self._in == "says":
            self._in = "line"

    def handle_data(self, data: str) -> None:
        if self._in == "says":
            self.lines[-1]["says"] += data


def test_a_verdict_line_per_target_is_its_run_verdict(tmp_path: Path) -> None:
    paths, page = verdict_targets(tmp_path)
    parsed = _Verdicts()
    parsed.feed(page)
    docs = [json.loads(p.read_text()) for p in paths]
    assert len(parsed.lines) == 3
    for line, doc, folder in zip(parsed.lines, docs, ("a", "b", "c"), strict=True):
        verdict = run_verdict(doc)
        assert line["class"].split() == ["verdict", verdict.css]  # report.html's classes and meaning
        assert line["data-status"] == str(verdict.status) and line["data-result"] == verdict.result
        assert line["says"] == verdict.sentence()  # the page words no verdict of its own
        assert line["href"] == f"{folder}/report.html"
    assert [line["class"].split()[1] for line in parsed.lines] == ["ok", "bad", "unjudged"]
    assert page.index('id="verdicts"') < page.index('id="summary"') < page.index('class="dpop-grid"')
    text = render_markdown(load_runs([str(p) for p in paths]))
    bullets = [line for line in text.splitlines() if line.startswith("- ")]
    assert bullets == [
        f"- \u2705 **vendor-a**: {run_verdict(docs[0]).sentence()} (2 passed, 1 warning)",
        f"- \u274c **vendor-b**: {run_verdict(docs[1]).sentence()} (1 passed, 2 failed)",
        f"- \u26a0\ufe0f **vendor-c**: {run_verdict(docs[2]).sentence()} (2 passed, 1 error)",
    ]
    assert text.index("- \u2705") < text.index("| case |")  # who passed, above the table


def test_a_target_without_a_report_has_its_verdict_line_unlinked(tmp_path: Path) -> None:
    a = write(tmp_path, "a", results("a", "0.2.0", {"rs-proof-ath-hex": "passed"}), report=False)
    b = write(tmp_path, "b", results("b", "0.2.0", {"rs-proof-ath-hex": "failed"}))
    parsed = _Verdicts()
    parsed.feed(render_html(load_runs([str(a), str(b)]), tmp_path / "compare.html"))
    assert [line["href"] for line in parsed.lines] == ["", "b/report.html"]


# --- what differs: MUST first, and what only applies apart ---------------------------------------------

LEVELS = {"rs-proof-htm-lowercase": "SHOULD", "as-nonce-from-rs": "MAY", "rs-proof-b64-padded": "SHOULD"}
SECTIONS_BY_LEVEL = {"as-token-type-dpop": "5", "as-iat-window": "11.1"}


def _rows(page: str) -> list[tuple[str, str]]:
    """(row class, case id) of every case row of the page's tables, in page order."""
    return re.findall(r'<tr(?: class="(\w+)")?><th scope="row" class="case" title="[^"]*"><code>([^<]*)</code>', page)


def _part(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end)]


def test_differences_list_must_before_should_before_may(tmp_path: Path) -> None:
    # in section order, the SHOULD (§4.3) and the MAY (§8) would come before the MUSTs (§5, §11.1)
    a = results(
        "a",
        "0.2.0",
        {
            "rs-proof-htm-lowercase": "passed",
            "as-nonce-from-rs": "passed",
            "as-token-type-dpop": "passed",
            "as-iat-window": "passed",
        },
        sections=SECTIONS_BY_LEVEL,
        levels=LEVELS,
    )
    b = results(
        "b",
        "0.2.0",
        {
            "rs-proof-htm-lowercase": "warning",
            "as-nonce-from-rs": "info",
            "as-token-type-dpop": "failed",
            "as-iat-window": "failed",
        },
        sections=SECTIONS_BY_LEVEL,
        levels=LEVELS,
    )
    runs = load_runs([str(write(tmp_path, "a", a)), str(write(tmp_path, "b", b))])
    page = render_html(runs, tmp_path / "compare.html")
    expected = ["as-token-type-dpop", "as-iat-window", "rs-proof-htm-lowercase", "as-nonce-from-rs"]
    differ = _part(page, 'id="differ"', 'id="measured"')
    assert [case_id for _, case_id in _rows(differ)] == expected
    levels = [differ.index(f'class="case">{level} <span class="level">') for level in ("MUST", "SHOULD", "MAY")]
    assert levels == sorted(levels)  # a heading row per level, in that order
    assert '<tr class="level"><th scope="rowgroup" class="case">MUST <span class="level">2 cases</span>' in differ
    every = page[page.index('<details id="all"') :]  # every case stays in RFC section order
    assert [case_id for _, case_id in _rows(every)] == [
        "rs-proof-htm-lowercase",
        "as-token-type-dpop",
        "as-nonce-from-rs",
        "as-iat-window",
    ]
    text = render_markdown(runs, only_differences=True)
    shown = [line.split("`")[1] for line in text.splitlines() if line.startswith("| `")]
    assert shown == expected


@pytest.mark.parametrize(
    ("outcomes", "kind"),
    [
        (["passed", "passed"], SAME),
        (["skipped", "skipped", "skipped"], SAME),
        (["passed", "skipped"], APPLIES),
        (["info", "skipped"], APPLIES),
        (["passed", "not run"], APPLIES),
        (["failed", "skipped", "failed"], APPLIES),  # where it applies, the same outcome
        (["skipped", "not run"], APPLIES),
        (["passed", "failed"], DIFFERS),
        (["passed", "warning", "skipped"], DIFFERS),
        (["passed", "info"], DIFFERS),
        (["passed", "error"], DIFFERS),
    ],
)
def test_difference_tells_what_only_applies_from_what_differs(outcomes: list[str], kind: str) -> None:
    assert difference(outcomes) == kind


def applicability_targets(tmp_path: Path) -> list[Path]:
    """One real difference (as-token-type-dpop: passed, failed), four that only apply at one target (skipped
    or not run there, the same outcome where judged) and one that is the same (rs-proof-ath-hex)."""
    a = results(
        "vendor-a",
        "0.2.0",
        {
            "rs-proof-ath-hex": "passed",
            "as-token-type-dpop": "passed",
            "as-nonce-challenge": "passed",
            "as-nonce-from-rs": "info",
            "rs-proof-b64-padded": "failed",
            "rs-proof-new-case": "passed",
        },
        sections=SECTIONS_BY_LEVEL,
        levels=LEVELS,
    )
    b = results(
        "vendor-b",
        "0.1.0",
        {
            "rs-proof-ath-hex": "passed",
            "as-token-type-dpop": "failed",
            "as-nonce-challenge": "skipped",
            "as-nonce-from-rs": "skipped",
            "rs-proof-b64-padded": "skipped",
        },
        sections=SECTIONS_BY_LEVEL,
        levels=LEVELS,
    )
    return [write(tmp_path, "a", a), write(tmp_path, "b", b)]


# in the order the page lists them: by level, then by section (rs-proof-new-case is §4.3, as-nonce-challenge §8)
APPLY_ONLY = ["rs-proof-new-case", "as-nonce-challenge", "rs-proof-b64-padded", "as-nonce-from-rs"]


def test_rows_that_differ_only_in_what_applies_are_apart_and_not_counted(tmp_path: Path) -> None:
    runs = load_runs([str(p) for p in applicability_targets(tmp_path)])
    page = render_html(runs, tmp_path / "compare.html")
    assert (
        '<a href="#differ">1 of 6 cases</a> differs between the 2 targets; '
        '<a href="#applies">4 more cases</a> differ only in what applies' in page
    )
    assert "Where the targets differ (1 case)</h2>" in page
    assert _rows(_part(page, 'id="differ"', 'id="applies"')) == [("differs", "as-token-type-dpop")]
    apart = _part(page, 'id="applies"', 'id="measured"')
    assert _rows(apart) == [("applies", case_id) for case_id in APPLY_ONLY]  # grey, never the red bar
    every = dict((case_id, css) for css, case_id in _rows(page[page.index('<details id="all"') :]))
    assert every == {"as-token-type-dpop": "differs", "rs-proof-ath-hex": "", **dict.fromkeys(APPLY_ONLY, "applies")}
    assert "tr.applies th.case,.applies-mark{box-shadow:inset 4px 0 #9aa0a6}" in page  # grey, the red is differs'
    assert "a grey bar: the targets differ only in what applies" in page  # the legend says so
    text = render_markdown(runs, only_differences=True)
    assert "1 of 6 cases differs between the 2 targets; 4 more cases differ only in what applies" in text
    lines = text.splitlines()
    differ = lines.index("| **where the targets differ (1)** | | | | |")
    apart_at = lines.index("| **differ only in what applies (4)** | | | | |")
    assert lines[differ + 1].startswith("| `as-token-type-dpop` |") and apart_at == differ + 2
    assert [line.split("`")[1] for line in lines[apart_at + 1 :] if line.startswith("| `")] == APPLY_ONLY
    assert "rs-proof-ath-hex" not in text  # the same at both: left out with --only-differences
    everything = render_markdown(runs)
    assert "| **the same at every target (1)** | | | | |" in everything and "`rs-proof-ath-hex`" in everything


def test_only_applicability_differences_say_no_case_differs(tmp_path: Path) -> None:
    a = write(tmp_path, "a", results("a", "0.2.0", {"as-nonce-challenge": "passed", "rs-proof-ath-hex": "passed"}))
    b = write(tmp_path, "b", results("b", "0.2.0", {"as-nonce-challenge": "skipped", "rs-proof-ath-hex": "passed"}))
    page = render_html(load_runs([str(a), str(b)]), tmp_path / "compare.html")
    assert (
        "No case differs between the 2 targets where it applies to them; "
        '<a href="#applies">1 case</a> differs only in what applies' in page
    )
    assert 'id="differ"' not in page and 'class="differs"' not in page
    assert '<details id="all">' in page  # folded: the case that differs in what applies is shown above


# --- the terminal table after a run over several targets ------------------------------------------------


def test_verdict_table_has_a_line_per_target_with_its_verdict_and_counts(tmp_path: Path) -> None:
    paths, _ = verdict_targets(tmp_path)
    hostile = results("\x1b]0;x\x07\u202eev", "0.2.0", {"rs-proof-ath-hex": "passed"})
    long_name = results("a-target-whose-name-goes-on-and-on-and-on", "0.2.0", {"rs-proof-ath-hex": "passed"})
    paths += [write(tmp_path, "d", hostile), write(tmp_path, "e", long_name)]
    runs = load_runs([str(p) for p in paths])
    lines = verdict_table(runs, width=120)
    assert len(lines) == 5
    counts = ["2 passed, 1 warning", "1 passed, 2 failed", "2 passed, 1 error", "1 passed", "1 passed"]
    for line, run, count in zip(lines, runs, counts, strict=True):
        assert line.endswith(f"  {run_verdict(run.results).text} ({count})") and len(line) <= 120
    for line, run in zip(verdict_table(runs), runs, strict=True):  # 100 wide: the counts cut, the verdict whole
        assert f"  {run_verdict(run.results).text} (" in line and len(line) <= 100
    column = lines[0].index("passed")  # the verdict words line up
    assert [line[column:].split()[0] for line in lines] == ["passed", "failed", "not-judged", "passed", "passed"]
    assert lines[0].startswith("vendor-a ")
    assert lines[3].startswith("\\x1b]0;x\\x07\\u202eev ")  # shown, never obeyed
    assert not any(re.search("[\x00-\x1f\x7f-\x9f\u202e]", line) for line in lines)
    assert lines[4].startswith("a-target-whose-name-goe\u2026  passed")  # a long name is cut, not the columns
    narrow = verdict_table(runs, width=70)  # too narrow for the counts: they are cut, never the verdict
    assert all(len(line) <= 70 for line in narrow)
    assert narrow[1].endswith(f"  {run_verdict(runs[1].results).text} (1 passed, 2 f\u2026)")
    assert all(len(line) <= 30 for line in verdict_table(runs, width=30))
    assert verdict_table([]) == []


# --- the verdict lines in a browser ------------------------------------------------------------------

_VERDICT_STYLES = """<script>
window.addEventListener('load', () => {
  const seen = [...document.querySelectorAll('.verdict')].map(e => {
    const style = getComputedStyle(e), says = e.querySelector('.says');
    return {status: e.dataset.status, color: style.color, background: style.backgroundColor,
            says: (says || e).innerText};
  });
  const pre = document.createElement('pre'); pre.style.whiteSpace = 'pre-wrap';
  pre.textContent = 'VERDICTS=' + JSON.stringify(seen); document.body.appendChild(pre);
});
</script>"""


def _verdict_styles(page: Path, width: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """What `probe` sees of `page`, and each verdict's colours as the browser computes them."""
    copy = page.with_name("styles-" + page.name)
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", _VERDICT_STYLES + "</body>"), encoding="utf-8")
    seen = probe(copy, width)
    found = re.search(r"VERDICTS=(\[.*\])", seen["text"])
    assert found, seen["text"][-500:]
    styles: list[dict[str, str]] = json.loads(found.group(1))
    return seen, styles


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("DPOP_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium package (apt-get install chromium; .ci/run installs it)",
)
def test_verdict_lines_have_the_colours_of_each_report_in_a_browser(tmp_path: Path) -> None:
    paths, _ = verdict_targets(tmp_path)
    seen, lines = _verdict_styles(tmp_path / "compare.html", 420)
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]
    assert len(lines) == 3
    for line, path in zip(lines, paths, strict=True):
        verdict = run_verdict(json.loads(path.read_text()))
        _, (report,) = _verdict_styles(path.parent / "report.html", 1400)
        assert line["status"] == report["status"] == str(verdict.status)
        assert (line["color"], line["background"]) == (report["color"], report["background"])  # as on report.html
        assert line["says"] == report["says"] == verdict.sentence()
    assert len({(line["color"], line["background"]) for line in lines}) == 3  # ok, bad, unjudged: three colours
