"""Running a fuzz case: every distinct finding, judged at its fault's level, the same verdict every run.

A fuzz case sends proofs of one part's corruptions (conformance/judge/strategies.py), each in an otherwise valid
request, between two valid requests. It goes in two passes:

1. **coverage**: one deterministic example of every fault the part can have, known attacks among them, so
   that every kind of fault is tried in every run, whatever the seed;
2. **exploration**: Hypothesis draws more, skipping the faults already found, and shrinks each new kind of
   finding to its smallest example (its "multiple bugs" mode, one exception type per fault).

A *finding* is an example the judge objects to (accepted where it must be refused): at most one per fault,
each with its decoded proof, curl command and seed. Every 5xx a case meets is a finding too, whatever the
case judges (a warning: the server failed instead of refusing), one per fault, kept apart from that fault's
acceptance, which it never hides. The case's verdict is the worst level among them, so a lenient encoding or
a server error (a warning) never hides a MUST finding of the same part.

Stateful servers never make a case flaky: an example is sent once, and when Hypothesis draws it again
(while shrinking, or to report it) the first answer counts. Otherwise a replay cache refusing the second
copy of a corrupt `jti` would turn a finding into Hypothesis's "flaky" error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from conformance.client.evidence import Exchange, decode_for_display
from conformance.client.flow import Sent
from conformance.client.request import Request
from conformance.jose import peek_claims
from conformance.judge.answers import OVERLOADED, is_server_error
from conformance.judge.checks import describe, server_error_cause, unanswered, where
from conformance.judge.endpoints import Endpoint
from conformance.judge.faults import LENIENT_RULE, Change, acceptance_level
from conformance.judge.session import DPoPSession
from conformance.judge.strategies import corruptions, coverage
from conformance.judge.verdicts import Level, Observation, Violation

__all__ = [
    "FUZZ_PROFILES",
    "Finding",
    "FuzzRun",
    "Judge",
    "accepted_finding",
    "examples_per_case",
    "fuzz_case",
    "server_error_finding",
    "verdict",
]

_SEVERITY = {Level.MUST: 0, Level.SHOULD: 1, Level.MAY: 2}
#: examples Hypothesis draws per fuzz case, by --fuzz-profile (the run layer's option of that name)
FUZZ_PROFILES = {"quick": 40, "ci": 150, "thorough": 1000}


def examples_per_case(given: int | None, profile: str) -> int:
    """Examples Hypothesis draws per fuzz case (besides the one example of every fault each case sends first):
    `given` (--fuzz-examples) when set, else the profile's number."""
    return given if given is not None else FUZZ_PROFILES[profile]


@dataclass
class Finding:
    """One kind of corrupted proof the judge objected to: its smallest example and what came back."""

    corruption: Change
    sent: Sent
    level: Level
    expected: str
    why: str = ""  # why the level is lower than the fault's, when it is
    server_error: bool = False  # a 5xx: the server failed instead of refusing

    @property
    def key(self) -> str:
        """What keeps findings apart: the fault, and whether the server failed on it or accepted it."""
        return f"5xx:{self.corruption.fault_id}" if self.server_error else self.corruption.fault_id


#: decides one example: None when the answer is right, else the Finding
Judge = Callable[[Change, Sent], Finding | None]


class _Found(Exception):
    """Raised inside the property for a finding; one subclass per fault, so Hypothesis keeps them apart."""

    finding: Finding


_FOUND_TYPES: dict[str, type[_Found]] = {}


def _found(finding: Finding) -> _Found:
    key = finding.key
    kind = _FOUND_TYPES.get(key)
    if kind is None:
        # Hypothesis tells distinct failures apart by exception type (and place): one type per kind of finding
        # makes it shrink and report each on its own
        name = key.replace("-", "_").replace(":", "_")
        kind = _FOUND_TYPES[key] = type(f"Found_{name}", (_Found,), {})
    error = kind(f"{key}: {finding.corruption.description}")
    error.finding = finding
    return error


class _Pace:
    """Keeps fuzz requests under --dpop-fuzz-rate (staging servers), if given."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.last = 0.0

    def wait(self) -> None:
        if self.interval:
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.last = time.monotonic()


class FuzzRun:
    """One fuzz case's examples against one endpoint (the token endpoint, or the resource)."""

    def __init__(self, dpop: DPoPSession, endpoint: Endpoint, judge: Judge, *, rate: float | None = None) -> None:
        self.dpop = dpop
        self.endpoint = endpoint
        self.judge = judge
        self.pace = _Pace(rate)
        self.sent = 0  # examples sent
        self.repeated = 0  # examples drawn again, answered from the first observation
        self.skipped_stale = 0  # stale-only examples skipped because a server nonce vouches for freshness
        self.dropped = 0  # examples answered by closing the connection (refused: nothing was accepted)
        self.overloaded = 0  # examples answered 429 or 502-504: no answer to the proof, nothing judged
        self._observed: dict[tuple[Any, ...], Finding | None] = {}
        self.findings: dict[str, Finding] = {}

    def _nonce_in_play(self) -> bool:
        return self.endpoint.known_nonce(self.dpop) is not None

    def observe(self, corruption: Change) -> Finding | None:
        """Send the example once; the same example drawn again gets the first answer (stateful servers)."""
        if corruption.key in self._observed:
            self.repeated += 1
            return self._observed[corruption.key]
        self.dpop.client.log = []  # evidence: the findings keep their own exchanges
        self.pace.wait()
        self.sent += 1
        request = Request(label=f"fuzzed proof: {corruption.description}", mutate=corruption.apply)
        sent = self.endpoint.send(self.dpop, request)
        final = sent.final
        if final.error and (final.error.startswith("not sent") or "timeout" in final.error):
            raise unanswered("a fuzzed request", sent.exchanges)
        if final.error:
            # the connection closed or reset instead of an answer, twice (the transport sent it again): what
            # a server does with a request it will not read (Node answers a too-large header with 431 and
            # drops the connection, often before the client has read the 431). Nothing was accepted; a
            # server that died meanwhile fails the control after the examples.
            self.dropped += 1
            self._observed[corruption.key] = None
            return None
        if (final.status or 0) in OVERLOADED:
            self.overloaded += 1
            self._observed[corruption.key] = None
            return None
        finding = self.judge(corruption, sent)
        if finding is None:
            finding = server_error_finding(corruption, sent)  # every 5xx a case meets is a finding of its own
        self._observed[corruption.key] = finding
        return finding

    def run(
        self,
        coverage: Sequence[Change],
        strategy: st.SearchStrategy[Change],
        examples: int,
        seed: int | None = None,
    ) -> None:
        """Both passes between two controls; the findings end in `findings`, one per fault.

        `seed` fixes Hypothesis's seed for this run (otherwise: the run's `--hypothesis-seed`, or none and
        derandomised, as the "dpop-fuzz" settings profile says).
        """
        self.endpoint.control(self.dpop, "before")
        for corruption in coverage:  # every one, once: each class of fault (and its server errors) in every run
            if self._stale_and_vouched(corruption):
                continue
            finding = self.observe(corruption)
            if finding is not None:
                self.findings.setdefault(finding.key, finding)
        if examples > 0:
            self._explore(strategy, examples, seed)
        self.endpoint.control(self.dpop, "after")

    def _stale_and_vouched(self, corruption: Change) -> bool:
        # freshness may come from a server nonce instead of iat (§4.3 check 11): a stale iat proves nothing there
        if corruption.stale_only and self._nonce_in_play():
            self.skipped_stale += 1
            return True
        return False

    def _explore(self, strategy: st.SearchStrategy[Change], examples: int, seed: int | None) -> None:
        # faults found accepted are not drawn again; a fault the server only failed on is, for an acceptance
        covered = {f.corruption.fault_id for f in self.findings.values() if not f.server_error}

        def prop(corruption: Change) -> None:
            assume(corruption.fault_id not in covered and not self._stale_and_vouched(corruption))
            finding = self.observe(corruption)
            if finding is not None:
                raise _found(finding)

        profile = settings(settings.get_profile("dpop-fuzz"), max_examples=examples, report_multiple_bugs=True)
        test = profile(given(corruption=strategy)(prop))
        if seed is not None:
            test = fixed_seed(seed)(test)
        try:
            test()
        except _Found as exc:
            self._keep(exc)
        except BaseExceptionGroup as group:  # several kinds of finding (or a flaky one: FlakyFailure)
            for inner in _flatten(group):
                if not isinstance(inner, _Found):
                    raise inner from None
                self._keep(inner)
        except Unsatisfiable:
            pass  # every draw was of a fault already found: nothing more to explore

    def _keep(self, exc: _Found) -> None:
        self.findings.setdefault(exc.finding.key, exc.finding)


def fuzz_case(
    dpop: DPoPSession,
    endpoint: Endpoint,
    parts: Sequence[str],
    judge: Judge,
    *,
    examples: int,
    rate: float | None = None,
    seed: int | None = None,
) -> FuzzRun:
    """One fuzz case: the coverage examples and `examples` drawn ones of `parts`, at `endpoint`, judged by
    `judge`."""
    endpoint.require(dpop)
    run = FuzzRun(dpop, endpoint, judge, rate=rate)
    with_token, alg = endpoint.sends_token, dpop.key.alg
    first = [c for part in parts for c in coverage(part, with_token=with_token, alg=alg)]
    strategy = st.one_of(*(corruptions(part, with_token=with_token, alg=alg) for part in parts))
    run.run(first, strategy, examples, seed)
    return run


def _flatten(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def _finding_text(endpoint: Endpoint, finding: Finding, replay: str) -> str:
    final: Exchange = finding.sent.final
    corruption = finding.corruption
    proof = final.proofs[0] if final.proofs else "(no DPoP header)"
    fault = corruption.breaks
    bends = f"\n  Lenient parsing: {LENIENT_RULE}" if fault.lenient and not finding.server_error else ""
    why = f"\n  Level: {finding.why}" if finding.why else ""
    title = (
        f"server error on {fault.id} (the server failed instead of refusing; the fault is {fault.rule})"
        if finding.server_error
        else f"{fault.id} ({fault.rule}; {fault.requirement})"
    )
    return (
        f"[{finding.level.value}] {title}{bends}{why}\n"
        f"  Sent: {endpoint.request} carrying a fuzzed proof: {corruption.description} (part {corruption.part})\n"
        f"  Proof: {decode_for_display(proof)}\n"
        f"  Expected: {finding.expected}\n  Got: {describe(final)}\n  Reproduce: {final.curl()}\n"
        f"  Replay the fuzzing: {replay}"
    )


def verdict(run: FuzzRun, *, what: str, replay: str) -> str:
    """Raise the case's verdict from the findings (the worst level first); return a note when there are none.

    `what` says what the examples were ("fuzzed proofs with a corrupted header"); `replay` how to run
    the same examples again.
    """
    findings = sorted(run.findings.values(), key=lambda f: (_SEVERITY[f.level], f.key))
    extra = []
    if run.repeated:
        extra.append(f"{run.repeated} drawn again, answered from the first observation")
    if run.skipped_stale:
        extra.append(f"{run.skipped_stale} stale-only skipped (a server nonce vouches for freshness)")
    if run.dropped:
        extra.append(f"{run.dropped} answered by closing the connection (refused)")
    if run.overloaded:
        extra.append(f"{run.overloaded} answered 429 or 502-504 (overloaded: not judged)")
    counts = f"{run.sent} {what} sent" + (f" ({'; '.join(extra)})" if extra else "")
    if not findings:
        return counts
    worst = findings[0].level
    kinds = ", ".join(f"{f.key} ({f.level.value})" for f in findings)
    message = f"{len(findings)} kind(s) of fuzzed proof got the wrong answer: {kinds}. {counts}.\n" + "\n".join(
        _finding_text(run.endpoint, f, replay) for f in findings
    )
    exchanges = [ex for f in findings for ex in f.sent.exchanges]
    if worst is Level.MAY:
        raise Observation(message)
    cause, fix, shared = _cause_and_fix(run.endpoint, findings)
    raise Violation(message, cause=cause, fix=fix, level=worst, exchanges=exchanges, shared=shared)


#: the rules a fuzz case's fix names at most; the message lists every finding with its own
_RULES_NAMED = 3


def _cause_and_fix(endpoint: Endpoint, findings: Sequence[Finding]) -> tuple[str, str, bool]:
    """What the server did with the fuzzed proofs, what to change, and whether the cause is shared.

    Proofs accepted are the case's own finding (the faults by name, the rules they break); where the server
    only failed (5xx) the cause is the one every case that met a 5xx at that endpoint shares, so a fuzz case
    joins the fixed cases' finding there.
    """
    accepted = [f for f in findings if not f.server_error]
    failed = [f for f in findings if f.server_error]
    if not accepted:
        fix = f"find the exception in the server's logs and {endpoint.refusal.server_error_fix}"
        return server_error_cause(failed[0].sent.final), fix, True
    faults = list(dict.fromkeys(f.corruption.fault_id for f in accepted))
    rules = list(dict.fromkeys(f.corruption.breaks.rule for f in accepted))
    named = "; ".join(rules[:_RULES_NAMED])
    more = f"; and {len(rules) - _RULES_NAMED} more, in the message" if len(rules) > _RULES_NAMED else ""
    fix = f"refuse such proofs — {named}{more}"
    if failed:
        fix += "; and answer malformed proofs with a 4xx, not a server error (its logs show the exception)"
    return f"{where(accepted[0].sent.final)} accepts fuzzed proofs it must refuse: {', '.join(faults)}", fix, False


def accepted_finding(corruption: Change, sent: Sent) -> Finding | None:
    """The judge of the "refused" cases: a 2xx to a corrupted proof is a finding at its fault's level."""
    final = sent.final
    if not final.ok:
        return None
    proof = peek_claims(final.proofs[0]) if final.proofs else None
    level, why = acceptance_level(corruption.breaks, final, proof)
    return Finding(corruption, sent, level, "a refusal (4xx)", why)


def server_error_finding(corruption: Change, sent: Sent) -> Finding | None:
    """A 5xx to a corrupted proof (never a refusal): a warning (SHOULD). The judge of the "no server error"
    cases, and what every fuzz case records beside its own judge's findings."""
    final = sent.final
    if not is_server_error(final) or final.status in OVERLOADED:
        return None
    return Finding(corruption, sent, Level.SHOULD, "a 4xx answer, not a server error", server_error=True)
