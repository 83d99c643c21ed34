"""Exact comparison of a compared value (`ath`, `nonce`, `htu`): every near miss of it must be refused.

A server compares these values whole and exactly (§4.3 checks 9 to 11, §7.1). The bugs that break that are
comparisons of a prefix, case-insensitive ones, or a check of a value's form instead of its content; each
variant sent here is the smallest change one of those bugs lets through (conformance.judge.near_misses). Each
variant goes out in a request of its own, between controls, with nothing else changed; the case fails at
the level of the worst variant accepted and names every variant that was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conformance.client.flow import Sent
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.checks import unanswered, violation, where
from conformance.judge.endpoints import Endpoint
from conformance.judge.negatives import between_controls
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level

__all__ = ["Variant", "judge_variants"]


@dataclass(frozen=True)
class Variant:
    """One variant of the compared value: what changed (for messages), the value, and the level of accepting it."""

    name: str
    value: str
    level: Level = Level.MUST


_ORDER = (Level.MAY, Level.SHOULD, Level.MUST)


def judge_variants(
    dpop: DPoPSession,
    endpoint: Endpoint,
    *,
    claim: str,
    what: str,
    rule: str,
    variants: Sequence[Variant],
    current: Callable[[ProofDraft, Variant], str] | None = None,
    note: Callable[[str], None],
) -> None:
    """Send each variant of `claim` in a request of its own to the endpoint, between controls.

    `current(draft, variant)` gives the variant's value for the proof being built, for a value that may
    change between requests (a nonce the server rotates); by default the variant's own value is sent.
    Every variant must be refused; the case fails at the highest level of the variants accepted. `rule` is
    the requirement that compares `claim` ("§4.3 check 9: htu matches the request URI").
    """
    if not variants:
        raise CouldNotJudge(
            f"no variant of {claim} could be built",
            cause=f"no near miss of the {claim} could be built from the server's value",
            fix="nothing to change on the server; if its value is an ordinary one, report this to dpop-conformance",
        )
    accepted: list[tuple[Variant, Sent]] = []
    for variant in variants:

        def mutate(draft: ProofDraft, variant: Variant = variant) -> str:
            value = current(draft, variant) if current else variant.value
            return draft.with_claims(**{claim: value}).sign()

        label = f"{what} with the {claim} varied ({variant.name})"
        sent = between_controls(dpop, endpoint, Request(label=label, mutate=mutate))
        if sent.final.error:
            raise unanswered(label, sent.exchanges)
        if endpoint.accepted(sent):
            accepted.append((variant, sent))
    if not accepted:
        note(f"all {len(variants)} variants of {claim} refused: {', '.join(v.name for v in variants)}")
        return
    worst = max(accepted, key=lambda found: _ORDER.index(found[0].level))
    names = ", ".join(f"{v.name} ({v.level.value})" for v, _ in accepted)
    variant, sent = worst
    raise violation(
        f"{what} with the {claim} varied ({variant.name}): {variant.value!r}",
        f"a refusal: {claim} is compared whole and exactly. Accepted {len(accepted)} of {len(variants)} variants: "
        f"{names}",
        sent.final,
        cause=f"{where(sent.final)} accepts {what} whose {claim} is a near miss of the right one: {names}",
        fix=f"compare the {claim} whole and exactly, byte for byte — {rule}",
        level=variant.level,
        exchanges=[exchange for _, found in accepted for exchange in found.exchanges],
    )
