"""RFC 9449 §8 Authorization Server-Provided Nonce: the nonce challenge, the retry, and nonces that must be refused."""

from __future__ import annotations

from typing import Any

from conformance.judge import nonces
from conformance.judge.catalog import case
from conformance.judge.endpoints import RESOURCE, TOKEN
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level

ENDPOINT = TOKEN


@case(
    "as-nonce-challenge",
    "Authorization server nonce challenge: 400 use_dpop_nonce with one valid DPoP-Nonce",
    section="8",
    level=Level.MUST,
    actor=ENDPOINT.actor,
    requirement="R-8-2",
    lane="as-nonce",
)
def test_nonce_challenge_has_one_well_formed_nonce(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof that carries no nonce.
    Expects: where the authorization server demands nonces, HTTP 400 with error "use_dpop_nonce" in a JSON
    error body (RFC 6749 §5.2) and exactly one DPoP-Nonce header (§8: "MUST NOT be more than one") whose value
    is 1*NQCHAR (§8.1). Another status is a warning. Skipped where the authorization server accepts the proof
    without a nonce.
    """
    nonces.judge_challenge(dpop, ENDPOINT, note)


@case(
    "as-nonce-challenge-no-store",
    "Authorization server nonce challenge is not cacheable",
    section="8",
    level=Level.MAY,
    actor=ENDPOINT.actor,
    requirement="R-8.2-1",
    lane="as-nonce",
)
def test_nonce_challenge_is_not_cacheable(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof that carries no nonce.
    Expects: Cache-Control: no-store on the challenge: responses carrying a nonce "should be uncacheable
    (e.g., using Cache-Control: no-store in response to a GET request)" (§8.2, figure 23). A lower-case
    "should" is no BCP 14 keyword, so a cacheable challenge is recorded as info. Skipped where no nonce
    is demanded.
    """
    nonces.judge_challenge_no_store(dpop, ENDPOINT, note)


@case(
    "as-nonce-retry",
    "Retry with the authorization server's nonce and a new jti succeeds",
    section="8",
    level=Level.MUST,
    actor=ENDPOINT.actor,
    requirement="R-8-4",
    lane="as-nonce",
)
def test_retry_with_nonce_and_new_jti_succeeds(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with no nonce and, after the use_dpop_nonce challenge, the same request with a new
    proof carrying the DPoP-Nonce value and a fresh jti.
    Expects: a successful answer to the retry. Skipped where no nonce is demanded.
    """
    nonces.judge_retry(dpop, ENDPOINT, note)


@case(
    "as-nonce-bogus",
    "Authorization server refuses a nonce it never issued",
    section="8",
    actor=ENDPOINT.actor,
    requirement="R-8-4",
    lane="as-nonce",
    fault="nonce-wrong",
)
def test_refuses_nonce_it_never_issued(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request whose otherwise valid proof carries a nonce the authorization server never issued,
    between two valid requests.
    Expects: a refusal with error use_dpop_nonce (§4.3 check 10; §8: a nonce that does not match one recently
    supplied MUST be rejected, with the same error code). invalid_dpop_proof is a warning.
    """
    nonces.judge_bogus_nonce(dpop, ENDPOINT, "nonce-bogus", note)


@case(
    "as-nonce-one-char-changed",
    "Authorization server refuses its own nonce with one character changed",
    section="8",
    actor=ENDPOINT.actor,
    requirement="R-8-4",
    lane="as-nonce",
    fault="nonce-wrong",
)
def test_refuses_nonce_with_one_character_changed(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request whose proof carries the authorization server's current nonce with one
    character changed.
    Expects: a refusal with error use_dpop_nonce (§4.3 check 10: the nonce must match exactly).
    """
    nonces.judge_bogus_nonce(dpop, ENDPOINT, "nonce-one-char-changed", note)


@case(
    "as-nonce-from-rs",
    "Authorization server refuses a nonce issued by the resource",
    section="8",
    level=Level.MAY,
    actor=ENDPOINT.actor,
    requirement="R-9-1",
    lane="as-nonce",
)
def test_refuses_the_other_servers_nonce(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request whose proof carries the nonce the resource handed out.
    Expects: a refusal with use_dpop_nonce: nonces are "only accepted by the server that issued them" (§9, which
    says "should not be confused" in lower case: no BCP 14 keyword, so acceptance is info). Skipped
    unless both the authorization server and the resource demand nonces.
    """
    nonces.judge_other_servers_nonce(dpop, ENDPOINT, RESOURCE, note)


@case(
    "as-nonce-required-once-provided",
    "Authorization server refuses a proof without nonce once it has provided one",
    section="11.3",
    level=Level.MUST,
    actor=ENDPOINT.actor,
    requirement="R-11.3-1",
    lane="as-nonce",
)
def test_refuses_proof_without_nonce_once_one_was_provided(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid token request (which collects the authorization server's nonce), then one whose proof
    leaves the nonce out.
    Expects: a refusal: "A server MUST NOT accept any DPoP proofs without the nonce claim when a DPoP nonce
    has been provided to the client" (§11.3). Skipped where the authorization server never provides a nonce.
    """
    nonces.judge_missing_nonce_after_provided(dpop, ENDPOINT, note)


@case(
    "as-nonce-from-2xx-accepted",
    "A nonce sent on a successful authorization server response works for the next request",
    section="8.2",
    level=Level.MUST,
    actor=ENDPOINT.actor,
    requirement="R-8.2-1",
    lane="as-nonce",
)
def test_nonce_from_a_successful_response_is_accepted(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid token request; when its 2xx response carries a DPoP-Nonce, a second request whose proof
    carries that nonce (no retry allowed).
    Expects: a successful answer: the client "MUST use the new nonce value supplied for the next token
    request" (§8.2), so the server must honour it. Skipped where 2xx responses carry no DPoP-Nonce.
    """
    nonces.judge_rotation(dpop, ENDPOINT, note)
