"""RFC 9449 §9 Resource Server-Provided Nonce: the 401 challenge and the retry."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalog import case
from conformance.checks import NQCHAR_NONCE, expect_resource_accepts, violation
from conformance.flow import is_nonce_challenge
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge, Level


@case(
    "rs-nonce-challenge",
    "Resource nonce challenge: 401 use_dpop_nonce with one valid DPoP-Nonce, retry works",
    section="9",
    level=Level.MUST,
    actor="RS",
    requirement="R-9-1",
)
def test_resource_nonce_challenge_and_retry(dpop: DPoPSession, note: Any) -> None:
    """Sends: a resource request with a valid proof that carries no nonce; after the challenge, the
    request again with a new proof carrying the DPoP-Nonce value.
    Expects, where the resource demands nonces: 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`
    and exactly one DPoP-Nonce of NQCHAR characters; then a 2xx answer to the retry. Another status
    than 401 is a warning. Skipped where the resource accepts the proof without a nonce.
    """
    bound = dpop.bound_token()
    sent = dpop.call_resource(
        bound.access_token,
        bound.key,
        use_known_nonce=False,
        retry_on_nonce=False,
        label="resource request without a nonce",
    )
    challenge = sent.final
    if challenge.error:
        raise CouldNotJudge(f"the resource did not answer: {challenge.error}", exchanges=sent.exchanges)
    if challenge.ok:
        pytest.skip("the resource accepted a proof without a nonce: it demands no nonce here")
    if not is_nonce_challenge(challenge, "RS"):
        raise CouldNotJudge(
            f"a valid request without a nonce was refused, but not with use_dpop_nonce "
            f"({challenge.summary()}), so the nonce challenge cannot be judged",
            exchanges=sent.exchanges,
        )
    what = "a resource request with a valid proof and no nonce"
    values = challenge.headers("DPoP-Nonce")
    if len(values) != 1:
        raise violation(what, f"exactly one DPoP-Nonce header with the challenge; found {len(values)}", challenge)
    if not NQCHAR_NONCE.fullmatch(values[0]):
        raise violation(what, "a DPoP-Nonce value of NQCHAR characters only", challenge)
    retry = dpop.call_resource(
        bound.access_token, bound.key, retry_on_nonce=False, label="resource request with the server's nonce"
    )
    expect_resource_accepts(retry, what="the resource request again, with the nonce the resource supplied")
    if challenge.status != 401:
        raise violation(what, "HTTP 401 for use_dpop_nonce at a resource server (§9)", challenge, level=Level.SHOULD)
    note("challenged with 401 and one DPoP-Nonce; the retry with it was accepted")
