"""The vendor matrix: every harness of targets/ in every configuration, run, then docs/vendors.md and
docs/vendors/compare.html written from the runs.

    python tests/vendor_matrix.py                 # install, start, run and stop each harness; then both pages
    python tests/vendor_matrix.py --only pydpop   # one harness (the pages then show only it: for trying)
    python tests/vendor_matrix.py --render-only   # the pages again from the runs kept in reports/vendors/

Each run is the one tests/test_vendors.py holds to the harness's expectations (`--fuzz-seed 1`, `--actor` as
the harness says): its report folder is reports/vendors/<harness>-<configuration>/. The page has a line per
implementation and configuration with its verdict and counts, the cases where the implementations differ (MUST
first), each cell linking to its explanation, and per implementation its deviations as ready-to-file bug
reports: what was sent, what came back, the RFC sentence, the source line, a curl command. Every explanation is
the expectation's (targets/<name>/expectations.toml), the evidence the run's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vendor_harness import (
    FINDINGS,
    ROOT,
    SEEDS,
    Expectation,
    Harness,
    HarnessError,
    StartFailure,
    discover,
    install,
    load_expectations,
    run_suite,
    running,
)

from conformance.printable import markdown_cell, printable
from conformance.report.compare import APPLIES, DIFFERS, difference, load_runs, render_html
from conformance.report.verdict import run_verdict

REPORTS = ROOT / "reports" / "vendors"
PAGE = ROOT / "docs" / "vendors.md"
COMPARE = ROOT / "docs" / "vendors" / "compare.html"
OUTCOMES = ("passed", "failed", "warning", "info", "skipped", "error")
_LEVEL_ORDER = {"MUST": 0, "SHOULD": 1, "MAY": 2}
_OUTCOME_ORDER = {o: i for i, o in enumerate(("failed", "warning", "info", "error", "skipped"))}


@dataclass(frozen=True)
class MatrixRun:
    """One harness in one configuration: its expectations and the results of its run."""

    harness: Harness
    configuration: str
    expected: dict[str, Expectation]
    results: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.harness.name}-{self.configuration}"

    @property
    def outcomes(self) -> dict[str, str]:
        return {str(c["id"]): str(c["outcome"]) for c in self.results.get("cases", [])}


def run_all(harnesses: Sequence[Harness]) -> None:
    """Install, start, run (fuzz seed 1) and stop every harness in every configuration, into reports/vendors/."""
    for harness in harnesses:
        install(harness)
        for configuration in harness.configurations:
            folder = REPORTS / f"{harness.name}-{configuration}"
            print(f"vendor matrix: {harness.name} ({configuration}) ...", file=sys.stderr, flush=True)
            with (
                tempfile.TemporaryDirectory(prefix="dpop-vendor-") as scratch,
                running(harness, configuration, Path(scratch) / "run") as stack,
            ):
                run_suite(stack, folder, SEEDS[0])


def collect(harnesses: Sequence[Harness]) -> list[MatrixRun]:
    """The kept run of every harness and configuration (a missing one is an error naming the command)."""
    found = []
    for harness in harnesses:
        expectations = load_expectations(harness)
        for configuration in harness.configurations:
            path = REPORTS / f"{harness.name}-{configuration}" / "results.json"
            if not path.exists():
                raise HarnessError(
                    f"no run of {harness.name} ({configuration}) in {path.parent}: run without --render-only"
                )
            results = json.loads(path.read_text(encoding="utf-8"))
            found.append(MatrixRun(harness, configuration, expectations[configuration], results))
    return found


# --- docs/vendors.md ------------------------------------------------------------------------------------------


def _cell(text: object, limit: int = 400) -> str:
    value = markdown_cell(str(text))
    return value if len(value) <= limit else value[: limit - 1].rstrip("\\") + "…"


def _message_line(case: dict[str, Any], label: str) -> str:
    for line in str(case.get("message", "")).splitlines():
        if line.startswith(label + ":"):
            return line[len(label) + 1 :].strip()
    return ""


def render_page(runs: Sequence[MatrixRun], catalog: dict[str, dict[str, Any]], suite_version: str) -> str:
    """docs/vendors.md from the runs and their expectations."""
    harnesses = list(dict.fromkeys(r.harness.name for r in runs))
    by_harness = {name: [r for r in runs if r.harness.name == name] for name in harnesses}
    lines = [
        "# DPoP implementations side by side",
        "",
        f"The suite (dpop-conformance {suite_version}) against {len(harnesses)} real DPoP implementations nobody on "
        "this team wrote, each pinned and started on loopback by its harness in `targets/` "
        "([targets/README.md](../targets/README.md)), in every configuration it offers that changes DPoP behaviour. "
        "Every case that does not pass is explained from the implementation's source and the RFC "
        "(`targets/<name>/expectations.toml`), and `tests/test_vendors.py` holds every run to those expectations in "
        "CI, so this page shows verdicts that are checked, not remembered. The same runs side by side, case by case: "
        "[vendors/compare.html](vendors/compare.html).",
        "",
        "Generated by `python tests/vendor_matrix.py` (it installs, starts and runs every harness, then writes this "
        "page and the compare page; `--render-only` writes them again from the runs kept in `reports/vendors/`). "
        "Each run is `dpop-conformance run --fuzz-seed 1`, with `--actor RS` for an implementation that is "
        "resource-side only (its tokens then come from a small correct authorization server of the harness's own, "
        "which is not judged).",
        "",
        "## Implementations",
        "",
        "One line per implementation: its worst verdict over its configurations, the MUST cases it fails in any of "
        "them, and how many expectations (explained non-passes) its harness holds.",
        "",
        "| implementation | judged | configurations | verdict | MUST failures | expectations |",
        "|---|---|---:|---|---|---:|",
        *(_implementation_line(by_harness[name]) for name in harnesses),
        "",
        "## Verdicts by configuration",
        "",
        "| implementation | configuration | verdict | " + " | ".join(OUTCOMES) + " |",
        "|---|---|---|" + "---:|" * len(OUTCOMES),
    ]
    for run in runs:
        summary = run.results.get("summary", {})
        verdict = run_verdict(run.results)
        mark = {0: "✅", 1: "❌"}.get(verdict.status, "⚠️")
        cells = [
            f'<a id="{run.key}"></a>[{_cell(run.harness.title)}](#{run.harness.name})',
            f"{_cell(run.configuration)}: {_cell(run.harness.configurations[run.configuration])}",
            f"{mark} {_cell(verdict.text)}",
            *(
                f"**{summary.get(o, 0)}**" if o == "failed" and summary.get(o) else str(summary.get(o, 0))
                for o in OUTCOMES
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_differences(runs, by_harness, catalog), ""]
    for name in harnesses:
        lines += _implementation(by_harness[name], catalog)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


_JUDGED = {"both": "authorization and resource server", "AS": "authorization server", "RS": "resource server"}


def _implementation_line(runs: list[MatrixRun]) -> str:
    """One implementation in one table row: the worst of its configurations' verdicts, its MUST failures."""
    harness = runs[0].harness
    verdicts = [run_verdict(r.results) for r in runs]
    # the gravest: a MUST failure over could-not-judge over a pass, then the most cases failed
    failed = [int(r.results.get("summary", {}).get("failed", 0)) for r in runs]
    worst, _ = max(
        zip(verdicts, failed, strict=True), key=lambda pair: (pair[0].status == 1, pair[0].status == 3, pair[1])
    )
    mark = {0: "✅", 1: "❌"}.get(worst.status, "⚠️")
    failing = sorted(
        {
            str(c["id"])
            for r in runs
            for c in r.results.get("cases", [])
            if c.get("outcome") == "failed" and c.get("level") == "MUST"
        }
    )
    must = ", ".join(f"[`{_cell(case)}`](#{harness.name}-{case})" for case in failing) or "none"
    # an entry of [all] counts once, however many configurations it holds for
    expectations = len({(x.table, case) for r in runs for case, x in r.expected.items()})
    return (
        f"| [{_cell(harness.title)}](#{harness.name}) | {_JUDGED.get(harness.actor, harness.actor)} | {len(runs)} | "
        f"{mark} {_cell(worst.text)} | {must} | {expectations} |"
    )


def _differences(
    runs: Sequence[MatrixRun], by_harness: dict[str, list[MatrixRun]], catalog: dict[str, dict[str, Any]]
) -> list[str]:
    """The cases where the implementations differ, MUST first; each cell links to its explanation."""
    case_ids = sorted({c for r in runs for c in r.outcomes})
    differing = []
    applies = 0
    for case_id in case_ids:
        kind = difference(r.outcomes.get(case_id, "not run") for r in runs)
        if kind == DIFFERS:
            differing.append(case_id)
        elif kind == APPLIES:
            applies += 1
    info = catalog
    differing.sort(
        key=lambda c: (_LEVEL_ORDER.get(str(info.get(c, {}).get("level")), 3), str(info.get(c, {}).get("section")), c)
    )
    names = list(by_harness)
    lines = [
        "## Where they differ",
        "",
        f"{len(differing)} cases have different outcomes at different implementations (MUST first); {applies} more "
        "differ only in what applies (skipped, or not run at a resource-side-only implementation) and are left out "
        "here. A cell names each configuration's outcome where they differ, and links to the explanation.",
        "",
        "| case | level | " + " | ".join(_cell(by_harness[n][0].harness.title) for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for case_id in differing:
        cells = []
        for name in names:
            outcomes = {r.configuration: r.outcomes.get(case_id, "not run") for r in by_harness[name]}
            distinct = set(outcomes.values())
            text = next(iter(distinct)) if len(distinct) == 1 else ", ".join(f"{o} ({c})" for c, o in outcomes.items())
            explained = any(case_id in r.expected for r in by_harness[name])
            cells.append(f"[{text}](#{name}-{case_id})" if explained else text)
        level = str(info.get(case_id, {}).get("level", ""))
        lines.append(f"| `{case_id}` | {level} | " + " | ".join(cells) + " |")
    return lines


def _implementation(runs: list[MatrixRun], catalog: dict[str, dict[str, Any]]) -> list[str]:
    """An implementation's section: what it is, and its deviations as bug reports, then what does not apply."""
    harness = runs[0].harness
    lines = [
        f'## <a id="{harness.name}"></a>{_cell(harness.title)}',
        "",
        f"{_cell(harness.summary)} ([{_cell(harness.url)}]({harness.url}); harness: "
        f"[targets/{harness.name}/](../targets/{harness.name}/), runs judging "
        f"{'both sides' if harness.actor == 'both' else 'the ' + harness.actor + ' only'}). Configurations: "
        + "; ".join(f"`{c}` ({_cell(d)})" for c, d in harness.configurations.items())
        + ".",
        "",
    ]
    entries: dict[str, list[tuple[MatrixRun, Expectation]]] = {}
    for run in runs:
        for case_id, entry in run.expected.items():
            entries.setdefault(case_id, []).append((run, entry))
    findings = {c: e for c, e in entries.items() if any(x.outcome in FINDINGS for _, x in e)}
    ordered = sorted(
        findings,
        key=lambda c: (
            min(_OUTCOME_ORDER.get(x.outcome, 9) for _, x in findings[c]),
            _LEVEL_ORDER.get(str(catalog.get(c, {}).get("level")), 3),
            c,
        ),
    )
    if not ordered:
        lines += ["Every case that applies passes in every configuration.", ""]
    for case_id in ordered:
        lines += _report(harness, case_id, findings[case_id], catalog.get(case_id, {}))
    rest = {c: e for c, e in entries.items() if c not in findings}
    if rest:
        lines += [
            f"### What does not apply, or could not be judged, at {_cell(harness.title)}",
            "",
            "| case | outcome | why | where |",
            "|---|---|---|---|",
        ]
        for case_id in sorted(rest):
            outcome = _outcome_text([(r.configuration, x.outcome) for r, x in rest[case_id]], len(runs))
            first = rest[case_id][0][1]
            lines.append(
                f'| <a id="{harness.name}-{case_id}"></a>`{case_id}` | {outcome} | {_cell(first.reason)} '
                f"({_cell(first.rfc)}) | {_cell(first.source)} |"
            )
        lines.append("")
    return lines


def _outcome_text(pairs: list[tuple[str, str]], configurations: int) -> str:
    """ "warning" when every configuration says so, else each configuration's ("warning (on)")."""
    if len(pairs) == configurations and len({o for _, o in pairs}) == 1:
        return pairs[0][1]
    return ", ".join(f"{o} ({c})" for c, o in pairs)


def _report(
    harness: Harness, case_id: str, pairs: list[tuple[MatrixRun, Expectation]], info: dict[str, Any]
) -> list[str]:
    """One deviation as a bug report: the title, what the implementation does, the RFC sentence, the source line,
    and the evidence of the run (what was sent, what came back, the curl command)."""
    run, entry = next((r, x) for r, x in pairs if x.outcome in FINDINGS)
    outcome = _outcome_text([(r.configuration, x.outcome) for r, x in pairs], len(harness.configurations))
    configurations = ", ".join(f"`{r.configuration}`" for r, _ in pairs)
    case: dict[str, Any] = next((c for c in run.results.get("cases", []) if c.get("id") == case_id), {})
    lines = [
        f'### <a id="{harness.name}-{case_id}"></a>`{case_id}`: {outcome}',
        "",
        f"**{_cell(info.get('title', case_id))}** ({info.get('level', '?')}, RFC 9449 §{info.get('section', '?')}; "
        f"configurations: {configurations})",
        "",
        f"- **What it does:** {_cell(entry.reason)}",
        f"- **Where:** {_cell(entry.source)}",
        f"- **The RFC:** {_cell(entry.rfc)}",
    ]
    for label, key in (("Sent", "Sent"), ("Expected", "Expected"), ("Got", "Got")):
        text = _message_line(case, key)
        if text:
            lines.append(f"- **{label}:** {_cell(text, 600)}")
    if case.get("fix"):
        lines.append(f"- **Fix:** {_cell(case['fix'])}")
    curl = _message_line(case, "Reproduce")
    if curl:
        lines += ["", "```sh", printable(curl)[:1500], "```"]
    lines.append("")
    return lines


def write_compare(runs: Sequence[MatrixRun]) -> None:
    """docs/vendors/compare.html: the runs side by side (from copies of their results.json: the reports stay out
    of the repository, so the page links to none)."""
    COMPARE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dpop-vendor-compare-") as scratch:
        paths = []
        for run in runs:
            folder = Path(scratch) / run.key
            folder.mkdir()
            results = dict(run.results)
            results["target"] = {**results.get("target", {}), "name": f"{run.harness.title} ({run.configuration})"}
            (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
            paths.append(str(folder / "results.json"))
        COMPARE.write_text(render_html(load_runs(paths), COMPARE.resolve()), encoding="utf-8")


def catalog_of(runs: Sequence[MatrixRun]) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for run in runs:
        for case in run.results.get("cases", []):
            cases.setdefault(str(case["id"]), case)
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/vendor_matrix.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME", help="one harness (targets/NAME)")
    parser.add_argument("--render-only", action="store_true", help="write the pages from the runs in reports/vendors/")
    args = parser.parse_args(argv)
    try:
        harnesses = discover(args.only)
        if not args.render_only:
            if REPORTS.exists() and not args.only:
                shutil.rmtree(REPORTS)
            run_all(harnesses)
        runs = collect(harnesses)
    except (HarnessError, StartFailure) as exc:
        print(f"vendor_matrix: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    from conformance import __version__

    PAGE.write_text(render_page(runs, catalog_of(runs), __version__), encoding="utf-8")
    write_compare(runs)
    print(f"vendor_matrix: wrote {PAGE.relative_to(ROOT)} and {COMPARE.relative_to(ROOT)} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
