"""report.html: the suite's own page of a run, rendered from the results.json document and nothing else.

The first screen says what is wrong, why and what to fix: the verdict, the counts, the findings grouped by
cause (failures, then warnings, then what could not be judged), and the picture of every case. Below,
every case by RFC section, its curl command first. One truth: every count and label is read from the same
document that results.json is, and the six outcomes are named as such (a warning is never "Passed").
Self-contained (no script, no external resource), and readable at 420 px.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from conformance.judge.verdicts import OUTCOME_MEANINGS, Outcome
from conformance.printable import html_text
from conformance.report.evidence_html import case_evidence, folded
from conformance.report.grid import COLOURS, measurement_charts, outcome_grid, section_key
from conformance.report.verdict import run_verdict

__all__ = ["case_anchor", "render_report"]

OUTCOMES = [o.value for o in Outcome]
CASES_LISTED = 12  # case links per finding before "and N more"

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#202124;margin:0;
 padding:0 12px 40px;max-width:1320px;margin-inline:auto;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:.8em 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid #dadce0}
h3{font-size:1em;margin:1em 0 .3em}
pre,code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;
 overflow-wrap:anywhere;word-break:break-word}
pre{background:#f8f9fa;border:1px solid #e8eaed;border-radius:4px;padding:6px 8px;margin:.4em 0;max-width:100%}
.meta{color:#5f6368;font-size:.9em;margin:0}
.verdict{font-size:1.25em;font-weight:600;padding:.6em .8em;border-radius:6px;margin:.8em 0}
.verdict.ok{background:#e6f4ea;color:#137333}.verdict.bad{background:#fce8e6;color:#a50e0e}
.verdict.unjudged{background:#f3e8fd;color:#681da8}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin:.4em 0;padding:0;list-style:none}
.badge{display:inline-block;border-radius:3px;padding:0 .45em;font-size:.85em;font-weight:600;white-space:nowrap}
.counts .badge{font-size:.95em;padding:.15em .6em}
"""
_CSS += "".join(
    f".o-{o.replace(' ', '-')}{{background:{c};color:{'#fff' if o in ('failed', 'error') else '#202124'}}}"
    for o, c in COLOURS.items()
)
_CSS += """
.finding{border-left:5px solid #dadce0;padding:.3em .8em;margin:.8em 0;background:#fff}
.finding.failed{border-color:#d93025}.finding.warning{border-color:#f6b73c}.finding.error{border-color:#8e24aa}
.finding h3{margin:.2em 0}.finding .fix{margin:.2em 0}.finding .ids{font-size:.9em;color:#3c4043}
.setup{background:#fce8e6;padding:.6em .8em;border-radius:6px}
.top{display:flex;flex-wrap:wrap;gap:0 24px;align-items:flex-start}.main{flex:1 1 560px;min-width:0}
.glance{flex:0 1 430px;min-width:0}.glance figure{margin:0}.glance figcaption{font-size:.85em;color:#5f6368}
.charts dt{font-weight:600;font-size:.9em;margin-top:.5em}.charts dd{margin:0}
pre.sample{font-size:12px}
.dpop-chip{display:inline-block;border-radius:10px;padding:0 .5em;margin:1px;font-size:.8em}
.dpop-chart-label{font-size:.8em;color:#3c4043}
.legend{font-size:.85em;color:#3c4043;padding:0;list-style:none}.legend li{margin:.15em 0}
details.case{border:1px solid #e8eaed;border-radius:4px;margin:4px 0;padding:0 8px}
details.case>summary{cursor:pointer;padding:4px 0}details.case[open]{padding-bottom:6px}
details.case .doc{white-space:pre-wrap;font-size:.9em;color:#3c4043;margin:.3em 0}
.curl summary{cursor:pointer}.curl summary code{color:#174ea6}
.jwt{background:#e8f0fe;border-radius:2px}
.jwt-decoded{display:flex;flex-wrap:wrap;gap:8px}.jwt-decoded>div{flex:1 1 260px;min-width:0;font-size:.85em}
.warnings li{color:#a50e0e}
small{color:#5f6368}
"""


def case_anchor(case_id: str) -> str:
    """The fragment of a case on report.html (the grid, the findings and the compare page link to it)."""
    return "case-" + quote(case_id, safe="-_.")


def _badge(outcome: str, text: str | None = None) -> str:
    css = html_text(outcome.replace(" ", "-"))
    return f'<span class="badge o-{css}" data-outcome="{html_text(outcome)}">{html_text(text or outcome)}</span>'


def _case_links(ids: list[str]) -> str:
    links = [f'<a href="#{case_anchor(i)}"><code>{html_text(i)}</code></a>' for i in ids[:CASES_LISTED]]
    more = f" and {len(ids) - CASES_LISTED} more" if len(ids) > CASES_LISTED else ""
    return ", ".join(links) + more


def _sample(case_id: str, got: str, curl: str) -> str:
    """A finding's one piece of evidence: what its first case got, and the curl command that shows it."""
    if not got and not curl:
        return ""
    return (
        f'<pre class="sample"><small>{html_text(case_id)} got:</small> {folded(got)}'
        + (f"\n$ {folded(curl)}" if curl else "")
        + "</pre>"
    )


def _findings(results: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    for group in results.get("findings", []):
        outcome, count = str(group["outcome"]), int(group["count"])
        evidence = group.get("evidence", {})
        curl, got = str(evidence.get("curl", "")), str(evidence.get("got", ""))
        parts.append(
            f'<article class="finding {html_text(outcome)}"><h3>{_badge(outcome)} {html_text(str(group["cause"]))}'
            f" <small>— {count} case{'s' if count != 1 else ''}</small></h3>"
            + (f'<p class="fix"><b>Fix:</b> {html_text(str(group["fix"]))}</p>' if group.get("fix") else "")
            + f'<p class="ids">{_case_links([str(i) for i in group["cases"]])}</p>'
            + _sample(str(evidence.get("case", "")), got, curl)
            + "</article>"
        )
    for group in results.get("causes", []):
        count = int(group["count"])
        parts.append(
            f'<article class="finding error"><h3>{_badge("error")} {html_text(str(group["cause"]))} '
            f"<small>— {count} case{'s' if count != 1 else ''} could not be judged</small></h3>"
            f'<p class="ids">{_case_links([str(i) for i in group["cases"]])}</p></article>'
        )
    return parts


def _header(results: Mapping[str, Any]) -> list[str]:
    target = results.get("target", {})
    suite = results.get("suite", {})
    verdict = run_verdict(results)
    summary = results.get("summary", {})
    where = ", ".join(
        f"{label} {html_text(str(target[key]))}"
        for key, label in (("token_endpoint", "token endpoint"), ("resource_url", "resource"))
        if target.get(key)
    )
    fuzz = results.get("fuzz", {})
    parts = [
        f"<h1>DPoP conformance (RFC 9449): {html_text(str(target.get('name', '')))}</h1>",
        f'<p class="meta">{where}{"<br>" if where else ""}dpop-conformance {html_text(str(suite.get("version", "")))}'
        f" — started {html_text(str(results.get('started_at', '')))}, {html_text(str(results.get('duration_s', '')))} s"
        + (f" — fuzz seed {html_text(str(fuzz['seed']))}" if fuzz.get("seed") is not None else "")
        + "</p>",
        f'<div class="verdict {verdict.css}" data-status="{verdict.status}">{html_text(verdict.sentence())}</div>',
        '<ul class="counts">'
        + "".join(
            f'<li data-outcome="{o}" data-count="{int(summary.get(o, 0))}">{_badge(o, f"{int(summary.get(o, 0))} {o}")}'
            "</li>"
            for o in OUTCOMES
        )
        + "</ul>",
    ]
    if results.get("warnings"):
        parts.append(
            '<ul class="warnings">'
            + "".join(f"<li><b>Warning:</b> {html_text(str(w))}</li>" for w in results["warnings"])
            + "</ul>"
        )
    baseline = results.get("baseline")
    if baseline:
        parts.append(
            f"<p>Against the baseline {html_text(str(baseline.get('file', '')))}: {int(baseline.get('new', 0))} "
            f"new failure(s), {int(baseline.get('still_failing', 0))} still failing, "
            f"{int(baseline.get('fixed', 0))} fixed"
            + (
                f", {int(baseline['new_cases'])} failing case(s) the baseline did not have (new case: not gating "
                "until the baseline is refreshed)"
                if baseline.get("new_cases")
                else ""
            )
            + (
                f"; the baseline was made by dpop-conformance {html_text(str(baseline.get('suite_version')))}"
                if baseline.get("other_version")
                else ""
            )
            + (" (no baseline file yet: every failure is new)" if baseline.get("missing") else "")
            + ".</p>"
        )
    preflight = results.get("preflight", {})
    if preflight.get("ok") is False:
        parts.append(
            f'<div class="setup"><b>The setup failed before any case:</b> {html_text(str(preflight.get("cause", "")))}'
            + "".join(
                f"<br><b>{key}:</b> {folded(str(preflight[key]))}"
                for key in ("sent", "got", "fix")
                if preflight.get(key)
            )
            + "</div>"
        )
    return parts


def _actors_in(cases: list[Mapping[str, Any]]) -> str:
    """The actors the run judged, in the grid's order: "AS, RS", or "client"."""
    found = [str(c.get("actor")) for c in cases if c.get("actor")]
    return ", ".join(dict.fromkeys(sorted(found, key=lambda a: (a == "client", a)))) or "AS, RS"


def _overview(cases: list[Mapping[str, Any]]) -> list[str]:
    charts = measurement_charts(cases)
    legend = "".join(f"<li>{_badge(o.value)} {html_text(m)}</li>" for o, m in OUTCOME_MEANINGS.items())
    parts = [
        '<aside class="glance" id="overview"><h2>At a glance</h2>',
        f"<figure>{outcome_grid(cases, href=lambda c: '#' + case_anchor(str(c.get('id'))))}"
        f"<figcaption>Every case, by RFC section (rows) and actor ({_actors_in(cases)}); each cell links to its case."
        "</figcaption></figure>",
        f'<ul class="legend">{legend}</ul>',
    ]
    if charts:
        parts.append(
            '<div class="charts"><h3>Measured</h3><dl>'
            + "".join(f"<dt>{html_text(label)}</dt><dd>{chart}</dd>" for label, chart in charts)
            + "</dl></div>"
        )
    parts.append("</aside>")
    return parts


def _cases(cases: list[Mapping[str, Any]], details: Mapping[str, Mapping[str, str]]) -> list[str]:
    parts = ['<section id="cases"><h2>Every case</h2>']
    section = None
    for case in sorted(cases, key=lambda c: (section_key(str(c.get("section"))), str(c.get("id")))):
        if case.get("section") != section:
            section = case.get("section")
            parts.append(
                f'<h3><a href="https://www.rfc-editor.org/rfc/rfc9449#section-{html_text(str(section))}">'
                f"§{html_text(str(section))}</a></h3>"
            )
        case_id, outcome = str(case.get("id")), str(case.get("outcome"))
        extra = details.get(case_id, {})
        is_open = " open" if outcome in ("failed", "warning", "error") else ""
        baseline = f" <small>({html_text(str(case['baseline']))})</small>" if case.get("baseline") else ""
        doc = extra.get("doc", "")
        message = str(case.get("message") or "")
        parts.append(
            f'<details class="case" id="{case_anchor(case_id)}" data-outcome="{html_text(outcome)}"{is_open}>'
            f"<summary>{_badge(outcome)} <code>{html_text(case_id)}</code>{baseline} "
            f"{html_text(str(case.get('title')))}"
            f" <small>{html_text(str(case.get('level')))} · {html_text(str(case.get('actor')))}"
            f"{' · ' + html_text(str(case['requirement'])) if case.get('requirement') else ''}</small></summary>"
            + (f'<p class="doc">{html_text(doc)}</p>' if doc else "")
            + case_evidence(message, extra.get("evidence", ""))
            + "</details>"
        )
    parts.append("</section>")
    return parts


def render_report(results: Mapping[str, Any], details: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The whole page. `details` maps a case id to what results.json does not carry: its "Sends / Expects"
    text (`doc`) and its recorded exchanges (`evidence`, redacted and bounded by the plugin)."""
    cases = [c for c in results.get("cases", []) if isinstance(c, Mapping)]
    findings = _findings(results)
    header = _header(results)
    body = [
        header[0],  # the title, then the verdict and the findings beside the picture (stacked on a phone)
        '<div class="top"><div class="main">',
        *header[1:],
        '<section id="findings"><h2>What to fix</h2>',
        *(findings or ["<p>Nothing: no case failed, warned or went unjudged.</p>"]),
        "</section></div>",
        *_overview(cases),
        "</div>",
        *_cases(cases, details or {}),
    ]
    name = html_text(str(results.get("target", {}).get("name", "")))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>DPoP conformance: {name}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
