"""The judge at its seam, without a server: endpoints, refusal policies, negatives, nonces and exactness.

A fake endpoint (conformance/judge/endpoints.py) answers each request with a function of the proof it carries,
so the generic negatives (`refused`, `accepted`), the nonce judging and the exact comparison run exactly as in
a case, on synthetic exchanges. Where RFC 9449 shows an answer (figures 20 and 21: the nonce challenges of the
authorization server and of the resource) the fake answers with it. Fast enough for the inner loop.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent
from conformance.client.keys import generate_key
from conformance.client.proof import new_proof
from conformance.client.request import Request
from conformance.client.target import Target
from conformance.jose import peek_claims
from conformance.judge import nonces
from conformance.judge.checks import expect_accepted, refusal_note, token_issued
from conformance.judge.endpoints import (
    ENDPOINTS,
    PAR,
    RESOURCE,
    TOKEN,
    Endpoint,
    actors,
    endpoint_of_case,
    request_uri_of,
)
from conformance.judge.exactness import Variant, judge_variants
from conformance.judge.negatives import accepted, between_controls, refused
from conformance.judge.refusal import PAR_REFUSALS, RESOURCE_REFUSALS, TOKEN_REFUSALS, expect_refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import (
    CouldNotJudge,
    Level,
    NotApplicable,
    Observation,
    Outcome,
    Violation,
    verdict_of,
)

AS_URL = "https://as.example.com/token"
RS_URL = "https://rs.example.com/resource"
NONCE = "eyJ7S_zG.eyJH0-Z.HX4w-7v"  # RFC 9449 figures 20 and 21
KEY = generate_key("ES256")


def exchange(
    status: int,
    body: dict[str, Any] | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    url: str = AS_URL,
    method: str = "POST",
    proofs: tuple[str, ...] = (),
) -> Exchange:
    """An answer as a server could give it, to a request that carried `proofs`."""
    sent = [("DPoP", proof) for proof in proofs]
    text = json.dumps(body) if body is not None else ""
    return Exchange("test", method, url, sent, "", status, list(headers), text)


def sent(*exchanges: Exchange) -> Sent:
    """What a request sent: its exchanges, the last one counts."""
    return Sent(list(exchanges))


#: RFC 9449 figure 20: the authorization server's nonce challenge
FIGURE_20 = (
    400,
    {"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof"},
    (("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("DPoP-Nonce", NONCE)),
)
#: RFC 9449 figure 21: the resource's nonce challenge
FIGURE_21 = (
    401,
    None,
    (
        (
            "WWW-Authenticate",
            'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
        ),
        ("DPoP-Nonce", NONCE),
    ),
)

#: what the fake server answers a request with: the proof's claims (None without a proof) in, (status, body,
#: headers) out
Server = Callable[[dict[str, Any] | None], tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]]


def issued(_claims: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]:
    """A token endpoint that issues a token to every request."""
    return 200, {"access_token": "at", "token_type": "DPoP"}, ()


@dataclass(frozen=True)
class FakeEndpoint(Endpoint):
    """An endpoint answered by a function instead of a server; it records what it was sent."""

    answers: Server = issued
    url_of: str = AS_URL
    sent_log: list[Request] = field(default_factory=list)

    def require(self, dpop: DPoPSession) -> None:
        return None

    def missing_from(self, target: Target) -> str | None:
        return None

    def url(self, dpop: DPoPSession) -> str:
        return self.url_of

    def method(self, dpop: DPoPSession) -> str:
        return "POST"

    def send(self, dpop: DPoPSession, request: Request) -> Sent:
        self.sent_log.append(request)
        nonce = NONCE if request.use_known_nonce and self.key != "no-nonce" else None
        values = request.with_key(KEY).header_values(new_proof(KEY, "POST", self.url_of, nonce=nonce))
        proofs = (values,) if isinstance(values, str) else tuple(values or ())
        claims = peek_claims(proofs[0]) if proofs else None
        status, body, headers = self.answers(claims)
        return sent(exchange(status, body, headers, url=self.url_of, proofs=proofs))

    def accepted(self, sent: Sent) -> bool:
        return token_issued(sent.final)

    def place(self, dpop: DPoPSession) -> tuple[str, str]:
        return (self.key, "")

    def control(self, dpop: DPoPSession, when: str) -> Sent:
        return sent(exchange(200, {"access_token": "control", "token_type": "DPoP"}))

    def send_control(self, dpop: DPoPSession, when: str) -> Sent:
        return self.control(dpop, when)

    def control_what(self, when: str) -> str:
        return f"the control {when}"

    def known_nonce(self, dpop: DPoPSession) -> str | None:
        return NONCE


def fake(server: Server, *, like: Endpoint = TOKEN, key: str = "fake") -> FakeEndpoint:
    """A fake endpoint with the words and the refusal policy of `like`."""
    words = {f.name: getattr(like, f.name) for f in dataclasses.fields(Endpoint)}
    return FakeEndpoint(**{**words, "key": key, "answers": server, "url_of": RS_URL if like is RESOURCE else AS_URL})


#: the judge never reaches the session through a fake endpoint
NO_SESSION = cast(DPoPSession, None)


# --- the registry ---------------------------------------------------------------------------------------------


def test_an_endpoint_says_what_a_target_file_lacks_for_it() -> None:
    # what missing_from reads of a target file: its three tables (an RS-only file here)
    rs_only = cast(Target, SimpleNamespace(authorization_server=None, client=None, resource_server=object()))
    assert TOKEN.missing_from(rs_only) == "the target file has no [authorization_server] (an RS-only target)"
    assert PAR.missing_from(rs_only) == TOKEN.missing_from(rs_only)
    assert RESOURCE.missing_from(rs_only) is None


def test_the_endpoints_are_registered_once_and_the_actors_follow_from_them() -> None:
    assert [e.key for e in ENDPOINTS.values()] == ["token", "resource", "par"]
    assert actors() == ("AS", "RS")
    assert endpoint_of_case("rs-proof-typ-jwt") is RESOURCE and endpoint_of_case("par-htu-exact") is PAR
    with pytest.raises(ValueError, match="no registered endpoint"):
        endpoint_of_case("xx-proof-typ-jwt")


def test_what_accepted_means_differs_by_endpoint() -> None:
    token = sent(exchange(200, {"access_token": "at", "token_type": "DPoP"}))
    no_token = sent(exchange(200, {"token_type": "DPoP"}))
    pushed = sent(exchange(201, {"request_uri": "urn:example:1", "expires_in": 60}))
    assert TOKEN.accepted(token) and not TOKEN.accepted(no_token)
    assert RESOURCE.accepted(no_token) and RESOURCE.accepted(pushed)
    assert PAR.accepted(pushed) and not PAR.accepted(token) and request_uri_of(pushed) == "urn:example:1"


# --- the refusal policies ------------------------------------------------------------------------------------


def test_a_token_endpoint_refusal_is_read_from_its_json_body() -> None:
    final = expect_refused(
        sent(exchange(400, {"error": "invalid_dpop_proof"})), TOKEN_REFUSALS, what="a bad proof", rule="§4.3"
    )
    assert refusal_note(final) == "refused with HTTP 400, error=invalid_dpop_proof"


def test_the_par_endpoint_refuses_as_the_token_endpoint_does() -> None:
    assert PAR_REFUSALS is TOKEN_REFUSALS and PAR.refusal is TOKEN.refusal


def test_a_401_at_the_token_endpoint_is_a_shared_should_deviation() -> None:
    with pytest.raises(Violation) as caught:
        expect_refused(sent(exchange(401, {"error": "invalid_dpop_proof"})), TOKEN_REFUSALS, what="x", rule="r")
    assert caught.value.level is Level.SHOULD and caught.value.shared
    assert "with HTTP 401, not 400" in str(caught.value.cause)


def test_a_resource_refusal_is_read_from_its_challenge_not_its_body() -> None:
    challenge = ("WWW-Authenticate", 'DPoP error="invalid_dpop_proof", algs="ES256"')
    final = expect_refused(
        sent(exchange(401, None, (challenge,), url=RS_URL, method="GET")), RESOURCE_REFUSALS, what="x", rule="r"
    )
    assert final.status == 401
    # a JSON body's code beside a challenge without one is no error code to a client
    body_only = exchange(401, {"error": "invalid_token"}, (("WWW-Authenticate", "DPoP"),), url=RS_URL, method="GET")
    with pytest.raises(Violation) as caught:
        expect_refused(sent(body_only), RESOURCE_REFUSALS, what="x", rule="r")
    assert "no error parameter" in str(caught.value.cause) and caught.value.level is Level.SHOULD
    # a scheme the resource need not support at all may be refused without a code (RFC 6750 §3.1)
    expect_refused(sent(body_only), RESOURCE_REFUSALS, what="x", rule="r", error_required=False)


def test_an_acceptance_fails_at_the_cases_level_and_names_the_rule() -> None:
    with pytest.raises(Violation) as caught:
        expect_refused(sent(exchange(200, {"access_token": "at"})), TOKEN_REFUSALS, what="a typ JWT", rule="check 4")
    assert caught.value.level is None  # the case's own level
    assert caught.value.fix == "refuse such requests — check 4"
    assert verdict_of(caught.value, Level.MUST)[0] is Outcome.FAILED


def test_a_code_outside_the_legal_ones_is_a_refusal_recorded_as_info() -> None:
    with pytest.raises(Observation, match="a refusal all the same"):
        expect_refused(sent(exchange(400, {"error": "invalid_client_metadata"})), TOKEN_REFUSALS, what="x", rule="r")


def test_a_server_error_is_a_warning_with_the_policys_fix() -> None:
    for policy in (TOKEN_REFUSALS, RESOURCE_REFUSALS):
        with pytest.raises(Violation) as caught:
            expect_refused(sent(exchange(500)), policy, what="x", rule="r")
        assert caught.value.level is Level.SHOULD and policy.server_error_fix in str(caught.value.fix)


# --- the generic negatives over an endpoint --------------------------------------------------------------------


def typ_checked(claims: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]:
    """A token endpoint that checks nothing but the proof's presence (its claims: the header is not seen)."""
    if claims is None:
        return 400, {"error": "invalid_dpop_proof"}, ()
    return issued(claims)


def test_refused_sends_the_planned_request_between_controls_and_judges_it() -> None:
    endpoint = fake(typ_checked)
    final = refused(
        NO_SESSION, endpoint, Request(label="a token request without a proof", without_proof=True), rule="§4.3"
    )
    assert final.status == 400 and endpoint.sent_log[0].label == "a token request without a proof"
    with pytest.raises(Violation) as caught:
        refused(NO_SESSION, endpoint, Request(label="a token request with a proof"), rule="§4.3 check 4")
    assert "accepts a token request with a proof" in str(caught.value.cause)


def test_accepted_means_granted_at_the_endpoint() -> None:
    assert accepted(NO_SESSION, fake(issued), Request(label="a valid one"), rule="r").status == 200
    no_token = fake(lambda _: (200, {"token_type": "DPoP"}, ()))
    with pytest.raises(Violation) as caught:
        accepted(NO_SESSION, no_token, Request(label="a valid one"), rule="r")
    assert str(caught.value.cause).endswith("with HTTP 200 but no access_token")


def test_a_refused_control_means_no_verdict() -> None:
    @dataclass(frozen=True)
    class Broken(FakeEndpoint):
        def control(self, dpop: DPoPSession, when: str) -> Sent:
            raise CouldNotJudge(f"the control {when} was refused", cause="refused", fix="accept it")

    endpoint = Broken(**{f.name: getattr(TOKEN, f.name) for f in dataclasses.fields(Endpoint)})
    with pytest.raises(CouldNotJudge, match="the control before"):
        between_controls(NO_SESSION, endpoint, Request(label="x"))
    assert endpoint.sent_log == []


def test_a_request_has_one_proof_plan() -> None:
    with pytest.raises(ValueError, match="one proof plan"):
        Request(without_proof=True, mutate=lambda draft: draft.sign())
    assert not Request().sends_proof and Request().with_key(KEY).sends_proof
    assert Request(without_proof=True).with_key(KEY).header_values(new_proof(KEY, "GET", RS_URL)) is None


# --- nonce judging ---------------------------------------------------------------------------------------------


def challenge_of(figure: tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]) -> Server:
    """A server that challenges a proof without a nonce with `figure`, and grants one with its nonce."""

    def answer(claims: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]:
        if claims is not None and claims.get("nonce") == NONCE:
            return issued(claims)
        return figure

    return answer


def test_rfc_9449_figure_20_is_a_well_formed_challenge() -> None:
    notes: list[str] = []
    nonces.judge_challenge(NO_SESSION, fake(challenge_of(FIGURE_20), key="no-nonce"), notes.append)
    assert notes == [f"HTTP 400, use_dpop_nonce and one DPoP-Nonce of {len(NONCE)} characters"]
    nonces.judge_challenge_no_store(NO_SESSION, fake(challenge_of(FIGURE_20), key="no-nonce"), notes.append)


def test_rfc_9449_figure_21_is_a_well_formed_challenge_at_the_resource() -> None:
    notes: list[str] = []
    resource = fake(challenge_of(FIGURE_21), like=RESOURCE, key="no-nonce")
    nonces.judge_challenge(NO_SESSION, resource, notes.append)
    assert notes[0].startswith("HTTP 401, use_dpop_nonce")
    # figure 21 has no Cache-Control: the challenge that carries the nonce should not be cached (§8.2)
    with pytest.raises(Violation, match="no-store"):
        nonces.judge_challenge_no_store(NO_SESSION, resource, notes.append)


def test_the_challenges_status_is_the_endpoints() -> None:
    _, body, headers = FIGURE_20
    as_401 = fake(challenge_of((401, body, headers)), key="no-nonce")
    with pytest.raises(Violation) as caught:
        nonces.judge_challenge(NO_SESSION, as_401, lambda _: None)
    assert caught.value.level is Level.SHOULD and "not 400" in str(caught.value.cause)


def test_two_nonces_or_one_outside_nqchar_fail() -> None:
    status, body, headers = FIGURE_20
    two = fake(challenge_of((status, body, (*headers, ("DPoP-Nonce", "other")))), key="no-nonce")
    with pytest.raises(Violation, match="exactly one DPoP-Nonce"):
        nonces.judge_challenge(NO_SESSION, two, lambda _: None)
    spaced = tuple((k, "a nonce" if k == "DPoP-Nonce" else v) for k, v in headers)
    with pytest.raises(Violation, match="NQCHAR"):
        nonces.judge_challenge(NO_SESSION, fake(challenge_of((status, body, spaced)), key="no-nonce"), lambda _: None)


def test_a_server_that_demands_no_nonce_makes_the_nonce_cases_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="demands no nonce"):
        nonces.judge_challenge(NO_SESSION, fake(issued, key="no-nonce"), lambda _: None)


def test_the_retry_with_the_servers_nonce_must_be_granted() -> None:
    notes: list[str] = []
    nonces.judge_retry(NO_SESSION, fake(challenge_of(FIGURE_20)), notes.append)
    assert notes == ["the retry with the supplied nonce was accepted"]


def test_a_bogus_nonce_must_be_refused_with_use_dpop_nonce() -> None:
    notes: list[str] = []
    nonces.judge_bogus_nonce(NO_SESSION, fake(challenge_of(FIGURE_20)), "nonce-bogus", notes.append)
    assert notes == ["refused with HTTP 400 and use_dpop_nonce"]
    any_nonce = fake(lambda claims: issued(claims) if claims and "nonce" in claims else FIGURE_20)
    with pytest.raises(Violation) as caught:
        nonces.judge_bogus_nonce(NO_SESSION, any_nonce, "nonce-bogus", notes.append)
    assert verdict_of(caught.value, Level.MUST)[0] is Outcome.FAILED


def test_a_nonce_the_other_server_issued_should_be_refused() -> None:
    notes: list[str] = []
    status, body, headers = FIGURE_21
    rs_nonce = tuple((k, "rs-nonce" if k == "DPoP-Nonce" else v) for k, v in headers)
    resource = fake(challenge_of((status, body, rs_nonce)), like=RESOURCE, key="no-nonce")
    nonces.judge_other_servers_nonce(NO_SESSION, fake(challenge_of(FIGURE_20)), resource, notes.append)
    assert notes == ["refused with HTTP 400 and use_dpop_nonce"]
    # the same value from both servers: nothing to tell apart
    with pytest.raises(Observation, match="the same nonce value"):
        nonces.judge_other_servers_nonce(
            NO_SESSION, fake(challenge_of(FIGURE_20)), fake(challenge_of(FIGURE_21), key="no-nonce"), notes.append
        )


def test_once_a_nonce_was_provided_a_proof_without_one_is_refused() -> None:
    notes: list[str] = []
    nonces.judge_missing_nonce_after_provided(NO_SESSION, fake(challenge_of(FIGURE_20)), notes.append)
    assert notes == ["refused with HTTP 400"]
    with pytest.raises(Violation, match=r"§11\.3"):
        nonces.judge_missing_nonce_after_provided(NO_SESSION, fake(issued), notes.append)


def rotating(accepted_nonce: str) -> Server:
    """A server that hands out the nonce n2 on every 2xx, and accepts the first nonce and `accepted_nonce`."""

    def answer(claims: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]:
        if claims is not None and claims.get("nonce") in (NONCE, accepted_nonce):
            return 200, {"access_token": "at", "token_type": "DPoP"}, (("DPoP-Nonce", "n2"),)
        return FIGURE_20

    return answer


def test_the_nonce_of_a_2xx_serves_the_next_request() -> None:
    notes: list[str] = []
    nonces.judge_rotation(NO_SESSION, fake(rotating("n2")), notes.append)
    assert notes == ["the nonce from a 2xx response was accepted on the next request"]
    with pytest.raises(Violation, match=r"§8\.2"):
        nonces.judge_rotation(NO_SESSION, fake(rotating("none of them")), notes.append)
    with pytest.raises(NotApplicable, match="no DPoP-Nonce on successful responses"):
        nonces.judge_rotation(NO_SESSION, fake(issued), notes.append)


# --- exact comparison ------------------------------------------------------------------------------------------


def prefix_compared(claims: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None, tuple[tuple[str, str], ...]]:
    """A token endpoint that compares htu by prefix: the bug the exactness cases exist for."""
    htu = str((claims or {}).get("htu", ""))
    if AS_URL.startswith(htu) or htu.startswith(AS_URL):
        return issued(claims)
    return 400, {"error": "invalid_dpop_proof"}, ()


def test_every_near_miss_refused_passes() -> None:
    notes: list[str] = []
    refusal = (400, {"error": "invalid_dpop_proof"}, ())
    exact = fake(lambda claims: issued(claims) if (claims or {}).get("htu") == AS_URL else refusal)
    variants = [Variant("path cut", AS_URL[:-1]), Variant("appended", AS_URL + "x")]
    judge_variants(
        NO_SESSION, exact, claim="htu", what="a token request", rule="check 9", variants=variants, note=notes.append
    )
    assert notes == ["all 2 variants of htu refused: path cut, appended"]


def test_the_worst_accepted_near_miss_gives_the_level() -> None:
    variants = [
        Variant("case swapped", AS_URL.upper(), Level.SHOULD),
        Variant("path cut", AS_URL[:-1]),
        Variant("appended", AS_URL + "x"),
    ]
    with pytest.raises(Violation) as caught:
        judge_variants(
            NO_SESSION,
            fake(prefix_compared),
            claim="htu",
            what="a token request",
            rule="check 9",
            variants=variants,
            note=lambda _: None,
        )
    assert caught.value.level is Level.MUST
    assert "path cut (MUST), appended (MUST)" in str(caught.value.cause)


def test_no_variant_is_no_verdict() -> None:
    with pytest.raises(CouldNotJudge):
        judge_variants(NO_SESSION, fake(issued), claim="ath", what="x", rule="r", variants=[], note=lambda _: None)


# --- the checks ------------------------------------------------------------------------------------------------


def test_expect_accepted_without_controls_does_not_judge_a_server_error() -> None:
    with pytest.raises(CouldNotJudge):
        expect_accepted(sent(exchange(500)), what="the happy path", rule="§5", controlled=False)
    with pytest.raises(Violation):
        expect_accepted(sent(exchange(500)), what="a valid variant", rule="§5")
    assert expect_accepted(sent(exchange(200, {"access_token": "at"})), what="x", rule="r").status == 200
