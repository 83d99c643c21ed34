"""RFC 9449 §11.1 and §4.3 check 11: proofs are accepted only for a limited time; the window, measured.

The RFC fixes no window ("acceptable window", §4.3), so the edges are found by bisection and recorded
(results.json `measurements`, and the compare page); what must hold is that the window is bounded. Past
that, a window reaching further back than a policy limit is a warning: `iat_max_age` in the target file,
10 minutes by default, which no common vendor default exceeds (Keycloak 25 s, Spring Security 60 s,
Auth0 and node-oidc-provider 300 s). The RFC's "preferably only for a relatively brief period on the
order of seconds or minutes" (§11.1) is why; the number is policy, and the message says so.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.client.flow import Sent
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.catalog import case_param
from conformance.judge.checks import refused_valid, unanswered, violation, where
from conformance.judge.endpoints import RESOURCE, TOKEN, Endpoint
from conformance.judge.negatives import send_once
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level, Observation

LIMIT = 3600  # the window must end within an hour on either side


def _params() -> list[Any]:
    return [
        case_param(
            case_id,
            f"{endpoint.who} accepts proofs only within a bounded iat window",
            endpoint,
            section="11.1",
            level=Level.MUST,
            actor=endpoint.actor,
            requirement="R-11.1-1",
            lane=case_id,
            doc=f"Sends: valid {endpoint.noun}s whose proofs' iat lies 0 to "
            f"{LIMIT} s in the past and in the future, bisecting for the last accepted offset on each side (about "
            '12 requests a side).\nExpects: proofs an hour away refused (§11.1: "servers MUST only accept DPoP '
            "proofs for a limited time after their creation\"); the window's edges are recorded, and a past "
            "edge beyond the policy limit (iat_max_age in the target file, 600 s by default) is a warning that "
            "shows them. Where proofs carry a server nonce, freshness may come from it instead (info).",
        )
        for case_id, endpoint in (("as-iat-window", TOKEN), ("rs-iat-window", RESOURCE))
    ]


def _at(offset: int) -> Any:
    def shift(draft: ProofDraft) -> str:
        return draft.with_claims(iat=int(time.time()) + offset).sign()

    return shift


@pytest.mark.parametrize("endpoint", _params())
def test_iat_window_is_bounded(dpop: DPoPSession, note: Any, measure: Any, endpoint: Endpoint) -> None:
    def accepted(offset: int) -> tuple[bool, Sent]:
        request = Request(label=f"{endpoint.noun}, iat {offset:+d} s", mutate=_at(offset))
        sent = send_once(dpop, endpoint, request)
        if sent.final.error:
            raise unanswered(f"a request with iat {offset:+d} s", sent.exchanges)
        return endpoint.accepted(sent), sent

    endpoint.require(dpop)
    ok, control = accepted(0)
    if not ok:
        raise CouldNotJudge(
            f"a valid request with iat now was refused ({control.final.summary()})",
            exchanges=control.exchanges,
            cause=refused_valid(control.final).cause,
            fix=refused_valid(control.final).fix,
        )
    edges = {}
    for sign, name in ((-1, "past"), (1, "future")):
        far_ok, far = accepted(sign * LIMIT)
        if far_ok:
            measure(f"iat_{name}_s", f">={LIMIT}")
            if endpoint.known_nonce(dpop):
                raise Observation(
                    f"a proof with iat {sign * LIMIT:+d} s was accepted; it carried a server nonce, "
                    "from which freshness may come instead (§4.3 check 11)"
                )
            raise violation(
                f"a valid request whose proof's iat is {sign * LIMIT:+d} s",
                "a refusal: the window must be limited (§11.1)",
                far.final,
                cause=f"{where(far.final)} accepts a proof whose iat is {sign * LIMIT:+d} s away",
                fix="accept proofs only within a limited window around the server's clock (§11.1, §4.3 check 11)",
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
    window = f"accepts iat from {edges['past']} s in the past to {edges['future']} s in the future"
    limit = dpop.iat_max_age
    if edges["past"] > limit:
        if endpoint.known_nonce(dpop):
            raise Observation(
                f"{window}: beyond the policy limit of {limit} s (iat_max_age), but the proofs carried a server "
                "nonce, from which freshness may come instead (§4.3 check 11)"
            )
        _, old = accepted(-edges["past"])
        raise violation(
            f"valid requests whose proofs' iat lies up to {LIMIT} s in the past and in the future ({window})",
            f"no proof older than the policy limit of {limit} s accepted (iat_max_age in the target file; §11.1: "
            '"preferably only for a relatively brief period")',
            old.final,
            cause=f"{where(old.final)} {window}, beyond the policy limit of {limit} s",
            fix=f"accept proofs for a brief period only, at most {limit} s old (§11.1; the limit is iat_max_age in the "
            "target file)",
            level=Level.SHOULD,
            exchanges=old.exchanges,
        )
    note(window + f" (policy limit {limit} s)")
