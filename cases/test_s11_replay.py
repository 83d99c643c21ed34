"""RFC 9449 §11.1 DPoP Proof Replay: a proof used once should not be accepted again.

Replay tracking is not a MUST ("servers can store the jti value"), so accepting a replay is a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.catalog import case_param
from conformance.checks import prerequisite_failed, token_issued, violation
from conformance.flow import Sent
from conformance.jose import decode_jws
from conformance.proof import ProofDraft
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge, Level

REPLAYS = {
    "identical": "the byte-identical proof of the request just accepted",
    "same-jti": "a new proof (new iat, new signature) reusing the jti of the proof just accepted",
}


def _params(actor: str) -> list[Any]:
    who = "Token endpoint" if actor == "AS" else "Resource"
    request = "token request" if actor == "AS" else "resource request"
    return [
        case_param(
            f"{actor.lower()}-replay-{name}",
            f"{who} refuses {text}",
            name,
            section="11.1",
            level=Level.SHOULD,
            actor=actor,
            requirement="R-11.1-2",
            doc=f"Sends: a valid {request}, then the same request again with {text} (the same URI, within the iat "
            "window), then a valid request.\nExpects: a refusal of the second one: servers can store the jti "
            "and decline a proof seen before (§11.1); not a MUST, so accepting it is a warning."
            + (
                " Skipped at the token endpoint unless the grant can be repeated (client_credentials)."
                if actor == "AS"
                else ""
            ),
        )
        for name, text in REPLAYS.items()
    ]


def _replay_proofs(kind: str, accepted: str) -> Callable[[ProofDraft], list[str]]:
    if kind == "identical":
        return lambda draft: [accepted]
    jti = decode_jws(accepted).payload["jti"]

    def same_jti(draft: ProofDraft) -> list[str]:
        return [draft.with_claims(jti=jti, iat=int(draft.claims["iat"]) - 1).sign()]

    return same_jti


def _judge(first: Sent, replay: Sent, control: Sent, what: str, note: Any, *, at_as: bool = False) -> None:
    def accepted(sent: Sent) -> bool:  # at a token endpoint, accepted means a token was issued
        return token_issued(sent.final) if at_as else sent.final.ok

    if not accepted(control):
        raise prerequisite_failed("the control request after the replay", control)
    final = replay.final
    if final.error:
        raise CouldNotJudge(f"the target did not answer the replay ({final.error})", exchanges=replay.exchanges)
    if accepted(replay):
        raise violation(
            what, "a refusal: the jti was seen before (§11.1)", final, exchanges=[*first.exchanges, *replay.exchanges]
        )
    note(f"the replay was refused with HTTP {final.status}")


@pytest.mark.parametrize("kind", _params("AS"))
def test_token_endpoint_refuses_replayed_proof(dpop: DPoPSession, note: Any, kind: str) -> None:
    dpop.require_authorization_server()
    assert dpop.target.client is not None
    if dpop.target.client.grant_type != "client_credentials":
        pytest.skip("a replay at the token endpoint needs a grant that can be repeated (client_credentials)")
    first = dpop.request_token(label="valid token request")
    if not token_issued(first.final):
        raise prerequisite_failed("a valid token request", first)
    replay = dpop.request_token(
        proofs=_replay_proofs(kind, first.final.proofs[0]),
        retry_on_nonce=False,
        label=f"token request with {REPLAYS[kind]}",
    )
    control = dpop.request_token(label="control: valid token request after the replay")
    _judge(first, replay, control, f"a token request with {REPLAYS[kind]}", note, at_as=True)


@pytest.mark.parametrize("kind", _params("RS"))
def test_resource_refuses_replayed_proof(dpop: DPoPSession, note: Any, kind: str) -> None:
    bound = dpop.bound_token()
    first = dpop.call_resource(bound.access_token, bound.key, label="valid resource request")
    if not first.final.ok:
        raise prerequisite_failed("a valid resource request", first)
    replay = dpop.call_resource(
        bound.access_token,
        bound.key,
        proofs=_replay_proofs(kind, first.final.proofs[0]),
        retry_on_nonce=False,
        label=f"resource request with {REPLAYS[kind]}",
    )
    control = dpop.control(bound, "after")
    _judge(first, replay, control, f"a resource request with {REPLAYS[kind]}", note)
