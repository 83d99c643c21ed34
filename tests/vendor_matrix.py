"""The vendor matrix: every harness of targets/ in every configuration, and every client harness of
targets/clients/, run, then docs/vendors.md and docs/vendors/compare.html written from the runs.

    python tests/vendor_matrix.py                 # install, start, run and stop each harness; then both pages
    python tests/vendor_matrix.py --only pydpop   # one harness, server or client (the pages then show only it)
    python tests/vendor_matrix.py --render-only   # the pages again from the runs kept in reports/vendors/

Each run is the one tests/test_vendors.py holds to the harness's expectations (`--fuzz-seed 1`, `--actor` as
the harness says): its report folder is reports/vendors/<harness>-<configuration>/. The page has a line per
implementation and configuration with its verdict and counts, the cases where the implementations differ (MUST
first), each cell linking to its explanation, and per implementation its deviations as ready-to-file bug
reports: what was sent, what came back, the RFC sentence, the source line, a curl command. Every explanation is
the expectation's (targets/<name>/expectations.toml), the evidence the run's.

Each client harness (targets/clients/<name>/) is run as tests/test_client_vendors.py runs it
(tests/client_vendor_harness.py's run(): every scenario its capabilities allow), its reports (results.json,
report.html, junit.xml, through the client command's own writer) and its judged pairs (pairs.json: each
(scenario, check) outcome and the suite's finding, redacted) kept in reports/vendors/clients/<name>/. The page's
"Clients" section has a line per client with its verdict and counts, the (scenario, check) pairs where the clients
differ (MUST first), and per client each non-pass with its expectation's reason, source and RFC sentence and the
suite's finding.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import client_vendor_harness as clients
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

from conformance.client.evidence import mask_secret_members
from conformance.printable import markdown_cell, printable
from conformance.report.compare import APPLIES, DIFFERS, NOT_RUN, difference, load_runs, render_html
from conformance.report.verdict import run_verdict
from conformance.run.client_results import check_infos, client_results, run_redactor, write_client_reports

REPORTS = ROOT / "reports" / "vendors"
CLIENT_REPORTS = REPORTS / "clients"
_LOOPBACK = re.compile(r"(127\.0\.0\.1|localhost):\d+")
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


def render_page(
    runs: Sequence[MatrixRun],
    catalog: dict[str, dict[str, Any]],
    suite_version: str,
    client_runs: Sequence[ClientMatrixRun] = (),
) -> str:
    """docs/vendors.md from the runs and their expectations (the servers', then the clients')."""
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
        "which is not judged). The client libraries of `targets/clients/` are judged by `dpop-conformance client` "
        "and have a section of their own: [Clients](#clients).",
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
    lines += render_clients(client_runs)
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


# --- the clients (targets/clients/) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientMatrixRun:
    """One client harness: its expectations, its run's results.json and its judged (scenario, check) pairs."""

    harness: clients.Harness
    expected: list[clients.Expected]
    results: dict[str, Any]
    pairs: dict[str, Any]  # pairs.json: {"scenarios": [{"id", "returncode", "stopped", "seconds", "checks": {...}}]}

    @property
    def outcomes(self) -> dict[tuple[str, str], str]:
        """(scenario, check) → outcome, for every pair judged or skipped."""
        return {
            (str(s["id"]), check): str(r["outcome"])
            for s in self.pairs.get("scenarios", [])
            for check, r in s.get("checks", {}).items()
        }

    def finding(self, scenario: str, check: str) -> str:
        """The suite's message for one pair, its loopback ports written <port> (they change every run)."""
        for s in self.pairs.get("scenarios", []):
            if s.get("id") == scenario:
                return _LOOPBACK.sub(r"\1:<port>", str(s.get("checks", {}).get(check, {}).get("message", "")))
        return ""


def run_clients(harnesses: Sequence[clients.Harness]) -> None:
    """Install and run every client harness in every scenario its capabilities allow; keep its reports and pairs."""
    for harness in harnesses:
        print(f"vendor matrix: client {harness.name} ...", file=sys.stderr, flush=True)
        clients.install(harness)
        started = time.time()
        run = clients.run(harness)
        folder = CLIENT_REPORTS / harness.name
        if folder.exists():
            shutil.rmtree(folder)
        results, details = client_results(
            run,
            target={"name": harness.title, "command": harness.command, "capabilities": list(harness.capabilities)},
            selected=check_infos(),
            secret=run.client_secret,
            started=started,
        )
        write_client_reports(results, details, folder)
        redactor = run_redactor(run, run.client_secret)  # the same masks as the run's own reports
        pairs = {
            "harness": harness.name,
            "scenarios": [
                {
                    "id": s.scenario,
                    "returncode": s.returncode,
                    "stopped": s.stopped,
                    "seconds": round(s.seconds, 3),
                    "requests": len(s.requests),
                    "checks": {
                        check: {
                            "outcome": r.outcome.value,
                            **(
                                {"message": mask_secret_members(redactor.redact(r.message))}
                                if r.outcome.value not in ("passed", "skipped")
                                else {}
                            ),
                        }
                        for check, r in s.results.items()
                    },
                }
                for s in run.scenarios
            ],
        }
        (folder / "pairs.json").write_text(json.dumps(pairs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def collect_clients(harnesses: Sequence[clients.Harness]) -> list[ClientMatrixRun]:
    """The kept run of every client harness (a missing one is an error naming the command)."""
    found = []
    for harness in harnesses:
        folder = CLIENT_REPORTS / harness.name
        if not (folder / "pairs.json").exists() or not (folder / "results.json").exists():
            raise HarnessError(f"no run of client {harness.name} in {folder}: run without --render-only")
        found.append(
            ClientMatrixRun(
                harness,
                clients.load_expectations(harness),
                json.loads((folder / "results.json").read_text(encoding="utf-8")),
                json.loads((folder / "pairs.json").read_text(encoding="utf-8")),
            )
        )
    return found


def client_anchor(harness: str, table: str, check: str) -> str:
    """The page's anchor of one client expectation ([table.check] of targets/clients/<harness>/expectations.toml)."""
    return f"client-{harness}-{table}-{check}"


def render_clients(runs: Sequence[ClientMatrixRun]) -> list[str]:
    """docs/vendors.md's "Clients" section: a line per client, where they differ, each client's non-passes."""
    if not runs:
        return []
    infos = {i.id: i for i in check_infos()}
    lines = [
        "## Clients",
        "",
        f"The suite judging {len(runs)} real DPoP client libraries nobody on this team wrote (`dpop-conformance "
        "client`: it plays the authorization and resource server on loopback and runs the client's command once "
        "per scenario), each behind the smallest script its documentation shows, pinned in "
        "`targets/clients/<name>/` ([targets/clients/README.md](../targets/clients/README.md)). Every "
        "(scenario, check) that does not pass is explained from the library's source and the RFC "
        "(`targets/clients/<name>/expectations.toml`), and `tests/test_client_vendors.py` holds every run to those "
        "expectations in CI. A check's outcome in a client's line is its worst over the scenarios (as the client "
        "command's report.html shows it); the pairs are every scenario's judged checks.",
        "",
        "| client | scenarios | verdict | MUST failures | checks: " + " / ".join(OUTCOMES) + " | judged pairs: "
        "failed / warning / info / error | expectations |",
        "|---|---:|---|---|---|---|---:|",
    ]
    for run in runs:
        summary = run.results.get("summary", {})
        verdict = run_verdict(run.results)
        mark = {0: "✅", 1: "❌"}.get(verdict.status, "⚠️")
        must = sorted(
            str(c["id"])
            for c in run.results.get("cases", [])
            if c.get("outcome") == "failed" and c.get("level") == "MUST"
        )
        pairs = list(run.outcomes.values())
        name = run.harness.name
        lines.append(
            f"| [{_cell(run.harness.title)}](#client-{name}) | {len(run.pairs.get('scenarios', []))} | {mark} "
            f"{_cell(verdict.text)} | {', '.join(f'`{c}`' for c in must) or 'none'} | "
            + " / ".join(str(summary.get(o, 0)) for o in OUTCOMES)
            + " | "
            + " / ".join(str(pairs.count(o)) for o in ("failed", "warning", "info", "error"))
            + f" | {len(run.expected)} |"
        )
    lines += ["", *_client_differences(runs, infos), ""]
    for run in runs:
        lines += _client_section(run, infos)
    return lines


def _client_differences(runs: Sequence[ClientMatrixRun], infos: dict[str, Any]) -> list[str]:
    """The (scenario, check) pairs whose outcomes differ between the clients, MUST first."""
    keys = sorted({k for r in runs for k in r.outcomes})
    order = {s: i for i, s in enumerate(clients._SCENARIO_IDS)}
    differing = [k for k in keys if difference(r.outcomes.get(k, NOT_RUN) for r in runs) == DIFFERS]
    applies = sum(1 for k in keys if difference(r.outcomes.get(k, NOT_RUN) for r in runs) == APPLIES)
    differing.sort(key=lambda k: (_LEVEL_ORDER.get(str(infos[k[1]].level.value), 3), order.get(k[0], 99), k[1]))
    lines = [
        "### Where the clients differ",
        "",
        f"{len(differing)} (scenario, check) pairs have different outcomes at different clients (MUST first); "
        f"{applies} more differ only in what applies (skipped, or a scenario a client's capabilities do not run). "
        "A cell links to its explanation.",
        "",
        "| scenario | check | level | " + " | ".join(_cell(r.harness.title) for r in runs) + " |",
        "|---|---|---|" + "---|" * len(runs),
    ]
    for scenario, check in differing:
        cells = []
        for run in runs:
            outcome = run.outcomes.get((scenario, check), NOT_RUN)
            entry = clients.expected_for(run.expected, scenario, check, outcome != "skipped")
            cells.append(
                f"[{outcome}](#{client_anchor(run.harness.name, entry.table, check)})" if entry is not None else outcome
            )
        lines.append(f"| `{scenario}` | `{check}` | {infos[check].level.value} | " + " | ".join(cells) + " |")
    return lines


def _client_section(run: ClientMatrixRun, infos: dict[str, Any]) -> list[str]:
    """One client: what it is, then each expectation (a non-pass) with the scenarios it held in and the finding."""
    harness = run.harness
    name = harness.name
    lines = [
        f'### <a id="client-{name}"></a>{_cell(harness.title)}',
        "",
        f"{_cell(harness.summary)} ([{_cell(harness.url)}]({harness.url}); harness: "
        f"[targets/clients/{name}/](../targets/clients/{name}/); capabilities: "
        f"{', '.join(f'`{c}`' for c in harness.capabilities) or 'none'}).",
        "",
    ]
    outcomes = run.outcomes
    held: dict[tuple[str, str], list[str]] = {}
    unexplained: list[tuple[str, str]] = []
    for (scenario, check), outcome in outcomes.items():
        if outcome in ("passed", "skipped"):
            continue
        entry = clients.expected_for(run.expected, scenario, check, True)
        if entry is None or entry.outcome != outcome:
            unexplained.append((scenario, check))
        else:
            held.setdefault((entry.table, check), []).append(scenario)
    if not run.expected and not unexplained:
        lines += ["Every check passes or is skipped in every scenario.", ""]
    ordered = sorted(
        run.expected,
        key=lambda e: (
            _OUTCOME_ORDER.get(e.outcome, 9),
            _LEVEL_ORDER.get(infos[e.check].level.value, 3),
            e.table,
            e.check,
        ),
    )
    for entry in ordered:
        info = infos[entry.check]
        scenarios = held.get((entry.table, entry.check), [])
        where = "every scenario that judges it" if entry.table == "all" else f"scenario `{entry.table}`"
        lines += [
            f'#### <a id="{client_anchor(name, entry.table, entry.check)}"></a>`{entry.table}` · `{entry.check}`: '
            f"{entry.outcome}",
            "",
            f"**{_cell(info.title)}** ({info.level.value}, RFC 9449 §{info.section}; {where}"
            + (f": held in {', '.join(f'`{s}`' for s in scenarios)}" if entry.table == "all" and scenarios else "")
            + ")",
            "",
            f"- **What it does:** {_cell(entry.reason, 800)}",
            f"- **Where:** {_cell(entry.source, 800)}",
            f"- **The RFC:** {_cell(entry.rfc, 800)}",
        ]
        finding = run.finding(scenarios[0], entry.check) if scenarios else ""
        if finding:
            lines.append(f"- **The suite's finding** (`{scenarios[0]}`): {_cell(finding, 600)}")
        elif not scenarios:
            lines.append("- **The suite's finding:** not in this run (see tests/test_client_vendors.py)")
        lines.append("")
    if unexplained:
        lines += [
            f"#### Not in the expectations of {_cell(harness.title)}",
            "",
            "| scenario | check | outcome | the suite's finding |",
            "|---|---|---|---|",
            *(
                f"| `{s}` | `{c}` | {outcomes[(s, c)]} | {_cell(run.finding(s, c), 400)} |"
                for s, c in sorted(unexplained)
            ),
            "",
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/vendor_matrix.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME", help="one harness (targets/NAME or targets/clients/NAME)")
    parser.add_argument("--render-only", action="store_true", help="write the pages from the runs in reports/vendors/")
    args = parser.parse_args(argv)
    try:
        client_harnesses = [h for h in clients.discover() if args.only in (None, h.name)]
        harnesses = [] if args.only and client_harnesses else discover(args.only)
        if not args.render_only:
            if REPORTS.exists() and not args.only:
                shutil.rmtree(REPORTS)
            run_all(harnesses)
            run_clients(client_harnesses)
        runs = collect(harnesses)
        client_runs = collect_clients(client_harnesses)
    except (HarnessError, StartFailure, clients.HarnessError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"vendor_matrix: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    from conformance import __version__

    PAGE.write_text(render_page(runs, catalog_of(runs), __version__, client_runs), encoding="utf-8")
    if runs:
        write_compare(runs)
    print(
        f"vendor_matrix: wrote {PAGE.relative_to(ROOT)} and {COMPARE.relative_to(ROOT)} ({len(runs)} runs, "
        f"{len(client_runs)} clients)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
