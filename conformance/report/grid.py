"""The picture of a run: every case as a cell, by RFC section and actor, coloured by outcome; and the values
the RFC leaves open (iat window, nonce policy, algorithms) as small charts.

Inline SVG that needs no script to be seen: each cell links to its case on the page and names it in a
tooltip (`<title>`), and the drawing scales to the width of a phone (viewBox, width 100%). Everything it
shows comes from results.json cases; every string in it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from html import escape as _html_escape
from typing import Any

from conformance.judge.endpoints import actors
from conformance.printable import printable

__all__ = ["COLOURS", "measurement_charts", "outcome_grid", "section_key"]

#: one colour per outcome, shared by the grid, the badges and the compare page
COLOURS = {
    "passed": "#34a853",
    "failed": "#d93025",
    "warning": "#f6b73c",
    "info": "#8ab4f8",
    "skipped": "#dadce0",
    "error": "#8e24aa",
    "not run": "#ffffff",
}
#: the columns: the actors of the registered endpoints
ACTORS = actors()
CELL, GAP, PER_LINE = 12, 2, 16  # cell size and gap (px), cells per line and actor
LABEL_W, BLOCK_GAP, HEAD_H = 46, 18, 18


def escape(text: str) -> str:
    """A string for SVG text or an attribute: control and bidi characters made visible, then escaped.

    The ids, sections and algorithm names come from results.json, which a target's answers fed.
    """
    return _html_escape(printable(str(text)))


def section_key(section: str) -> list[int]:
    """Sort key of an RFC section number ("4.3" before "10.1")."""
    return [int(p) if p.isdigit() else 0 for p in str(section).split(".")]


def _cells_width() -> int:
    return PER_LINE * (CELL + GAP)


def outcome_grid(
    cases: Iterable[Mapping[str, Any]],
    *,
    href: Callable[[Mapping[str, Any]], str | None] = lambda c: f"#case-{c.get('id')}",
    label: str = "every case by RFC section and actor",
) -> str:
    """The grid as one inline `<svg>`: a row per section, the AS's cells then the RS's, in case-id order."""
    cases = list(cases)
    present = {str(case.get("actor")) for case in cases}
    # the servers' columns; a client run's cases (actor client) have a column of their own, alone
    columns = [*ACTORS, *sorted(present - set(ACTORS))] if present & set(ACTORS) or not present else sorted(present)
    rows: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for case in cases:
        actor = str(case.get("actor"))
        rows.setdefault(str(case.get("section")), {a: [] for a in columns}).setdefault(actor, []).append(case)
    block = _cells_width()
    width = LABEL_W + len(columns) * block + (len(columns) - 1) * BLOCK_GAP
    parts: list[str] = []
    y = HEAD_H
    for i, actor in enumerate(columns):
        x = LABEL_W + i * (block + BLOCK_GAP)
        parts.append(f'<text x="{x}" y="12" class="head">{actor}</text>')
    for section in sorted(rows, key=section_key):
        by_actor = rows[section]
        lines = max(1, *(math.ceil(len(v) / PER_LINE) for v in by_actor.values()))
        parts.append(f'<text x="0" y="{y + CELL - 2}" class="sec">§{escape(section)}</text>')
        for i, actor in enumerate(columns):
            x0 = LABEL_W + i * (block + BLOCK_GAP)
            for n, case in enumerate(sorted(by_actor.get(actor, []), key=lambda c: str(c.get("id")))):
                outcome = str(case.get("outcome"))
                x = x0 + (n % PER_LINE) * (CELL + GAP)
                cy = y + (n // PER_LINE) * (CELL + GAP)
                tip = escape(f"{case.get('id')}: {outcome}")
                rect = (
                    f'<rect x="{x}" y="{cy}" width="{CELL}" height="{CELL}" rx="2" '
                    f'fill="{COLOURS.get(outcome, "#ffffff")}" class="o-{escape(outcome.replace(" ", "-"))}">'
                    f"<title>{tip}</title></rect>"
                )
                link = href(case)
                parts.append(f'<a href="{escape(link)}">{rect}</a>' if link else rect)
        y += lines * (CELL + GAP) + 4
    return (
        f'<svg class="dpop-grid" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {y}" '
        f'width="100%" style="max-width:{width * 2}px" xmlns="http://www.w3.org/2000/svg">'
        "<style>text{font:10px sans-serif;fill:#3c4043}.head{font-weight:bold}"
        "rect{stroke:#80868b;stroke-width:.5}</style>" + "".join(parts) + "</svg>"
    )


def _measurement(cases: Mapping[str, Mapping[str, Any]], case_id: str) -> Mapping[str, Any]:
    found = cases.get(case_id, {}).get("measurements")
    return found if isinstance(found, Mapping) else {}


def _seconds(value: Any, limit: int) -> tuple[int, bool]:
    """A measured edge in seconds, and whether it is "at least" (the far probe was accepted)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, min(int(value), limit)), False
    return limit, True


#: the axes the iat chart may use (seconds either side of now): the smallest that holds both edges
IAT_AXES = ((120, "2 min"), (300, "5 min"), (900, "15 min"), (3600, "1 h"))


def _iat_chart(past: Any, future: Any) -> str:
    """The accepted iat window on an axis just wide enough for it (2 min up to 1 h either side)."""
    widest = max((v for v in (past, future) if isinstance(v, int | float) and not isinstance(v, bool)), default=0)
    limit, unit = next(((s, u) for s, u in IAT_AXES if widest <= s), IAT_AXES[-1])
    p, p_more = _seconds(past, limit)
    f, f_more = _seconds(future, limit)
    width, axis = 300, 150
    scale = axis / limit

    def x(offset: int) -> float:
        return round(axis + offset * scale, 1)

    label = f"{'≥' if p_more else ''}{p} s past … {'≥' if f_more else ''}{f} s future"
    return (
        f'<svg class="dpop-chart" viewBox="0 0 {width} 30" width="100%" style="max-width:{width * 2}px" '
        f'role="img" aria-label="iat window: {escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="12" x2="{width}" y2="12" stroke="#bdc1c6"/>'
        f'<line x1="{axis}" y1="4" x2="{axis}" y2="20" stroke="#3c4043"/>'
        f'<rect x="{x(-p)}" y="7" width="{max(1.0, x(f) - x(-p))}" height="10" fill="{COLOURS["passed"]}"/>'
        f'<text x="0" y="29" font-size="8">−{unit}</text>'
        f'<text x="{axis}" y="29" font-size="8" text-anchor="middle">now</text>'
        f'<text x="{width}" y="29" font-size="8" text-anchor="end">+{unit}</text>'
        f"<title>{escape(label)}</title></svg>"
        f'<span class="dpop-chart-label">{escape(label)}</span>'
    )


def _chips(values: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f'<span class="dpop-chip" style="background:{COLOURS.get(css, "#fff")}">{escape(text)}</span>'
        for text, css in values
    )


def measurement_charts(cases: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(label, HTML) of each value the run measured: the iat windows, the nonce policy, the algorithms."""
    by_id = {str(c.get("id")): c for c in cases}
    charts: list[tuple[str, str]] = []
    for actor, where in (("as", "token endpoint"), ("rs", "resource")):
        window = _measurement(by_id, f"{actor}-iat-window")
        if "iat_past_s" in window or "iat_future_s" in window:
            charts.append(
                (f"iat window at the {where}", _iat_chart(window.get("iat_past_s"), window.get("iat_future_s")))
            )
    nonce = []
    for actor, where in (("as", "token endpoint"), ("rs", "resource")):
        outcome = by_id.get(f"{actor}-nonce-challenge", {}).get("outcome")
        if outcome is not None:
            demanded = outcome != "skipped"
            nonce.append((f"{where}: {'demands' if demanded else 'no'} nonce", "info" if demanded else "skipped"))
    if nonce:
        charts.append(("server nonces", _chips(nonce)))
    for actor, where in (("as", "token endpoint"), ("rs", "resource")):
        accepted = _measurement(by_id, f"{actor}-advertised-algs-accepted").get("algs_accepted")
        if isinstance(accepted, list):
            # results.json is a file anyone can hand over: shown bounded
            shown = [(str(a)[:16], "passed") for a in accepted[:16]] or [("none", "failed")]
            charts.append((f"algorithms accepted at the {where}", _chips(shown)))
    return charts
