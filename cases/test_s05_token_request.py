"""RFC 9449 §5 DPoP Access Token Request: the token endpoint accepts a proof and says the token is DPoP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.client.keys import SUPPORTED_ALGS, key_for
from conformance.client.request import Request
from conformance.jose import peek_claims
from conformance.judge.catalog import case
from conformance.judge.checks import answer, describe, refused_valid_fix, token_issued, unanswered, violation, where
from conformance.judge.server_values import distinct
from conformance.judge.session import CONFIGURATION_ERRORS, DPoPSession
from conformance.judge.setup_problems import SetupProblem, setup_problem
from conformance.judge.verdicts import CouldNotJudge, Level, Observation


@case(
    "as-proof-accepted",
    "Token endpoint accepts a valid DPoP proof",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-1",
)
def test_token_endpoint_accepts_valid_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with the configured grant and a fresh, valid proof (retrying once with the
    server's nonce if it asks for one).
    Expects: HTTP 200 with an access_token.
    """
    sent = dpop.request_token()
    final = sent.final
    if final.error:
        raise unanswered("a token request with a valid proof", sent.exchanges)
    error = final.json_object().get("error")
    if final.status in (400, 401) and error in CONFIGURATION_ERRORS:
        problem = setup_problem(final, control=True) or SetupProblem(
            f"the configured grant was refused ({final.as_cause()})",
            "check [client] grant_type and its refresh_token, redirect_uri or login in the target file",
        )
        raise CouldNotJudge(
            f"the token request was refused with error={error}: check the [client] section of the "
            "target file (id, secret, auth_method, grant_type, scope)",
            exchanges=sent.exchanges,
            cause=problem.cause,
            fix=problem.fix,
        )
    if final.status is not None and 300 <= final.status < 400:
        raise CouldNotJudge(
            f"the token endpoint redirected a valid request ({describe(final)[:200]}); the suite follows no redirects "
            "on API calls: put the final URL in the target file",
            exchanges=sent.exchanges,
            cause=f"{where(final)} redirects a valid token request (HTTP {final.status})",
            fix="put the final URL of the token endpoint in the target file ([authorization_server] token_endpoint)",
        )
    if (final.status or 0) >= 500 or (final.status == 200 and not token_issued(final)):
        # a server error, or a 200 that is not a token response, is a broken target, not a DPoP verdict
        raise CouldNotJudge(
            f"the token endpoint answered a valid request with {describe(final)[:200]}: its happy path is broken",
            exchanges=sent.exchanges,
            cause=f"{where(final)} answers a valid token request with {answer(final)}"
            + (" and no access_token" if final.status == 200 else ""),
            fix=refused_valid_fix(final)
            if final.status != 200
            else "check [authorization_server] token_endpoint in the target file: what answers there gives no token "
            "response (RFC 6749 §5.1)",
        )
    if final.status != 200 or not isinstance(final.json_object().get("access_token"), str):
        raise violation(
            "a token request with a valid DPoP proof",
            "HTTP 200 with an access_token",
            final,
            cause=f"{where(final)} refuses a token request with a valid DPoP proof ({answer(final)})",
            fix="accept a valid proof (§4.3, §5); the error the server gives names the check that fails (behind a "
            "proxy, the URL it compares htu with)",
            exchanges=sent.exchanges,
        )
    if sent.challenged:
        note("accepted after one nonce challenge")
    elif "nonce" in (peek_claims(sent.exchanges[0].proofs[0]) or {}):
        note("accepted; the proof carried the nonce the server had supplied earlier in the run")
    else:
        note("accepted on the first try, without a nonce")


@case(
    "as-token-type-dpop",
    "Token response says token_type DPoP",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-2",
)
def test_token_response_says_token_type_dpop(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof.
    Expects: token_type "DPoP" in the response, compared case-insensitively (RFC 6749 §5.1). An AS may
    issue an unbound token with token_type Bearer instead (§5 MAY): that is recorded as info when the
    token visibly carries no binding.
    """
    sent = dpop.request_token()
    tokens = dpop.grants.tokens_or_error(sent)
    if tokens.token_type.lower() == "dpop":
        note(f"token_type is {tokens.token_type!r}")
        return
    view = dpop.grants.token_view(tokens.access_token)
    if view.claims is not None and "cnf" not in view.claims:
        raise Observation(
            f"token_type is {tokens.token_type!r} and the token carries no cnf: the AS issued an unbound "
            "token, which §5 allows (MAY)"
        )
    raise violation(
        "a token request with a valid DPoP proof",
        'token_type "DPoP" for a DPoP-bound token',
        sent.final,
        cause=f"{where(sent.final)} issues a DPoP-bound token with token_type {tokens.token_type!r}",
        fix='say token_type "DPoP" in the token response of a DPoP-bound token (§5)',
        exchanges=sent.exchanges,
    )


@case(
    "as-token-no-store",
    "Token response carries Cache-Control: no-store",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-2",
)
def test_token_response_is_not_cacheable(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof.
    Expects: `Cache-Control: no-store` on the 200 response (RFC 6749 §5.1: the AS "MUST include the
    HTTP Cache-Control response header field with a value of no-store" in a response with tokens).
    """
    sent = dpop.request_token()
    dpop.grants.tokens_or_error(sent)
    values = ", ".join(sent.final.headers("Cache-Control")).lower()
    if "no-store" not in [v.strip() for v in values.split(",")]:
        raise violation(
            "a token request with a valid DPoP proof",
            "Cache-Control: no-store on the token response",
            sent.final,
            cause=f"{where(sent.final)} sends its token response without Cache-Control: no-store",
            fix="add Cache-Control: no-store to every response that carries tokens (RFC 6749 §5.1)",
            exchanges=sent.exchanges,
        )
    note(f"Cache-Control: {values}")


@case(
    "as-metadata-algs",
    "Metadata lists dpop_signing_alg_values_supported without none or symmetric algorithms",
    section="5.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-5.1-1",
)
def test_metadata_lists_only_asymmetric_algorithms(dpop: DPoPSession, note: Any) -> None:
    """Sends: a request for the authorization server metadata (RFC 8414) of the configured issuer.
    Expects: dpop_signing_alg_values_supported, when present, is a non-empty JSON array of strings
    without "none" (§11.6) and without symmetric (HS*) algorithms (§4.2: "MUST NOT be none or an
    identifier for a symmetric algorithm"). Info when the metadata does not carry the member; skipped
    without an issuer.
    """
    metadata = _metadata_or_skip(dpop)
    algs = metadata.get("dpop_signing_alg_values_supported")
    if algs is None:
        raise Observation("the metadata has no dpop_signing_alg_values_supported (it is optional, §5.1)")
    exchange = dpop.discovery.metadata_exchange()
    if not isinstance(algs, list) or not algs or not all(isinstance(a, str) for a in algs):
        raise violation(
            "a metadata request",
            "dpop_signing_alg_values_supported as a non-empty array of strings",
            exchange,
            cause=f"the metadata gives dpop_signing_alg_values_supported as {json.dumps(algs)[:80]}, not a non-empty "
            "array of strings",
            fix="list the accepted algorithms in dpop_signing_alg_values_supported as a JSON array of strings (§5.1)",
        )
    bad = [a for a in algs if a.lower() == "none" or a.upper().startswith("HS")]
    if bad:
        raise violation(
            "a metadata request",
            f"no none or HS* algorithm in dpop_signing_alg_values_supported; found {', '.join(bad)}",
            exchange,
            cause=f"the metadata lists {', '.join(bad)} in dpop_signing_alg_values_supported",
            fix="list only asymmetric algorithms there, never none or HS* (§4.2, §5.1, §11.6)",
        )
    note(f"dpop_signing_alg_values_supported: {' '.join(algs)}")


def _metadata_or_skip(dpop: DPoPSession) -> dict[str, Any]:
    dpop.require_authorization_server()
    if not dpop.discovery.issuer:
        pytest.skip("the target file names no issuer, so there is no metadata to read")
    metadata = dpop.metadata
    if metadata is None:
        raise CouldNotJudge(
            f"the authorization server metadata could not be read: {dpop.discovery.error}",
            exchanges=dpop.discovery.exchanges,
            cause=f"no authorization server metadata: {dpop.discovery.error}",
            fix="check [authorization_server] issuer in the target file (RFC 8414 metadata is read from it)",
        )
    return metadata


@case(
    "as-advertised-algs-accepted",
    "Token endpoint accepts a proof in every advertised algorithm",
    section="5.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-4.3-5",
)
def test_every_advertised_algorithm_works_at_the_token_endpoint(dpop: DPoPSession, note: Any, measure: Any) -> None:
    """Sends: one token request per algorithm in dpop_signing_alg_values_supported that the suite can
    sign with (ES256, ES384, ES512, RS256, PS256, EdDSA), each with a proof from a fresh key of that kind.
    Expects: HTTP 200 for each: an advertised algorithm is one the server accepts (§5.1). Algorithms the
    suite cannot sign are listed in the message.
    """
    # distinct: a list that names one algorithm a thousand times is a thousand requests otherwise
    algs = distinct(_metadata_or_skip(dpop).get("dpop_signing_alg_values_supported"))
    if not algs:
        pytest.skip("the metadata lists no dpop_signing_alg_values_supported")
    usable = [a for a in algs if a in SUPPORTED_ALGS]
    refused = []
    for alg in usable:
        sent = dpop.request_token(Request(label=f"token request with an {alg} proof", key=key_for(alg)))
        if sent.final.error:
            raise unanswered(f"a token request with an {alg} proof", sent.exchanges)
        if sent.final.status != 200:
            refused.append((alg, sent))
    measure("algs_accepted", [a for a in usable if a not in {alg for alg, _ in refused}])
    if refused:
        alg, sent = refused[0]
        names = ", ".join(a for a, _ in refused)
        raise violation(
            f"a token request with a valid {alg} proof ({alg} is advertised)",
            "HTTP 200",
            sent.final,
            cause=f"{where(sent.final)} refuses valid proofs in algorithms its metadata advertises: {names}",
            fix="accept every algorithm dpop_signing_alg_values_supported lists, or list only those it accepts (§5.1)",
            exchanges=[e for _, s in refused for e in s.exchanges],
        )
    others = [a for a in algs if a not in SUPPORTED_ALGS]
    note(
        f"accepted {', '.join(usable)}"
        + (f"; not tried (the suite cannot sign): {', '.join(others)}" if others else "")
    )
