"""RFC 9449 §7 Protected Resource Access: the DPoP scheme with a proof works; Bearer downgrade does not."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import pytest

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent, dpop_challenge, parse_challenges
from conformance.client.keys import SUPPORTED_ALGS, key_for
from conformance.client.request import Request
from conformance.client.uri import with_query
from conformance.judge.answers import OVERLOADED, challenge_errors, is_server_error
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import (
    accepted_cause,
    answer,
    describe,
    expect_resource_accepts,
    overloaded,
    prerequisite_failed,
    server_error,
    unanswered,
    violation,
    where,
)
from conformance.judge.endpoints import RESOURCE
from conformance.judge.mutations import mutation
from conformance.judge.negatives import accepted, between_controls, refused, send_once
from conformance.judge.refusal import expect_refused
from conformance.judge.server_values import distinct
from conformance.judge.session import DPoPSession
from conformance.judge.setup_problems import setup_problem
from conformance.judge.verdicts import CouldNotJudge, Level, Observation

#: what a DPoP-bound token received as a bearer token breaks
DOWNGRADE_RULE = "§7.2: a DPoP-bound access token received as a bearer token is rejected"
#: what to change when a request carrying the token by two methods is not refused with 400
TWO_METHODS_FIX = (
    "refuse a request that carries the token by more than one method with 400 invalid_request (RFC 6750 §3.1)"
)


@case(
    "rs-accepts-dpop-request",
    "Resource accepts Authorization: DPoP with a proof carrying ath",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7-1",
)
def test_accepts_dpop_token_with_valid_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with `Authorization: DPoP <token>` and a fresh proof whose htm, htu
    and ath (base64url SHA-256 of the token) match, retrying once with the server's nonce if asked.
    Expects: a 2xx answer. A refusal with error invalid_token is not judged (error): the resource may
    not accept this AS's tokens at all (audience, RFC 8707 `resource`), which is configuration.
    """
    sent = send_once(dpop, RESOURCE, Request(label="resource request"))
    expect_resource_accepts(
        sent,
        what="a resource request with a DPoP-bound token and a valid proof",
        rule="§7.1: a DPoP-bound token with a valid proof (htm, htu, ath) grants access",
    )
    note(f"HTTP {sent.final.status}" + (" after one nonce challenge" if sent.challenged else ""))


@case(
    "rs-bearer-downgrade",
    "Resource refuses a DPoP-bound token sent as a Bearer token",
    section="7.2",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.2-1",
)
def test_rejects_dpop_bound_token_sent_as_bearer(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid request (control), then the DPoP-bound token as `Authorization: Bearer <token>`
    with no proof, then the valid request again (control).
    Expects: a refusal. A resource supporting both schemes "MUST reject a DPoP-bound access token
    received as a bearer token" (§7.2), typically 401 with `Bearer error="invalid_token"`; one that
    supports only DPoP refuses Bearer as an unsupported method, for which RFC 6750 §3.1 says no error
    code SHOULD be given, so a refusal without `error` passes too. Access granted fails either way.
    """
    resource = RESOURCE.holding(dpop.bound_token())
    resource.control(dpop, "before")
    sent = send_once(dpop, resource, Request(label="DPoP-bound token as Bearer", scheme="Bearer", without_proof=True))
    resource.control(dpop, "after")
    final = expect_refused(
        sent,
        RESOURCE.refusal,
        what="the DPoP-bound token as a Bearer token, without a proof",
        rule=DOWNGRADE_RULE,
        errors={"invalid_token", "invalid_request", "invalid_dpop_proof"},
        error_required=False,
    )
    note(f"refused with HTTP {final.status}")


@case(
    "rs-proof-missing",
    "Resource refuses the DPoP scheme without a DPoP proof",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7-1",
)
def test_rejects_dpop_scheme_without_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: `Authorization: DPoP <token>` with no DPoP header, between two valid requests.
    Expects: a refusal, 401 with a DPoP challenge (§7.1: the resource "MUST check that a DPoP proof was
    also received"); the error code is not specified (invalid_token, invalid_dpop_proof, invalid_request).
    """
    final = refused(
        dpop,
        RESOURCE,
        Request(label="the DPoP-bound token under the DPoP scheme without a proof", without_proof=True),
        rule="§7.1: the resource checks that a DPoP proof came with the DPoP scheme",
    )
    note(f"refused with HTTP {final.status}")


@case(
    "rs-bearer-downgrade-with-proof",
    "Resource refuses a DPoP-bound token sent as Bearer, even with a valid proof",
    section="7.2",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.2-1",
)
def test_rejects_dpop_bound_token_sent_as_bearer_with_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: `Authorization: Bearer <DPoP-bound token>` together with a valid DPoP proof for it.
    Expects: a refusal (§7.2: "MUST reject a DPoP-bound access token received as a bearer token"); a
    DPoP-only resource may refuse Bearer without an error code (RFC 6750 §3.1).
    """
    final = refused(
        dpop,
        RESOURCE,
        Request(label="the DPoP-bound token as a Bearer token with a valid proof", scheme="Bearer"),
        rule=DOWNGRADE_RULE,
        error_required=False,
    )
    note(f"refused with HTTP {final.status}")


SCHEME_VARIANTS = [
    ("dpop", "DPoP", "scheme in lower case"),
    ("DPOP", "DPoP", "scheme in upper case"),
    ("DPoP", "dpop", "DPoP header field name in lower case"),
    ("DPoP", "DPOP", "DPoP header field name in upper case"),
]


@case(
    "rs-scheme-case-insensitive",
    "Resource accepts the DPoP scheme and header name in any case",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.1-1",
)
def test_accepts_scheme_and_header_name_in_any_case(dpop: DPoPSession, note: Any) -> None:
    """Sends: four valid requests: `Authorization: dpop <token>`, `DPOP <token>`, and the proof in header
    fields named `dpop` and `DPOP`.
    Expects: a 2xx answer to each: authentication schemes are case-insensitive (RFC 9110 §11.1), and so
    are field names (§4.1: "DPoP, DPOP, dpop, etc., are all valid"; RFC 9110 §5.1).
    """
    resource = RESOURCE.holding(dpop.bound_token())
    resource.control(dpop, "before")
    refused = []
    for scheme, header_name, text in SCHEME_VARIANTS:
        request = Request(label=f"valid request, {text}", scheme=scheme, dpop_header_name=header_name)
        sent = send_once(dpop, resource, request)
        if sent.final.error:
            raise unanswered(f"a valid request, {text}", sent.exchanges)
        if not sent.final.ok:
            refused.append((text, sent))
    if refused:
        texts = ", ".join(text for text, _ in refused)
        final = refused[0][1].final
        raise violation(
            f"valid requests with the {texts}",
            "a 2xx answer to each (RFC 9110 §11.1, §5.1)",
            final,
            cause=f"{where(final)} refuses valid requests with the {texts} ({answer(final)})",
            fix="read the authentication scheme and header field names case-insensitively (RFC 9110 §11.1 and §5.1; "
            "RFC 9449 §4.1)",
            exchanges=[e for _, s in refused for e in s.exchanges],
        )
    note("accepted: " + "; ".join(text for _, _, text in SCHEME_VARIANTS))


@case(
    "rs-scheme-extra-space",
    "Resource accepts more than one space between the DPoP scheme and the token",
    section="7.1",
    level=Level.SHOULD,
    actor="RS",
    requirement="R-7.1-1",
)
def test_accepts_two_spaces_after_the_scheme(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid request with `Authorization: DPoP  <token>` (two spaces).
    Expects: a 2xx answer: the credentials syntax is `"DPoP" 1*SP token68` (§7.1, RFC 9110 §11.4). A
    refusal is a warning: a parser that splits on one space breaks no security property.
    """
    final = accepted(
        dpop,
        RESOURCE,
        Request(label="a valid request with two spaces between DPoP and the token", scheme="DPoP "),
        rule='§7.1 and RFC 9110 §11.4: the credentials are "DPoP" 1*SP token68, so several spaces are legal',
    )
    note(f"accepted with HTTP {final.status}")


def _no_credentials(dpop: DPoPSession, *, scheme: str = "", label: str = "request without credentials") -> Exchange:
    """The answer to the resource request without credentials (or, with `scheme`, with the token under that
    scheme and no proof), between controls; a violation when it grants access."""
    resource = RESOURCE.holding(dpop.bound_token())
    resource.control(dpop, "before")
    sent = send_once(dpop, resource, Request(label=label, scheme=scheme, without_proof=True))
    resource.control(dpop, "after")
    final = sent.final
    if final.error:
        raise unanswered(label, sent.exchanges)
    if final.ok and not scheme:
        raise violation(
            "a request without credentials",
            "a refusal: 401 with a DPoP challenge",
            final,
            cause=f"{where(final)} grants access to a request without any credentials (HTTP {final.status})",
            fix="refuse a request without credentials with 401 and WWW-Authenticate: DPoP algs=... (§7.1); if the URL "
            "is public, put a protected one in the target file ([resource_server] url)",
        )
    return final


def _challenges(ex: Exchange) -> list[tuple[str, dict[str, str]]]:
    return [challenge for value in ex.headers("WWW-Authenticate") for challenge in parse_challenges(value)]


def _same_answer(a: Exchange, b: Exchange) -> bool:
    """Whether two answers are alike: the status, and the schemes and error codes of their challenges."""

    def shape(ex: Exchange) -> tuple[int | None, list[tuple[str, str]]]:
        return ex.status, sorted((s.lower(), p.get("error", "")) for s, p in _challenges(ex))

    return shape(a) == shape(b)


def _not_accepted(dpop: DPoPSession, final: Exchange, schemes: list[str]) -> list[str]:
    """Of `schemes`, those the resource answers like no credentials at all when the token comes under them: it
    does not read that scheme (a scheme it reads gets another answer: an error code, or access)."""
    return [
        scheme
        for scheme in schemes
        if _same_answer(_no_credentials(dpop, scheme=scheme, label=f"the DPoP-bound token under {scheme}"), final)
    ]


@case(
    "rs-challenge-without-credentials",
    "Resource answers a request without credentials with 401 and a challenge it accepts (DPoP, ideally)",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="RFC9110-15.5.2",
)
def test_challenges_a_request_without_credentials(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with neither Authorization nor DPoP header (between controls); where its
    challenges name only schemes other than DPoP and Bearer, the DPoP-bound token under each of them.
    Expects: 401 with `WWW-Authenticate` "containing at least one challenge applicable to the target resource"
    (RFC 9110 §15.5.2, MUST): a 401 without one, or whose challenges name only schemes the resource answers
    like no credentials at all, fails. A DPoP challenge is what §7.1 describes, but a resource "can" send one
    (no BCP 14 keyword): a Bearer challenge alone (a resource that takes both) is info. Another 4xx than 401 is
    a warning (§7.1 and RFC 6750 §3.1 use 401), and so is a server error.
    """
    final = _no_credentials(dpop)
    what = "a request without credentials"
    status = final.status or 0
    if is_server_error(final) and status not in OVERLOADED:
        raise server_error(
            what,
            "401 with a DPoP challenge",
            final,
            [final],
            fix="answer a request without credentials with 401 and WWW-Authenticate: DPoP algs=... (§7.1)",
        )
    if status in OVERLOADED:
        raise overloaded(what, [final])
    challenges = _challenges(final)
    schemes = [scheme for scheme, _ in challenges]
    lowered = {scheme.lower() for scheme in schemes}
    if status == 401 and not challenges:
        raise violation(
            what,
            "a WWW-Authenticate header field with at least one challenge (RFC 9110 §15.5.2: a 401 MUST send one)",
            final,
            cause=f"{where(final)} answers 401 without any WWW-Authenticate challenge",
            fix='send WWW-Authenticate: DPoP algs="..." with every 401 (RFC 9110 §15.5.2, RFC 9449 §7.1)',
        )
    if status == 401 and challenges and not lowered & {"dpop", "bearer"}:
        ignored = _not_accepted(dpop, final, list(dict.fromkeys(schemes)))
        if len(ignored) == len(set(schemes)):
            raise violation(
                what,
                "a challenge applicable to the resource (RFC 9110 §15.5.2): it takes DPoP tokens, yet its "
                f"challenges name only {', '.join(ignored)}, which it answers like no credentials at all",
                final,
                cause=f"{where(final)} challenges only with schemes it does not accept ({', '.join(ignored)})",
                fix='send WWW-Authenticate: DPoP algs="..." with the 401 (RFC 9449 §7.1)',
            )
    if status != 401:
        raise violation(
            what,
            "HTTP 401 (RFC 9449 §7.1 and RFC 6750 §3.1 answer a request without credentials with 401)",
            final,
            level=Level.SHOULD,
            cause=f"{where(final)} answers a request without credentials with HTTP {status}, not 401",
            fix="answer a request without credentials with 401 and WWW-Authenticate: DPoP algs=... (§7.1)",
        )
    if "dpop" not in lowered:
        raise Observation(
            f"{what}: 401 with WWW-Authenticate: {', '.join(final.headers('WWW-Authenticate'))[:300]}: no DPoP "
            "challenge. A challenge the resource accepts is there, which is all RFC 9110 asks; §7.1 says a resource "
            '"can" send a DPoP challenge, and one tells a client it can use DPoP (and which algs).'
        )
    note(f"401, WWW-Authenticate: {', '.join(final.headers('WWW-Authenticate'))}")


@case(
    "rs-challenge-algs",
    "The DPoP challenge lists the accepted algorithms (algs)",
    section="7.1",
    level=Level.SHOULD,
    actor="RS",
    requirement="R-7.1-3",
)
def test_challenge_lists_algs(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with no credentials.
    Expects: the DPoP challenge carries `algs`, a space-delimited list of JWS algorithms (§7.1: "SHOULD be
    included"). Skipped when there is no DPoP challenge at all (see rs-challenge-without-credentials).
    """
    final = _no_credentials(dpop)
    challenge = dpop_challenge(final)
    if challenge is None:
        pytest.skip("no DPoP challenge to look into (rs-challenge-without-credentials judges that)")
    algs = challenge.get("algs", "").split()
    if not algs:
        raise violation(
            "a request without credentials",
            'an algs parameter in the DPoP challenge, e.g. algs="ES256"',
            final,
            cause=f"{where(final)} sends a DPoP challenge without algs",
            fix='add algs="..." to the DPoP challenge, listing the JWS algorithms it accepts for proofs (§7.1)',
        )
    note(f"algs: {' '.join(algs)}")


@case(
    "rs-challenge-no-error",
    "The challenge to a request without credentials carries no error code",
    section="7.1",
    level=Level.SHOULD,
    actor="RS",
    requirement="R-7.1-3",
)
def test_challenge_without_credentials_has_no_error(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with no credentials.
    Expects: no `error` parameter in the challenges: a request that lacks any authentication information
    "SHOULD NOT include an error code" (RFC 6750 §3.1, which §7.1 follows).
    """
    final = _no_credentials(dpop)
    if is_server_error(final):
        pytest.skip(f"the resource failed ({final.as_cause()}): rs-challenge-without-credentials judges that")
    errors = challenge_errors(final)
    if errors:
        raise violation(
            "a request without credentials",
            f"no error code in the challenge; found {', '.join(errors)}",
            final,
            cause=f"{where(final)} puts error={', '.join(errors)} in its challenge to a request without credentials",
            fix="leave the error parameter out of the challenge to a request that has no credentials at all "
            "(RFC 6750 §3.1, RFC 9449 §7.1)",
        )
    note("no error code")


@case(
    "rs-error-on-bad-token",
    "Resource refuses an invalid access token with an error code",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.1-2",
)
def test_refuses_invalid_token_with_error_code(dpop: DPoPSession, note: Any) -> None:
    """Sends: `Authorization: DPoP <random string>` with a valid proof for that string (its ath), between
    two valid requests.
    Expects: a refusal (MUST NOT grant access, §7.1) whose challenge carries an error code, typically
    invalid_token (§7.1: error "SHOULD be included ... if the request included an access token but
    failed authentication"; a missing one is a warning).
    """
    bogus = "not-an-access-token-" + secrets.token_urlsafe(24)
    final = refused(
        dpop,
        RESOURCE,
        Request(label="an access token the AS never issued, with a valid proof for it", token=bogus),
        rule="§7.1: no access unless the access token is valid",
    )
    note(f"refused with HTTP {final.status}, error={', '.join(challenge_errors(final))}")


@case(
    "rs-multiple-auth-methods",
    "Resource refuses Bearer and DPoP credentials together with 400 invalid_request",
    section="7.2",
    level=Level.SHOULD,
    actor="RS",
    requirement="R-7.2-2",
)
def test_refuses_two_authorization_methods(dpop: DPoPSession, note: Any) -> None:
    """Sends: two Authorization header lines, `Bearer <token>` then `DPoP <token>` (the order of RFC 9449
    figure 19), with a valid proof.
    Expects: 400 with error invalid_request: "uses more than one method for including an access token"
    (RFC 6750 §3.1, a SHOULD; §7.2 figure 19). Anything else, a 2xx included, is a warning: the DPoP
    credentials alone would be valid, so no MUST is broken.
    """
    bound = dpop.bound_token()
    what = "two Authorization lines (Bearer, then DPoP) with a valid proof"
    lines = (("Authorization", f"Bearer {bound.access_token}"), ("Authorization", f"DPoP {bound.access_token}"))
    sent = between_controls(dpop, RESOURCE, Request(label=what, scheme="", extra_headers=lines))
    final = sent.final
    if final.error:
        raise prerequisite_failed(what, sent)
    if final.status != 400 or "invalid_request" not in challenge_errors(final):
        raise violation(
            what,
            "400 with error invalid_request (RFC 6750 §3.1, RFC 9449 figure 19)",
            final,
            cause=f"{where(final)} answers a request with two Authorization lines (Bearer, DPoP) with "
            f"{answer(final)}, not 400 invalid_request",
            fix=TWO_METHODS_FIX,
            exchanges=sent.exchanges,
        )
    note("refused with 400 invalid_request")


@case(
    "rs-proxy-authorization-refused",
    "Resource does not take a DPoP token from Proxy-Authorization",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.1-4",
)
def test_refuses_dpop_in_proxy_authorization(dpop: DPoPSession, note: Any) -> None:
    """Sends: `Proxy-Authorization: DPoP <token>` with a valid proof and no Authorization header.
    Expects: a refusal: the DPoP scheme "MUST NOT be used with the Proxy-Authenticate or
    Proxy-Authorization header fields" (§7.1), so the request has no credentials.
    """
    bound = dpop.bound_token()
    request = Request(
        label="the token in Proxy-Authorization: DPoP with a valid proof, no Authorization",
        scheme="",
        extra_headers=(("Proxy-Authorization", f"DPoP {bound.access_token}"),),
    )
    final = refused(
        dpop,
        RESOURCE,
        request,
        rule="§7.1: the DPoP scheme is not used with Proxy-Authorization, so the request carries no credentials",
        error_required=False,
    )
    note(f"refused with HTTP {final.status}")


@case(
    "rs-advertised-algs-accepted",
    "Resource accepts a proof in every algorithm it advertises",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-5",
)
def test_every_advertised_algorithm_works_at_the_resource(dpop: DPoPSession, note: Any, measure: Any) -> None:
    """Sends: for each algorithm the resource lists in its challenge's `algs` (or, without one, the AS
    metadata lists) and the suite can sign: a token request with a key of that kind, then a resource
    request with that token and a valid proof.
    Expects: a 2xx answer from the resource for each it advertises. Where it advertises none, the AS's list
    is tried, and a refusal is info: nothing binds the resource to the AS's list. Skipped for RS-only targets
    (no AS to bind tokens to other keys) and where no algorithm list is available.
    """
    dpop.require_authorization_server()
    challenge = dpop_challenge(_no_credentials(dpop)) or {}
    rs_algs = distinct(challenge.get("algs", "").split()) or []
    as_algs = distinct((dpop.metadata or {}).get("dpop_signing_alg_values_supported"))
    algs = rs_algs or as_algs or []
    # only keys the AS will bind a token to can be tried at the resource
    usable = [a for a in algs if a in SUPPORTED_ALGS and (as_algs is None or a in as_algs)]
    if not usable:
        pytest.skip("no algorithm that the resource advertises, the AS accepts and the suite can sign with")
    refused, not_bound = [], []
    unbound: list[Exchange] = []  # the token requests the AS refused
    for alg in usable:
        key = key_for(alg)
        issued = dpop.request_token(Request(label=f"token request with an {alg} key", key=key))
        if issued.final.status != 200:
            not_bound.append(alg)  # the AS would not bind a token to this key type: nothing to try here
            unbound.append(issued.final)
            continue
        tokens = dpop.grants.tokens_or_error(issued)
        sent = dpop.call_resource(tokens.access_token, Request(label=f"resource request with an {alg} proof", key=key))
        if sent.final.error:
            raise prerequisite_failed(f"a resource request with an {alg} proof", sent)
        if not sent.final.ok:
            refused.append((alg, sent))
    measure("algs_accepted", [a for a in usable if a not in not_bound and a not in {alg for alg, _ in refused}])
    if refused and not rs_algs:
        # the resource advertises nothing: the AS's list is the suite's guess, and a resource may take fewer
        raise Observation(
            f"the resource refused valid proofs in {', '.join(a for a, _ in refused)}, which the AS advertises; the "
            "resource itself advertises no algs, so nothing says it takes them (add algs to its challenge, §7.1)"
        )
    if refused:
        alg, sent = refused[0]
        names = ", ".join(a for a, _ in refused)
        raise violation(
            f"resource requests with valid proofs in {names} (advertised)",
            "a 2xx answer for each",
            sent.final,
            cause=f"{where(sent.final)} refuses valid proofs in algorithms its challenge advertises: {names}",
            fix="accept every algorithm the challenge's algs lists, or list only those it accepts (§7.1)",
            exchanges=[e for _, s in refused for e in s.exchanges],
        )
    tried = [a for a in usable if a not in not_bound]
    if not tried:
        # a refused client is what stops every case that needs a token: the same cause as theirs
        problem = next((found for ex in unbound if (found := setup_problem(ex, control=True))), None)
        cause, fix = problem or (
            f"the AS binds no token to a key of {', '.join(not_bound)}, which the resource advertises",
            "let the AS bind tokens to keys of the algorithms the resource advertises (as-advertised-algs-accepted "
            "judges the AS), or list in algs only what it binds",
        )
        raise CouldNotJudge(
            f"the AS bound no token to a key of {', '.join(not_bound)}, so none could be tried",
            exchanges=unbound,
            cause=cause,
            fix=fix,
        )
    if not_bound:
        note(f"not tried (the AS would not bind a token to the key): {', '.join(not_bound)}")
    note(f"accepted {', '.join(tried)}")


@case(
    "rs-proof-alg-not-advertised",
    "Resource refuses a valid proof in an algorithm it does not advertise",
    section="7.1",
    level=Level.MAY,
    actor="RS",
    requirement="R-4.3-5",
)
def test_resource_refuses_alg_it_does_not_advertise(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a key of an algorithm the AS advertises but the resource's `algs` does not list
    (one the suite can sign), then a resource request with that token and a valid proof from that key, between
    valid requests.
    Expects: a refusal. §4.3 check 5 asks for an algorithm "acceptable per local policy", and `algs` lists "the
    JWS algorithms that are acceptable for the DPoP proof JWT" (§7.1), a description without a BCP 14 keyword:
    a resource that takes more than it advertises is recorded as info, as at the token endpoint
    (as-proof-alg-not-advertised). Skipped without an `algs` list, when every algorithm the AS binds is in it,
    or for RS-only targets.
    """
    dpop.require_authorization_server()
    final = _no_credentials(dpop)
    rs_algs = distinct((dpop_challenge(final) or {}).get("algs", "").split())
    if not rs_algs:
        pytest.skip("the resource advertises no algs in its DPoP challenge")
    as_algs = distinct((dpop.metadata or {}).get("dpop_signing_alg_values_supported")) or list(SUPPORTED_ALGS)
    unadvertised = [alg for alg in as_algs if alg in SUPPORTED_ALGS and alg not in rs_algs]
    if not unadvertised:
        pytest.skip(f"every algorithm the AS advertises is in the resource's algs ({' '.join(rs_algs)})")
    key = key_for(unadvertised[0])
    bound = dpop.grants.bound_token_for(key)
    what = f"a resource request with a valid {key.alg} proof (not in algs {' '.join(rs_algs)})"
    sent = between_controls(dpop, RESOURCE, Request(label=what, token=bound.access_token, key=key))
    if sent.final.ok:
        raise Observation(f"{what}: accepted (HTTP {sent.final.status}): the resource takes more than its algs says")
    expect_refused(
        sent,
        RESOURCE.refusal,
        what=what,
        rule="§4.3 check 5 and §7.1: an algorithm acceptable per local policy, which the challenge's algs lists",
    )
    note(f"{key.alg} (not in algs): refused with HTTP {sent.final.status}")


# --- the other RFC 6750 methods of sending a token: a form-encoded body (§2.2), the URI query (§2.3) -------


def _downgrade_params() -> list[Any]:
    methods = {
        "form-body": (
            "rs-bearer-downgrade-form-body",
            "2.2",
            "in a form-encoded POST body (access_token=...)",
            "a POST to the resource URL with `Content-Type: application/x-www-form-urlencoded` and the body "
            "`access_token=<DPoP-bound token>`, with no Authorization header and no proof",
        ),
        "query": (
            "rs-bearer-downgrade-query",
            "2.3",
            "in the access_token query parameter",
            "a request to the resource URL (its method) with `?access_token=<DPoP-bound token>` added to the "
            "query, with no Authorization header and no proof",
        ),
    }
    return [
        case_param(
            case_id,
            f"Resource refuses a DPoP-bound token sent {where} (RFC 6750 §{section})",
            name,
            section="7.2",
            level=Level.MUST,
            actor="RS",
            requirement="R-7.2-1",
            doc=f"Sends: a valid request (control), then {sent}, then the valid request again (control).\n"
            'Expects: a refusal: a resource "MUST reject a DPoP-bound access token received as a bearer token" '
            f"(§7.2), and RFC 6750 §{section} is one of the ways a bearer token is received. A resource that "
            "takes no token that way refuses it anyway (any 4xx passes: 401, 400, 404, 405, 415 ...); access granted "
            "fails, and a 5xx is a warning.",
        )
        for name, (case_id, section, where, sent) in methods.items()
    ]


@pytest.mark.parametrize("method", _downgrade_params())
def test_bound_token_is_refused_by_every_bearer_method(dpop: DPoPSession, note: Any, method: str) -> None:
    bound = dpop.bound_token()
    resource = RESOURCE.holding(bound)
    url, configured_method, _ = dpop.require_resource()
    resource.control(dpop, "before")
    if method == "form-body":
        what = "the DPoP-bound token as access_token in a form-encoded POST body, no Authorization, no proof"
        headers = [("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded")]
        body = urlencode({"access_token": bound.access_token})
        exchange = dpop.send_plain(what, "POST", url, headers, body)
    else:
        what = "the DPoP-bound token in the access_token query parameter, no Authorization, no proof"
        exchange = dpop.send_plain(
            what,
            configured_method,
            with_query(url, "access_token", bound.access_token),
            [("Accept", "application/json")],
        )
    resource.control(dpop, "after")
    # A resource that takes no token this way answers as it answers any request without credentials, or as a
    # POST it has no route for (401, 400, 404, 405, 415 ...): every 4xx is a refusal, and no status or error
    # code is owed (the RFC 6750 method is not one it supports). Only access granted fails.
    if exchange.error:
        raise unanswered(what, [exchange])
    if exchange.ok:
        cause, fix = accepted_cause(exchange, what, f"{DOWNGRADE_RULE}, by every method of RFC 6750")
        raise violation(what, "a refusal: the token is DPoP-bound (§7.2)", exchange, cause=cause, fix=fix)
    if (exchange.status or 0) >= 500:
        fix = RESOURCE.refusal.server_error_fix
        raise server_error(what, "a refusal with a 4xx status", exchange, [exchange], fix=fix)
    note(f"refused with HTTP {exchange.status}")


@case(
    "rs-token-in-two-places",
    "Resource refuses a request carrying the token both in Authorization and in the query, with 400",
    section="7.2",
    level=Level.SHOULD,
    actor="RS",
    requirement="RFC6750-3.1",
)
def test_token_in_header_and_query_is_refused(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid DPoP request (`Authorization: DPoP <token>` and a valid proof) whose URL also carries
    `?access_token=<token>`, between two valid requests. (The proof's htu leaves the query out, §4.3.) Where it
    is not refused with 400, the token in the query alone (no Authorization, no proof), to see whether the
    resource reads the query at all.
    Expects: 400 with error invalid_request: the request "uses more than one method for including an access
    token" (RFC 6750 §3.1: "The resource server SHOULD respond with the HTTP 400 (Bad Request) status
    code"). Anything else, a 2xx included, is a warning where the resource reads tokens from the query (it
    then takes two methods and answers as if there were one); where it answers the query token alone as it
    answers no credentials at all, it reads no token there (RFC 6750 §2.3 is a MAY), there is only one method
    to it, and what it does is info.
    """
    bound = dpop.bound_token()
    url, method, _ = dpop.require_resource()
    what = "a valid DPoP request whose URL also carries the token as access_token"
    request = Request(label=what, url=with_query(url, "access_token", bound.access_token))
    sent = between_controls(dpop, RESOURCE.holding(bound), request)
    final = sent.final
    if final.error:
        raise prerequisite_failed(what, sent)
    if final.status == 400 and "invalid_request" in challenge_errors(final):
        note("refused with 400 invalid_request")
        return
    query_only = dpop.send_plain(
        "the DPoP-bound token in the access_token query parameter alone (does the resource read the query?)",
        method,
        with_query(url, "access_token", bound.access_token),
        [("Accept", "application/json")],
    )
    if query_only.error:
        raise unanswered("the token in the access_token query parameter alone", [query_only])
    reads_query = query_only.ok or not _same_answer(query_only, _no_credentials(dpop))
    if not reads_query:
        raise Observation(
            f"{what}: {describe(final)[:200]}. The resource answers the query token alone as it answers no "
            "credentials, so it reads no token from the query (RFC 6750 §2.3: MAY) and the request used one "
            "method; RFC 6750 §3.1's 400 is for requests that use more than one"
        )
    raise violation(
        what,
        "400 with error invalid_request (RFC 6750 §3.1): the resource reads access_token from the query (the query "
        f"token alone got {describe(query_only)[:120]}), so this request used two methods",
        final,
        cause=f"{where(final)} reads the token from the query too, and answers a request carrying it in the "
        f"Authorization header and the query with {answer(final)}, not 400 invalid_request",
        fix=TWO_METHODS_FIX,
        exchanges=[*sent.exchanges, query_only],
    )


#: the spellings of the scheme a resource may accept besides `DPoP` (RFC 9110 §11.1 case, §11.4 1*SP)
SPELLINGS = {"dpop": "the scheme written dpop", "DPOP": "the scheme written DPOP", "DPoP ": "two spaces after DPoP"}
#: the case that judges each of SPELLING_CHECKS under the scheme written DPoP
SPELLING_CASES = {
    "ath-other-token": "rs-proof-ath-other-token",
    "key-swap": "rs-key-swap",
    "signature-flipped-byte": "rs-proof-signature-flipped-byte",
}
#: the checks that matter most, each broken by one thing
SPELLING_CHECKS = {
    "ath-other-token": "an ath that hashes another access token",
    "key-swap": "a proof from another key than the bound one",
    "signature-flipped-byte": "one signature byte flipped",
}


@case(
    "rs-checks-under-every-scheme-spelling",
    "Resource checks ath, the key binding and the signature under every spelling of the scheme it accepts",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.1-2",
)
def test_checks_hold_under_every_accepted_spelling_of_the_scheme(dpop: DPoPSession, note: Any) -> None:
    """Sends: for each of `Authorization: dpop <token>`, `DPOP <token>` and `DPoP  <token>` (two spaces), a
    valid request; where the resource accepts that spelling, three requests under it, each with one fault:
    an ath of another token, a proof from another key than the bound one, a signature with one byte
    flipped (between controls). Each fault is sent under `DPoP <token>` first: one accepted there too is a
    missing check its own case judges (rs-proof-ath-other-token, rs-key-swap, rs-proof-signature-flipped-byte),
    so it is not compared across spellings.
    Expects: a refusal of each: "The resource server MUST NOT grant access to the resource unless all checks
    are successful" (§7.1), whatever spelling of the scheme carried the token. A spelling the resource
    refuses is judged by rs-scheme-case-insensitive and rs-scheme-extra-space, and skipped here.
    """
    bound = dpop.bound_token()
    resource = RESOURCE.holding(bound)
    other_key = key_for(bound.key.alg)

    def faulty(scheme: str, check: str, label: str) -> Sent:
        if check == "key-swap":
            request = Request(label=label, scheme=scheme, key=other_key)
        else:
            request = Request(label=label, scheme=scheme, mutate=mutation(check))
        sent = between_controls(dpop, resource, request)
        if sent.final.error:
            raise unanswered(label, sent.exchanges)
        return sent

    accepted_spellings: list[str] = []
    unchecked: list[tuple[str, Sent]] = []
    accepted_everywhere: list[str] = []
    for scheme, text in SPELLINGS.items():
        valid = send_once(dpop, resource, Request(label=f"valid request, {text}", scheme=scheme))
        if valid.final.error:
            raise unanswered(f"a valid request, {text}", valid.exchanges)
        if not valid.final.ok:
            continue
        if not accepted_spellings:
            # Each fault under the scheme written DPoP first: one the resource accepts there too is a missing check
            # (its own case judges it), not a check skipped under another spelling, so it is left out here.
            for check, fault in SPELLING_CHECKS.items():
                if faulty("DPoP", check, f"the scheme written DPoP, {fault}").final.ok:
                    accepted_everywhere.append(check)
        accepted_spellings.append(text)
        for check, fault in SPELLING_CHECKS.items():
            if check not in accepted_everywhere:
                label = f"{text}, {fault}"
                sent = faulty(scheme, check, label)
                if sent.final.ok:
                    unchecked.append((label, sent))
    if not accepted_spellings:
        pytest.skip("the resource accepts the scheme only as DPoP with one space: no other spelling to check under")
    if len(accepted_everywhere) == len(SPELLING_CHECKS):
        pytest.skip(
            "the resource accepts each of these faults under the scheme written DPoP too (judged by "
            + ", ".join(SPELLING_CASES[c] for c in accepted_everywhere)
            + "): no check left to compare across spellings"
        )
    if unchecked:
        labels = "; ".join(label for label, _ in unchecked)
        final = unchecked[0][1].final
        raise violation(
            f"requests with {labels}",
            "a refusal of each: every §4.3 check and the key binding hold under every accepted spelling (§7.1)",
            final,
            cause=f"{where(final)} skips checks under another spelling of the scheme: it accepts {labels}",
            fix="run every §4.3 check and the key binding whatever spelling of the scheme carries the token (§7.1)",
            exchanges=[e for _, s in unchecked for e in s.exchanges],
        )
    checked = [SPELLING_CHECKS[c] for c in SPELLING_CHECKS if c not in accepted_everywhere]
    elsewhere = ", ".join(SPELLING_CASES[c] for c in accepted_everywhere)
    note(
        f"{'; '.join(checked)}: refused under {len(accepted_spellings)} other spellings: "
        + ", ".join(accepted_spellings)
        + (f" (accepted under DPoP too, so judged by its own case: {elsewhere})" if elsewhere else "")
    )
