"""What an answer is about, read by content (conformance/judge/answers.py, setup_problems.py, attribution.py).

Pure functions on exchanges as a server could answer them (the RFC's own figures where there is one, and the
answers real servers gave: authgent's 401 with a Bearer challenge, node-oidc-provider's vague invalid_grant),
and the verdicts the checks build from them. No server: the live behaviour is in the kill matrix.
"""

from __future__ import annotations

import json

import pytest

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent, is_nonce_challenge
from conformance.judge.answers import RESOURCE_ERRORS, another_cause, dpop_error, error_codes
from conformance.judge.attribution import ATTEMPTS, attributed, recording
from conformance.judge.checks import expect_accepted
from conformance.judge.refusal import RESOURCE_REFUSALS, TOKEN_REFUSALS, expect_refused
from conformance.judge.setup_problems import setup_problem
from conformance.judge.verdicts import CouldNotJudge, Level, Outcome, Violation, verdict_of

TOKEN = "https://as.example.com/token"
RESOURCE = "https://rs.example.com/resource"


def answer(
    status: int,
    body: dict[str, object] | None = None,
    *challenges: str,
    url: str = TOKEN,
    method: str = "POST",
    headers: tuple[tuple[str, str], ...] = (),
) -> Exchange:
    """An answer to a token request (a form POST) or, with `url=RESOURCE`, to a resource request."""
    request_body = "grant_type=client_credentials" if method == "POST" else ""
    response = [("WWW-Authenticate", value) for value in challenges] + list(headers)
    return Exchange(
        "test", method, url, [], request_body, status, response, json.dumps(body) if body is not None else ""
    )


# --- a DPoP answer, whatever its status ------------------------------------------------------------------


def test_the_error_code_is_read_from_the_challenge_and_from_the_body() -> None:
    # authgent's token endpoint: 401, the code in the JSON body and in a Bearer challenge
    authgent = answer(
        401,
        {"error": "invalid_dpop_proof", "error_description": "DPoP proof htm mismatch"},
        'Bearer realm="authgent", error="invalid_dpop_proof", error_description="DPoP proof htm mismatch"',
    )
    assert error_codes(authgent) == ["invalid_dpop_proof"]
    assert dpop_error(authgent) == "invalid_dpop_proof"
    # RFC 9449 figure 16: invalid_token at a resource is its answer to a proof from another key
    challenge = 'DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"'
    figure_16 = answer(401, None, challenge, url=RESOURCE)
    assert dpop_error(figure_16, RESOURCE_ERRORS) == "invalid_token" and dpop_error(figure_16) is None


def test_a_refused_proof_at_a_token_endpoint_is_never_a_refused_client() -> None:
    refused_proof = answer(401, {"error": "invalid_dpop_proof"}, 'DPoP error="invalid_dpop_proof"')
    assert setup_problem(refused_proof) is None and setup_problem(refused_proof, control=True) is None
    refused_client = answer(401, {"error": "invalid_client"}, 'Basic realm="as"')
    assert setup_problem(refused_client) is not None
    bare = answer(401)  # a bare 401 shows the setup only where the request was a valid one (a control)
    assert setup_problem(bare) is None and setup_problem(bare, control=True) is not None
    assert setup_problem(answer(400, {"error": "invalid_scope"})) is not None


def test_a_nonce_challenge_is_recognised_in_any_4xx_and_either_place() -> None:
    nonce = (("DPoP-Nonce", "eyJ7S_zG.eyJH0-Z.HX4w-7v"),)
    assert is_nonce_challenge(answer(400, {"error": "use_dpop_nonce"}, headers=nonce))  # RFC 9449 figure 20
    # figure 21, at a resource; and a token endpoint that answers with 401 and a challenge (authgent)
    assert is_nonce_challenge(answer(401, None, 'DPoP error="use_dpop_nonce"', url=RESOURCE, headers=nonce))
    assert is_nonce_challenge(answer(401, {"detail": "x"}, 'DPoP realm="a", error="use_dpop_nonce"', headers=nonce))
    assert not is_nonce_challenge(answer(500, {"error": "use_dpop_nonce"}))
    assert not is_nonce_challenge(answer(400, {"error": "invalid_dpop_proof"}))


# --- another cause than the change --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Authorization code is invalid, expired, or already used", "grant"),  # authgent, a lost code
        ("Refresh token not found", "grant"),  # authgent, a lost refresh token
        ("grant request is invalid", None),  # node-oidc-provider's every invalid_grant, a binding refusal included
        ("DPoP proof key does not match dpop_jkt", None),  # a binding refusal that says so
        ("refresh token is bound to another DPoP key", None),
    ],
)
def test_a_refused_grant_is_told_from_a_refused_key_by_what_it_names(description: str, kind: str | None) -> None:
    found = another_cause(answer(400, {"error": "invalid_grant", "error_description": description}))
    assert (found.kind if found else None) == kind


def test_rate_limits_overloads_and_unanswerable_nonces_are_other_causes() -> None:
    assert another_cause(answer(429)) is not None and another_cause(answer(503)) is not None
    assert another_cause(answer(400, {"error": "slow_down"})) is not None
    nonce = answer(400, {"error": "use_dpop_nonce"})
    assert another_cause(nonce) is None and another_cause(nonce, answered_nonce=False) is not None
    assert another_cause(answer(500)) is None  # a server error is judged as one, not set aside


def _sent(*exchanges: Exchange) -> Sent:
    return Sent(list(exchanges))


def test_a_request_is_sent_again_while_its_grant_is_lost_and_counts_once_it_is_not() -> None:
    answers = iter(
        [
            answer(400, {"error": "invalid_grant", "error_description": "Refresh token not found"}),
            answer(400, {"error": "invalid_grant", "error_description": "refresh token is bound to another key"}),
        ]
    )
    with recording() as unconfirmed:
        sent = attributed(lambda: _sent(next(answers)), what="a refresh with another key")
    assert "bound to another key" in sent.final.response_body and unconfirmed == []


def test_a_grant_refused_every_time_is_the_answer_to_the_change_confirmed_alone() -> None:
    lost = answer(400, {"error": "invalid_grant", "error_description": "authorization code is invalid"})
    calls = []
    with recording() as unconfirmed:
        attributed(lambda: calls.append(1) or _sent(lost), what="a code redeemed with another key")
    assert len(calls) == ATTEMPTS and len(unconfirmed) == 1


def test_a_rate_limit_that_never_lifts_is_no_verdict() -> None:
    with pytest.raises(CouldNotJudge, match="another cause"):
        attributed(lambda: _sent(answer(502)), what="an altered request")


# --- the verdicts built on them ------------------------------------------------------------------------------


def test_a_401_refusal_at_a_token_endpoint_is_a_status_warning_of_its_own() -> None:
    sent = _sent(answer(401, {"error": "invalid_dpop_proof"}, 'DPoP error="invalid_dpop_proof"'))
    with pytest.raises(Violation) as caught:
        expect_refused(
            sent, TOKEN_REFUSALS, what="a proof with typ JWT", rule="typ is dpop+jwt", errors={"invalid_dpop_proof"}
        )
    assert "with HTTP 401, not 400" in str(caught.value.cause)
    # its level is its own: a warning in a MAY case as in a MUST one
    assert verdict_of(caught.value, Level.MAY)[0] is Outcome.WARNING
    assert verdict_of(caught.value, Level.MUST)[0] is Outcome.WARNING


def test_a_server_error_is_never_a_refusal_nor_a_pass() -> None:
    with pytest.raises(Violation) as caught:
        expect_refused(
            _sent(answer(500, url=RESOURCE, method="GET")),
            RESOURCE_REFUSALS,
            what="a replayed proof",
            rule="§11.1",
            errors=set(),
        )
    assert verdict_of(caught.value, Level.MAY)[0] is Outcome.WARNING
    assert caught.value.hint and "failed" in caught.value.hint  # not a hint that blames a missing check


def test_a_server_error_to_a_valid_variant_is_its_verdict_and_to_the_happy_path_no_verdict() -> None:
    failing = _sent(answer(500, url=RESOURCE, method="GET"))
    with pytest.raises(Violation):
        expect_accepted(failing, what="a valid proof with a fractional iat", rule="RFC 7519 §2")
    with pytest.raises(CouldNotJudge):
        expect_accepted(failing, what="the happy path", rule="§7.1", controlled=False)
    with pytest.raises(CouldNotJudge):
        expect_accepted(
            _sent(answer(503, url=RESOURCE, method="GET")), what="a valid proof with a fractional iat", rule="RFC 7519"
        )


def test_a_pass_on_a_refusal_without_a_dpop_error_is_noted_for_confirmation() -> None:
    with recording() as unconfirmed:
        expect_refused(
            _sent(answer(401, None, 'DPoP error="invalid_dpop_proof"', url=RESOURCE, method="GET")),
            RESOURCE_REFUSALS,
            what="a bad proof",
            rule="§4.3",
            errors={"invalid_dpop_proof"},
        )
    assert unconfirmed == []
    with recording() as unconfirmed:
        expect_refused(
            _sent(answer(400, {"error": "invalid_grant", "error_description": "grant request is invalid"})),
            TOKEN_REFUSALS,
            what="a code redeemed with another key",
            rule="§10",
            errors={"invalid_grant"},
        )
    assert len(unconfirmed) == 1
