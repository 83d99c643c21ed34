"""The verdict of a run and its exit status, decided once, from results.json alone.

The terminal, report.html, junit.xml (through the plugin's per-case outcome), the Markdown summary, the compare
page and the Action's outputs all render `run_verdict(results)`; none of them words or decides it on its own.
results.json records what the decision needs: the cases with their baseline marks, the gate (`gate.fail_on`:
must, or should for `--fail-on should` / `--strict`) and the setup failure, if any.

The rules, in order:

- the setup failed (the happy path, before any case), or nothing was judged: status 3, "not-judged";
- a case gates: status 1, "failed". A failed case gates unless a baseline knows it (still failing) or it is a
  case the baseline's suite version did not have (new case); with `fail_on` should, a warning gates on the
  same terms (a known warning is accepted);
- a case could not be judged: status 3, "not-judged";
- else status 0, "passed".

Status 2 (a usage error: nothing was sent) is the CLI's, never in a results.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAILS_GATE",
    "GATING_MARKS",
    "Verdict",
    "fail_on_of",
    "gates",
    "run_verdict",
]

#: the baseline marks under which a failure (or, with fail_on should, a warning) still gates: "" is no baseline
GATING_MARKS = frozenset({"", "new", "not in baseline"})
#: the outcomes that gate under each fail_on
FAILS_GATE = {"must": frozenset({"failed"}), "should": frozenset({"failed", "warning"})}
_JUDGED = ("passed", "failed", "warning", "info")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


def fail_on_of(results: Mapping[str, Any]) -> str:
    """must or should: what the run's gate counted (results.json `gate.fail_on`; must for older files)."""
    gate = results.get("gate")
    value = gate.get("fail_on") if isinstance(gate, Mapping) else None
    return value if value in FAILS_GATE else "must"


def gates(outcome: str, mark: str, fail_on: str) -> bool:
    """Whether a case with this outcome and baseline mark turns the gate red under `fail_on`."""
    return outcome in FAILS_GATE.get(fail_on, FAILS_GATE["must"]) and mark in GATING_MARKS


@dataclass(frozen=True)
class Verdict:
    """One run's verdict: the exit status, its word, the sentence every output shows, and the cases it rests on."""

    status: int  # 0, 1 or 3
    result: str  # passed | failed | not-judged (the Action's `verdict` output)
    text: str  # "2 MUST failures new against the baseline", lower case: each output capitalises as it likes
    fail_on: str  # must | should
    gating: tuple[str, ...] = ()  # the ids of the cases that turn the gate red, MUST failures first
    known: int = 0  # failures (and, with fail_on should, warnings) a baseline knows: reported, not gating
    baseline: bool = False

    @property
    def css(self) -> str:
        """The class report.html and the compare page colour it with: ok, bad or unjudged."""
        return {0: "ok", 1: "bad"}.get(self.status, "unjudged")

    @property
    def green(self) -> bool:
        """True only when the exit status is 0."""
        return self.status == 0

    def sentence(self) -> str:
        """The text with a capital letter (a page's heading)."""
        return self.text[:1].upper() + self.text[1:]

    def as_dict(self) -> dict[str, Any]:
        """What results.json records of it (`verdict`), for readers that do not run Python."""
        return {
            "status": self.status,
            "result": self.result,
            "text": self.text,
            "fail_on": self.fail_on,
            "gating": list(self.gating),
        }


def run_verdict(results: Mapping[str, Any]) -> Verdict:
    """The verdict of the run results.json describes (see the module docstring for the rules)."""
    fail_on = fail_on_of(results)
    summary = results.get("summary") if isinstance(results.get("summary"), Mapping) else {}
    assert isinstance(summary, Mapping)
    cases = [c for c in results.get("cases") or [] if isinstance(c, Mapping)]
    has_baseline = isinstance(results.get("baseline"), Mapping)
    judged = sum(_count(summary.get(o)) for o in _JUDGED)
    errors = _count(summary.get("error"))
    preflight = results.get("preflight")
    if isinstance(preflight, Mapping) and preflight.get("ok") is False:
        return Verdict(3, "not-judged", "nothing judged: the setup failed", fail_on, baseline=has_baseline)
    if judged == 0:
        why = f"{_plural(errors, 'case')} could not be judged" if errors else "no case was judged"
        return Verdict(3, "not-judged", f"nothing judged: {why}", fail_on, baseline=has_baseline)
    failing = FAILS_GATE[fail_on]
    gating_must: list[str] = []
    gating_should: list[str] = []
    known = 0
    for case in cases:
        outcome, mark = str(case.get("outcome", "")), str(case.get("baseline") or "")
        if outcome not in failing:
            continue
        if mark in GATING_MARKS:
            (gating_must if outcome == "failed" else gating_should).append(str(case.get("id", "")))
        else:
            known += 1
    against = " new against the baseline" if has_baseline else ""
    if gating_must or gating_should:
        parts = [
            *([_plural(len(gating_must), "MUST failure")] if gating_must else []),
            *([_plural(len(gating_should), "SHOULD violation")] if gating_should else []),
        ]
        text = " and ".join(parts) + against
        if gating_should and not gating_must:
            text += " (the gate counts SHOULD: --fail-on should)"
        return Verdict(1, "failed", text, fail_on, (*gating_must, *gating_should), known, has_baseline)
    if errors:
        text = f"{_plural(errors, 'case')} could not be judged"
        if known:
            text += f"; {_known(known, fail_on)}"
        return Verdict(3, "not-judged", text, fail_on, known=known, baseline=has_baseline)
    every = "every MUST and SHOULD" if fail_on == "should" else "every MUST"
    if has_baseline and known:
        text = f"no new failure against the baseline ({_known(known, fail_on)})"
    elif has_baseline:
        text = f"no new failure against the baseline: conformant to {every} that was judged"
    else:
        text = f"conformant to {every} that was judged"
    return Verdict(0, "passed", text, fail_on, known=known, baseline=has_baseline)


def _known(n: int, fail_on: str) -> str:
    if fail_on == "should":
        return f"{n} known {'failure or warning' if n == 1 else 'failures or warnings'} still there"
    return f"{_plural(n, 'known failure', 'known failures')} still there"
