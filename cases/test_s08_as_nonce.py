"""RFC 9449 §8 Authorization Server-Provided Nonce: the challenge and the retry."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalog import case
from conformance.checks import NQCHAR_NONCE, violation
from conformance.flow import Sent
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge, Level


def _first_request_without_nonce(dpop: DPoPSession) -> Sent:
    sent = dpop.request_token(use_known_nonce=False, retry_on_nonce=False, label="token request without a nonce")
    first = sent.final
    if first.error:
        raise CouldNotJudge(f"the token endpoint did not answer: {first.error}", exchanges=sent.exchanges)
    if first.ok:
        pytest.skip("the authorization server accepted a proof without a nonce: it demands no nonce here")
    if first.json_object().get("error") != "use_dpop_nonce":
        raise CouldNotJudge(
            f"a valid proof without a nonce was refused, but not with use_dpop_nonce "
            f"({first.summary()}), so the nonce challenge cannot be judged",
            exchanges=sent.exchanges,
        )
    return sent


@case(
    "as-nonce-challenge",
    "Nonce challenge: 400 use_dpop_nonce with one valid DPoP-Nonce",
    section="8",
    level=Level.MUST,
    actor="AS",
    requirement="R-8-2",
)
def test_nonce_challenge_has_one_well_formed_nonce(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof that carries no nonce.
    Expects, where the AS demands nonces: HTTP 400 with error "use_dpop_nonce" and exactly one
    DPoP-Nonce header (§8: "MUST NOT be more than one") whose value is 1*NQCHAR (§8.1). A status other
    than 400 is a warning. Skipped where the AS accepts the proof without a nonce.
    """
    sent = _first_request_without_nonce(dpop)
    challenge = sent.final
    what = "a token request with a valid proof and no nonce"
    values = challenge.headers("DPoP-Nonce")
    if len(values) != 1:
        raise violation(what, f"exactly one DPoP-Nonce header; found {len(values)}", challenge)
    if not NQCHAR_NONCE.fullmatch(values[0]):
        raise violation(
            what,
            "a DPoP-Nonce value of NQCHAR characters only (%x21 / %x23-5B / %x5D-7E, no space, quote or backslash)",
            challenge,
        )
    if challenge.status != 400:
        raise violation(
            what, "HTTP 400 for the use_dpop_nonce error (§8, RFC 6749 §5.2)", challenge, level=Level.SHOULD
        )
    note(f"challenged with HTTP 400, use_dpop_nonce and one DPoP-Nonce of {len(values[0])} characters")


@case(
    "as-nonce-retry",
    "Retry with the server's nonce and a new jti succeeds",
    section="8",
    level=Level.MUST,
    actor="AS",
    requirement="R-8-4",
)
def test_retry_with_nonce_and_new_jti_succeeds(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with no nonce and, after the use_dpop_nonce challenge, the same request
    with a new proof carrying the DPoP-Nonce value and a fresh jti.
    Expects: HTTP 200 with an access_token for the retry. Skipped where the AS demands no nonce.
    """
    _first_request_without_nonce(dpop)
    retry = dpop.request_token(retry_on_nonce=False, label="token request with the server's nonce")
    final = retry.final
    if final.status != 200 or not isinstance(final.json_object().get("access_token"), str):
        raise violation(
            "a token request whose proof carries the nonce the AS just supplied and a new jti",
            "HTTP 200 with an access_token",
            final,
            exchanges=retry.exchanges,
        )
    note("the retry with the supplied nonce was accepted")
