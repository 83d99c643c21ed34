"""RFC 9449 §11.1 and §4.3 check 11: proofs are accepted only for a limited time; the window, measured.

The RFC fixes no window ("acceptable window", §4.3), so the edges are found by bisection and recorded
(results.json `measurements`, and the compare page); what must hold is that the window is bounded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.catalog import case_param
from conformance.checks import token_issued, violation
from conformance.flow import Sent
from conformance.negatives import send_once
from conformance.proof import ProofDraft
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge, Level, Observation

LIMIT = 3600  # the window must end within an hour on either side


def _params() -> list[Any]:
    return [
        case_param(
            f"{actor.lower()}-iat-window",
            f"{'Token endpoint' if actor == 'AS' else 'Resource'} accepts proofs only within a bounded iat window",
            actor,
            section="11.1",
            level=Level.MUST,
            actor=actor,
            requirement="R-11.1-1",
            doc=f"Sends: valid {'token' if actor == 'AS' else 'resource'} requests whose proofs' iat lies 0 to "
            f"{LIMIT} s in the past and in the future, bisecting for the last accepted offset on each side (about "
            '12 requests a side).\nExpects: proofs an hour away refused (§11.1: "servers MUST only accept DPoP '
            "proofs for a limited time after their creation\"); the window's edges are recorded, not judged. "
            "Where proofs carry a server nonce, freshness may come from it instead (info).",
        )
        for actor in ("AS", "RS")
    ]


def _at(offset: int) -> Any:
    def shift(draft: ProofDraft) -> str:
        return draft.with_claims(iat=int(time.time()) + offset).sign()

    return shift


@pytest.mark.parametrize("actor", _params())
def test_iat_window_is_bounded(dpop: DPoPSession, note: Any, measure: Any, actor: str) -> None:
    def accepted(offset: int) -> tuple[bool, Sent]:
        request = "token request" if actor == "AS" else "resource request"
        sent = send_once(dpop, actor, mutate=_at(offset), label=f"{request}, iat {offset:+d} s")
        if sent.final.error:
            raise CouldNotJudge(
                f"the target did not answer a request with iat {offset:+d} s ({sent.final.error})",
                exchanges=sent.exchanges,
            )
        return (token_issued(sent.final) if actor == "AS" else sent.final.ok), sent

    if actor == "AS":
        dpop.require_authorization_server()
    ok, control = accepted(0)
    if not ok:
        raise CouldNotJudge(
            f"a valid request with iat now was refused ({control.final.summary()})", exchanges=control.exchanges
        )
    edges = {}
    for sign, name in ((-1, "past"), (1, "future")):
        far_ok, far = accepted(sign * LIMIT)
        if far_ok:
            measure(f"iat_{name}_s", f">={LIMIT}")
            if dpop.client.nonce_for(actor, dpop.token_endpoint if actor == "AS" else dpop.require_resource()[0]):
                raise Observation(
                    f"a proof with iat {sign * LIMIT:+d} s was accepted; it carried a server nonce, "
                    "from which freshness may come instead (§4.3 check 11)"
                )
            raise violation(
                f"a valid request whose proof's iat is {sign * LIMIT:+d} s",
                "a refusal: the window must be limited (§11.1)",
                far.final,
                exchanges=far.exchanges,
            )
        lo, hi = 0, LIMIT  # lo accepted, hi refused
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if accepted(sign * mid)[0]:
                lo = mid
            else:
                hi = mid
        edges[name] = lo
        measure(f"iat_{name}_s", lo)
    note(f"accepts iat from {edges['past']} s in the past to {edges['future']} s in the future")
