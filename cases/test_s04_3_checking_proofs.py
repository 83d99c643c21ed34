"""RFC 9449 §4.3 Checking DPoP Proofs: every check, at the token endpoint, the resource and the PAR endpoint.

Each case alters one thing in an otherwise valid proof (a named mutation carrying its fault, see
conformance/judge/mutations.py) and sends it between two valid requests (controls): a refusal only counts when the
controls succeed. The tables list each change once, with the literal id of each case that sends it; the endpoint a
case sends to is the one its id's prefix names (conformance/judge/endpoints.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conformance.client.flow import Sent
from conformance.client.keys import SUPPORTED_ALGS, generate_key, key_for
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.jose import peek_claims
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import refusal_note, token_issued
from conformance.judge.endpoints import PAR, RESOURCE, TOKEN, Endpoint, endpoint_of_case
from conformance.judge.faults import Change, Fault, acceptance_level, fault
from conformance.judge.mutations import mutation
from conformance.judge.negatives import accepted, between_controls, refused
from conformance.judge.refusal import expect_refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, Observation

#: what the rules broken by the cases below without a mutation of their own say (a fix names them)
ONE_PROOF_RULE = fault("more-than-one-proof").rule
KEY_BINDING_RULE = "§4.3 check 12 and §6: the proof's key is the one the token is bound to (cnf.jkt)"
UNKNOWN_MEMBERS_RULE = "RFC 7519 §4: claims and header members that are not understood are ignored"
SMALL_KEY_RULE = {
    "rfc9449": "RFC 7518 §3.3: RSA keys of 2048 bits or more; §4.3 check 5 leaves the rest to local policy",
    "fapi2": "FAPI 2.0 §5.4.1: RSA keys shall have a minimum length of 2048 bits",
}


def rule_of(m: Change) -> str:
    """The rule a mutated proof breaks, from its fault (conformance/judge/faults.py), for an acceptance's fix."""
    return m.fault.rule if m.fault else f"a proof with {m.description} is refused"


@dataclass(frozen=True)
class Row:
    """One altered proof: its mutation (whose fault gives requirement and level), the §4.3 check it breaks (for
    the docstring), and the ids of its cases, one per endpoint it is sent to."""

    mutation: str
    check: str
    ids: tuple[str, ...]

    def __init__(self, mutation_name: str, check: str, *ids: str) -> None:
        object.__setattr__(self, "mutation", mutation_name)
        object.__setattr__(self, "check", check)
        object.__setattr__(self, "ids", ids)

    @property
    def fault(self) -> Fault:
        """The fault the mutation gives the proof (every row's mutation has one)."""
        found = mutation(self.mutation).fault
        assert found is not None, f"row {self.ids[0]}: mutation {self.mutation} makes a valid proof"
        return found


ROWS = [
    Row(
        "not-jwt-garbage",
        "check 2: a well-formed JWT",
        "as-proof-not-jwt-garbage",
        "rs-proof-not-jwt-garbage",
        "par-proof-not-jwt-garbage",
    ),
    Row(
        "not-jwt-two-segments",
        "check 2: a well-formed JWT",
        "as-proof-not-jwt-two-segments",
        "rs-proof-not-jwt-two-segments",
        "par-proof-not-jwt-two-segments",
    ),
    Row(
        "not-jwt-jwe",
        "check 2: a well-formed JWT (a JWS, not a JWE)",
        "as-proof-not-jwt-jwe",
        "rs-proof-not-jwt-jwe",
        "par-proof-not-jwt-jwe",
    ),
    Row(
        "not-jwt-jws-json",
        "check 2: JWTs use the compact serialization",
        "as-proof-not-jwt-jws-json",
        "rs-proof-not-jwt-jws-json",
        "par-proof-not-jwt-jws-json",
    ),
    Row(
        "not-jwt-empty",
        "check 2: a well-formed JWT",
        "as-proof-not-jwt-empty",
        "rs-proof-not-jwt-empty",
        "par-proof-not-jwt-empty",
    ),
    Row(
        "not-jwt-base64",
        "check 2: base64url segments",
        "as-proof-not-jwt-base64",
        "rs-proof-not-jwt-base64",
        "par-proof-not-jwt-base64",
    ),
    Row(
        "not-jwt-header-not-json",
        "check 2: a JSON header",
        "as-proof-not-jwt-header-not-json",
        "rs-proof-not-jwt-header-not-json",
        "par-proof-not-jwt-header-not-json",
    ),
    Row(
        "jti-missing",
        "check 3: the jti claim is required",
        "as-proof-jti-missing",
        "rs-proof-jti-missing",
        "par-proof-jti-missing",
    ),
    Row(
        "htm-missing",
        "check 3: the htm claim is required",
        "as-proof-htm-missing",
        "rs-proof-htm-missing",
        "par-proof-htm-missing",
    ),
    Row(
        "htu-missing",
        "check 3: the htu claim is required",
        "as-proof-htu-missing",
        "rs-proof-htu-missing",
        "par-proof-htu-missing",
    ),
    Row(
        "iat-missing",
        "check 3: the iat claim is required",
        "as-proof-iat-missing",
        "rs-proof-iat-missing",
        "par-proof-iat-missing",
    ),
    Row(
        "iat-string",
        "iat is a NumericDate (RFC 7519 §4.1.6)",
        "as-proof-iat-string",
        "rs-proof-iat-string",
        "par-proof-iat-string",
    ),
    Row(
        "jti-number",
        "jti is a string (RFC 7519 §4.1.7)",
        "as-proof-jti-number",
        "rs-proof-jti-number",
        "par-proof-jti-number",
    ),
    Row("typ-jwt", "check 4: typ is dpop+jwt", "as-proof-typ-jwt", "rs-proof-typ-jwt", "par-proof-typ-jwt"),
    Row(
        "typ-at-jwt",
        "check 4: typ is dpop+jwt (§11.5: no JWT made for another use)",
        "as-proof-typ-at-jwt",
        "rs-proof-typ-at-jwt",
        "par-proof-typ-at-jwt",
    ),
    Row(
        "typ-missing",
        "check 4: typ is dpop+jwt",
        "as-proof-typ-missing",
        "rs-proof-typ-missing",
        "par-proof-typ-missing",
    ),
    Row(
        "alg-none",
        "check 5 and §11.6: alg none MUST NOT be allowed",
        "as-proof-alg-none",
        "rs-proof-alg-none",
        "par-proof-alg-none",
    ),
    Row(
        "alg-hs256-oct-jwk",
        "checks 5 and 7: asymmetric alg, no private key",
        "as-proof-alg-hs256-oct-jwk",
        "rs-proof-alg-hs256-oct-jwk",
        "par-proof-alg-hs256-oct-jwk",
    ),
    Row(
        "alg-unknown",
        "check 5: a registered, supported algorithm",
        "as-proof-alg-unknown",
        "rs-proof-alg-unknown",
        "par-proof-alg-unknown",
    ),
    Row(
        "alg-key-mismatch",
        "checks 5 and 6: alg fits the key",
        "as-proof-alg-key-mismatch",
        "rs-proof-alg-key-mismatch",
        "par-proof-alg-key-mismatch",
    ),
    Row(
        "alg-non-latin1",
        "check 5: a registered algorithm (a look-alike is none)",
        "as-proof-alg-non-latin1",
        "rs-proof-alg-non-latin1",
        "par-proof-alg-non-latin1",
    ),
    Row(
        "signature-flipped-byte",
        "check 6: the signature verifies",
        "as-proof-signature-flipped-byte",
        "rs-proof-signature-flipped-byte",
        "par-proof-signature-flipped-byte",
    ),
    Row(
        "signature-empty",
        "check 6: the signature verifies",
        "as-proof-signature-empty",
        "rs-proof-signature-empty",
        "par-proof-signature-empty",
    ),
    Row(
        "payload-edited-after-signing",
        "check 6: the signature verifies",
        "as-proof-payload-edited",
        "rs-proof-payload-edited",
        "par-proof-payload-edited",
    ),
    Row(
        "signed-by-other-key",
        "check 6: verifies with the jwk in the header",
        "as-proof-signed-by-other-key",
        "rs-proof-signed-by-other-key",
        "par-proof-signed-by-other-key",
    ),
    Row(
        "ecdsa-der",
        "check 6: ECDSA signatures are raw r‖s (RFC 7518 §3.4)",
        "as-proof-ecdsa-der",
        "rs-proof-ecdsa-der",
        "par-proof-ecdsa-der",
    ),
    Row(
        "jwk-private",
        "check 7: the jwk is a public key",
        "as-proof-jwk-private",
        "rs-proof-jwk-private",
        "par-proof-jwk-private",
    ),
    Row(
        "jwk-missing-kid",
        "§4.2: the jwk header is required",
        "as-proof-jwk-missing-kid",
        "rs-proof-jwk-missing-kid",
        "par-proof-jwk-missing-kid",
    ),
    Row(
        "jwk-missing-jku",
        "§4.2: the jwk header is required",
        "as-proof-jwk-missing-jku",
        "rs-proof-jwk-missing-jku",
        "par-proof-jwk-missing-jku",
    ),
    Row(
        "jwk-missing-x5c",
        "§4.2: the jwk header is required",
        "as-proof-jwk-missing-x5c",
        "rs-proof-jwk-missing-x5c",
        "par-proof-jwk-missing-x5c",
    ),
    Row(
        "htm-wrong",
        "check 8: htm matches the method",
        "as-proof-htm-wrong",
        "rs-proof-htm-wrong",
        "par-proof-htm-wrong",
    ),
    Row(
        "htm-lowercase",
        "check 8 (methods are case-sensitive, RFC 9110 §9.1)",
        "as-proof-htm-lowercase",
        "rs-proof-htm-lowercase",
        "par-proof-htm-lowercase",
    ),
    Row(
        "htu-other-path",
        "check 9: htu matches the URI",
        "as-proof-htu-other-path",
        "rs-proof-htu-other-path",
        "par-proof-htu-other-path",
    ),
    Row(
        "htu-other-host",
        "check 9: htu matches the URI",
        "as-proof-htu-other-host",
        "rs-proof-htu-other-host",
        "par-proof-htu-other-host",
    ),
    Row(
        "htu-other-port",
        "check 9: htu matches the URI",
        "as-proof-htu-other-port",
        "rs-proof-htu-other-port",
        "par-proof-htu-other-port",
    ),
    Row(
        "htu-other-scheme",
        "check 9: htu matches the URI",
        "as-proof-htu-other-scheme",
        "rs-proof-htu-other-scheme",
        "par-proof-htu-other-scheme",
    ),
    Row(
        "htu-path-case",
        "check 9: paths are case-sensitive",
        "as-proof-htu-path-case",
        "rs-proof-htu-path-case",
        "par-proof-htu-path-case",
    ),
    Row(
        "htu-userinfo",
        "check 9: htu matches the URI (userinfo makes another one)",
        "as-proof-htu-userinfo",
        "rs-proof-htu-userinfo",
        "par-proof-htu-userinfo",
    ),
    Row(
        "htu-backslash-authority",
        "check 9: htu matches the URI (a parser confusion)",
        "as-proof-htu-backslash-authority",
        "rs-proof-htu-backslash-authority",
        "par-proof-htu-backslash-authority",
    ),
    Row("ath-missing", "check 12: ath is required with an access token", "rs-proof-ath-missing"),
    Row("ath-other-token", "check 12: ath is the hash of the token", "rs-proof-ath-other-token"),
    Row("ath-hex", "check 12: ath is base64url, not hex", "rs-proof-ath-hex"),
    Row("ath-padded", "check 12: ath has no padding", "rs-proof-ath-padded"),
    Row("ath-dpop-prefix", "check 12: ath hashes the token alone", "rs-proof-ath-dpop-prefix"),
    # claims RFC 9449 does not use: what the server does with them is recorded (info), RFC 7519 §4
    Row(
        "exp-past",
        "RFC 7519 §4.1.4, where exp is processed: an expired JWT is refused",
        "as-proof-exp-past",
        "rs-proof-exp-past",
        "par-proof-exp-past",
    ),
    Row(
        "nbf-future",
        "RFC 7519 §4.1.5, where nbf is processed: a JWT is refused before its nbf",
        "as-proof-nbf-future",
        "rs-proof-nbf-future",
        "par-proof-nbf-future",
    ),
    # lenient encodings: warnings, never failures (conformance/judge/faults.py)
    Row(
        "b64-padded",
        "check 2: base64url without padding",
        "as-proof-b64-padded",
        "rs-proof-b64-padded",
        "par-proof-b64-padded",
    ),
    Row(
        "b64-foreign-characters",
        "check 2: base64url without other characters",
        "as-proof-b64-foreign-characters",
        "rs-proof-b64-foreign-characters",
        "par-proof-b64-foreign-characters",
    ),
    Row(
        "b64-standard-alphabet",
        "check 2: the base64url alphabet",
        "as-proof-b64-standard-alphabet",
        "rs-proof-b64-standard-alphabet",
        "par-proof-b64-standard-alphabet",
    ),
    Row(
        "jwk-odd-member",
        "the jwk names the key in the canonical JWK form",
        "as-proof-jwk-odd-member",
        "rs-proof-jwk-odd-member",
        "par-proof-jwk-odd-member",
    ),
    Row(
        "b64-false",
        'RFC 7797 §7: a JWT does not use "b64" false',
        "as-proof-b64-false",
        "rs-proof-b64-false",
        "par-proof-b64-false",
    ),
    Row(
        "htu-backslash-path",
        "check 9: htu is a URI, which has no backslash",
        "as-proof-htu-backslash-path",
        "rs-proof-htu-backslash-path",
        "par-proof-htu-backslash-path",
    ),
]


def _doc(row: Row, endpoint: Endpoint) -> str:
    m = mutation(row.mutation)
    level = {
        Level.MUST: "",
        Level.SHOULD: " Accepting it is a warning (SHOULD).",
        Level.MAY: (
            " RFC 9449 does not use this claim, and RFC 7519 §4 lets a server ignore a claim its application does "
            "not process: whether the server honours it is recorded, accepting it is info."
        ),
    }[row.fault.level]
    if row.fault.lenient:
        level = (
            " The proof decodes to the valid one the key holder signed, so accepting it is lenient parsing: a "
            "warning, never a failure (RFC 7515 §2, RFC 7519 §7.2)."
        )
    skip = f" Skipped without {endpoint.requires}." if endpoint.requires else ""
    return (
        f"Sends: {endpoint.request} carrying a proof with {m.description}; everything else valid, between two valid "
        f"requests.\nExpects: a refusal ({row.check}), typically {endpoint.typical_refusal}.{level}{skip}"
    )


def _params() -> list[Any]:
    """One case per row and endpoint, the token endpoint's first, then the resource's, then the PAR endpoint's."""
    found = [(endpoint_of_case(case_id), case_id, row) for row in ROWS for case_id in row.ids]
    return [
        case_param(
            case_id,
            f"{endpoint.who} refuses a proof with {mutation(row.mutation).description}",
            endpoint,
            row.mutation,
            section="4.3",
            actor=endpoint.actor,
            doc=_doc(row, endpoint),
            fault=row.fault.id,
        )
        for order in (TOKEN, RESOURCE, PAR)
        for endpoint, case_id, row in found
        if endpoint is order
    ]


def allowed_by_the_rfc(sent: Sent, found: Fault | None) -> None:
    """Raise Observation (info) when the RFC allows accepting this fault (conformance/judge/faults.py).

    Freshness from a server nonce instead of iat (§4.3 check 11), or an empty DPoP field read as no DPoP
    header at all, with nothing bound (§5): the fuzz cases lower the same faults in the same way.
    """
    final = sent.final
    if found is None or not final.ok:
        return
    level, why = acceptance_level(found, final, peek_claims(final.proofs[0]) if final.proofs else None)
    if level is Level.MAY:
        raise Observation(why)


def refused_with_fault(dpop: DPoPSession, endpoint: Endpoint, request: Request, m: Change) -> Sent:
    """The altered request between controls, refused as the endpoint refuses, unless the RFC allows accepting
    its fault (`allowed_by_the_rfc`); returns the request as sent."""
    sent = between_controls(dpop, endpoint, request)
    allowed_by_the_rfc(sent, m.fault)
    expect_refused(sent, endpoint.refusal, what=request.label, rule=rule_of(m))
    return sent


@pytest.mark.parametrize(("endpoint", "mutation_name"), _params())
def test_refuses_altered_proof(dpop: DPoPSession, note: Any, endpoint: Endpoint, mutation_name: str) -> None:
    m = mutation(mutation_name)
    sent = refused_with_fault(
        dpop, endpoint, Request(label=f"{endpoint.request} carrying a proof with {m.description}", mutate=m), m
    )
    note(refusal_note(sent.final))


# --- check 1: one DPoP header ----------------------------------------------------------------------


def _same_proof_twice(d: ProofDraft) -> list[str]:
    proof = d.sign()
    return [proof, proof]


def _two_different_proofs(d: ProofDraft) -> list[str]:
    return [d.sign(), d.with_claims(jti=d.claims["jti"] + "2").sign()]


def _comma_joined(d: ProofDraft) -> list[str]:
    return [f"{d.sign()}, {d.with_claims(jti=d.claims['jti'] + '2').sign()}"]


HEADER_COUNT = {
    "two-headers-same-proof": (_same_proof_twice, "two DPoP header lines carrying the same proof"),
    "two-headers-different-proofs": (_two_different_proofs, "two DPoP header lines carrying two valid proofs"),
    "comma-joined-proofs": (_comma_joined, "one DPoP header line carrying two proofs joined by a comma"),
}
#: each case of check 1: its id and the way it sends two proofs, in the order they run
HEADER_COUNT_CASES = [
    ("as-proof-two-headers-same-proof", "two-headers-same-proof"),
    ("as-proof-two-headers-different-proofs", "two-headers-different-proofs"),
    ("as-proof-comma-joined-proofs", "comma-joined-proofs"),
    ("rs-proof-two-headers-same-proof", "two-headers-same-proof"),
    ("rs-proof-two-headers-different-proofs", "two-headers-different-proofs"),
    ("rs-proof-comma-joined-proofs", "comma-joined-proofs"),
    ("par-proof-two-headers-same-proof", "two-headers-same-proof"),
    ("par-proof-two-headers-different-proofs", "two-headers-different-proofs"),
    ("par-proof-comma-joined-proofs", "comma-joined-proofs"),
]


def _header_count_params() -> list[Any]:
    more = fault("more-than-one-proof")
    params = []
    for case_id, name in HEADER_COUNT_CASES:
        endpoint, text = endpoint_of_case(case_id), HEADER_COUNT[name][1]
        params.append(
            case_param(
                case_id,
                f"{endpoint.who} refuses {text}",
                endpoint,
                name,
                section="4.3",
                actor=endpoint.actor,
                fault=more.id,
                doc=f"Sends: {endpoint.request} with {text} (RFC 9110 §5.3 lets a recipient combine field lines with "
                "commas, so both forms are one field with two values).\nExpects: a refusal (§4.3 check 1: not more "
                "than one DPoP HTTP request header field; check 2: the value is a single JWT).",
            )
        )
    return params


@pytest.mark.parametrize(("endpoint", "variant"), _header_count_params())
def test_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, endpoint: Endpoint, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    request = Request(label=f"{endpoint.request} with {text}", proofs=make)
    note(refusal_note(refused(dpop, endpoint, request, rule=ONE_PROOF_RULE)))


# --- check 11: iat within a window (freshness may come from a server nonce instead) -------------------


IAT_VARIANTS = {"iat-hour-past": "an hour in the past", "iat-hour-future": "an hour in the future"}
#: each case of check 11, in the order they run: its id and its mutation
IAT_CASES = [
    ("as-proof-iat-hour-past", "iat-hour-past"),
    ("as-proof-iat-hour-future", "iat-hour-future"),
    ("par-proof-iat-hour-past", "iat-hour-past"),
    ("par-proof-iat-hour-future", "iat-hour-future"),
    ("rs-proof-iat-hour-past", "iat-hour-past"),
    ("rs-proof-iat-hour-future", "iat-hour-future"),
]


def _iat_params() -> list[Any]:
    outside = fault("iat-outside-window")
    params = []
    for case_id, name in IAT_CASES:
        endpoint, text = endpoint_of_case(case_id), IAT_VARIANTS[name]
        params.append(
            case_param(
                case_id,
                f"{endpoint.who} refuses a proof whose iat is {text}",
                endpoint,
                name,
                section="4.3",
                actor=endpoint.actor,
                fault=outside.id,
                doc=f"Sends: {endpoint.request} carrying a proof whose iat is {text}; everything else valid.\n"
                "Expects: a refusal (§4.3 check 11, §11.1: proofs are accepted only for a limited time), "
                "invalid_dpop_proof or use_dpop_nonce with a fresh nonce. Where the proof carries a server nonce, "
                "freshness may come from the nonce instead (§4.3 check 11), so acceptance is then recorded as info.",
            )
        )
    return params


@pytest.mark.parametrize(("endpoint", "variant"), _iat_params())
def test_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, endpoint: Endpoint, variant: str) -> None:
    m = mutation(variant)
    request = Request(label=f"{endpoint.request} carrying a proof whose iat is {IAT_VARIANTS[variant]}", mutate=m)
    note(refusal_note(refused_with_fault(dpop, endpoint, request, m).final))


# --- check 5: an algorithm the server does not advertise -------------------------------------------------


@case(
    "as-proof-alg-not-advertised",
    "Token endpoint refuses a proof signed with an algorithm it does not advertise",
    section="4.3",
    level=Level.MAY,
    actor="AS",
    requirement="R-4.3-5",
)
def test_token_endpoint_refuses_alg_it_does_not_advertise(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof signed with an algorithm the suite can use but the
    metadata's dpop_signing_alg_values_supported does not list.
    Expects: a refusal. §4.3 check 5 asks for an algorithm that "is supported by the application, and
    is acceptable per local policy", and the metadata lists the ones "supported by the authorization
    server" (§5.1), a definition without a BCP 14 keyword: accepting an unlisted (registered, asymmetric)
    algorithm is recorded as info. Skipped without metadata, or when every algorithm the suite can sign
    is advertised.
    """
    dpop.require_authorization_server()
    algs = (dpop.metadata or {}).get("dpop_signing_alg_values_supported")
    if not isinstance(algs, list):
        pytest.skip("no dpop_signing_alg_values_supported in the metadata (or no issuer to discover it from)")
    unadvertised = [alg for alg in SUPPORTED_ALGS if alg not in algs]
    if not unadvertised:
        pytest.skip("the metadata advertises every algorithm the suite can sign with")
    key = key_for(unadvertised[0])
    final = refused(
        dpop,
        TOKEN,
        Request(label=f"{TOKEN.request} with a valid proof signed with {key.alg}", key=key),
        rule="§4.3 check 5: an algorithm acceptable per local policy, which dpop_signing_alg_values_supported lists",
    )
    note(f"{key.alg} (not advertised): {refusal_note(final)}")


@case(
    "as-proof-jwk-private-rsa",
    "Token endpoint refuses an RSA proof whose jwk carries the private key",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="R-4.3-7",
)
def test_token_endpoint_refuses_rsa_private_jwk(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a correctly signed PS256 (or RS256) proof whose jwk also carries
    d, p, q, dp, dq and qi.
    Expects: a refusal (§4.3 check 7: the jwk "MUST NOT contain a private key").
    """
    alg = _rsa_alg(dpop)
    m = mutation("jwk-private")
    request = Request(label=f"{TOKEN.request} carrying an {alg} proof with {m.description}", key=key_for(alg), mutate=m)
    final = refused(dpop, TOKEN, request, rule=rule_of(m))
    note(refusal_note(final))


#: the RSA key size under which RFC 7518 §3.3 forbids RS256 and PS256 ("A key of size 2048 bits or larger MUST
#: be used with these algorithms"); the suite sends a 1024-bit key, the size real weak keys have
SMALL_RSA_BITS = 1024


def _rsa_alg(dpop: DPoPSession) -> str:
    algs = (dpop.metadata or {}).get("dpop_signing_alg_values_supported")
    rsa = [alg for alg in ("PS256", "RS256") if not isinstance(algs, list) or alg in algs]
    if not rsa:
        pytest.skip("the metadata advertises no RSA algorithm")
    return rsa[0]


def _small_key_params(endpoint: Endpoint, rfc9449_id: str, fapi2_id: str) -> list[Any]:
    who, request, actor = endpoint.who, endpoint.request, endpoint.actor
    return [
        case_param(
            rfc9449_id,
            f"{who} refuses a proof signed with an RSA key under 2048 bits",
            "rfc9449",
            section="4.3",
            level=Level.SHOULD,
            actor=actor,
            requirement="RFC7518-3.3",
            doc=_small_key_doc(endpoint, request, profile="rfc9449"),
        ),
        case_param(
            fapi2_id,
            f"FAPI 2.0: the {who.lower()} refuses a proof signed with an RSA key under 2048 bits",
            "fapi2",
            section="4.3",
            level=Level.MUST,
            actor=actor,
            requirement="FAPI2-SP rsa",
            profile="fapi2",
            doc=_small_key_doc(endpoint, request, profile="fapi2"),
        ),
    ]


def _small_key_doc(endpoint: Endpoint, request: str, *, profile: str) -> str:
    sends = (
        f"Sends: {request} with a valid RS256 or PS256 proof from a 2048-bit key (a control: skipped when refused, "
        f"the AS takes no RSA proofs), then one from a {SMALL_RSA_BITS}-bit key, valid in every other way."
        if endpoint is TOKEN
        else f"Sends: a token request with a proof from a {SMALL_RSA_BITS}-bit RSA key; where the AS binds a token to "
        "that key, a resource request with that token and a valid proof from the same key, between controls with "
        "the session's token. Skipped when the AS refuses to bind a token to the small key, which leaves the "
        "resource nothing to judge."
    )
    if profile == "fapi2":
        expects = (
            'Expects: a refusal: FAPI 2.0 puts key sizes on every party ("RSA keys shall have a minimum length of '
            '2048 bits", §5.4.1), servers included.'
        )
    else:
        expects = (
            'Expects: a refusal. "A key of size 2048 bits or larger MUST be used" (RFC 7518 §3.3) binds the key\'s '
            'holder, the client; §4.3 check 5 leaves what a server accepts to its "local policy", so accepting the '
            "key is a warning here (and a failure under --profile fapi2)."
        )
    return f"{sends}\n{expects} Skipped when the metadata advertises no RSA algorithm."


@pytest.mark.parametrize(
    "profile", _small_key_params(TOKEN, "as-proof-rsa-small-key", "fapi2-as-rsa-small-key-refused")
)
def test_token_endpoint_refuses_small_rsa_key(dpop: DPoPSession, note: Any, profile: str) -> None:
    alg = _rsa_alg(dpop)
    control = dpop.request_token(Request(label=f"control: a token request with a 2048-bit {alg} key", key=key_for(alg)))
    if not token_issued(control.final):
        pytest.skip(f"the authorization server takes no {alg} proof from a 2048-bit key ({control.final.as_cause()})")
    small = generate_key(alg, rsa_bits=SMALL_RSA_BITS)
    request = Request(label=f"{TOKEN.request} with a valid {alg} proof from a {SMALL_RSA_BITS}-bit key", key=small)
    final = refused(dpop, TOKEN, request, rule=SMALL_KEY_RULE[profile])
    note(f"{SMALL_RSA_BITS}-bit {alg} key: {refusal_note(final)}")


@pytest.mark.parametrize(
    "profile", _small_key_params(RESOURCE, "rs-proof-rsa-small-key", "fapi2-rs-rsa-small-key-refused")
)
def test_resource_refuses_small_rsa_key(dpop: DPoPSession, note: Any, profile: str) -> None:
    alg = _rsa_alg(dpop)
    small = generate_key(alg, rsa_bits=SMALL_RSA_BITS)
    bound = dpop.grants.bound_token_for(small)
    what = f"a resource request with a token bound to a {SMALL_RSA_BITS}-bit {alg} key and a valid proof from it"
    request = Request(label=what, token=bound.access_token, key=small)
    final = refused(dpop, RESOURCE, request, rule=SMALL_KEY_RULE[profile])
    note(f"{SMALL_RSA_BITS}-bit {alg} key: {refusal_note(final)}")


# --- check 12: the key the token is bound to ---------------------------------------------------------------


@case(
    "rs-key-swap",
    "Resource refuses a perfect proof signed by a key the token is not bound to",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-12b",
)
def test_rejects_proof_signed_by_other_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: the token bound to key A with a proof that is valid in every way (htm, htu, ath) but
    signed by key B, with B in its jwk.
    Expects: a refusal, 401 with error invalid_token (RFC figure 16) or invalid_dpop_proof (§4.3
    check 12, §6: the key must match cnf.jkt).
    """
    other = generate_key(dpop.key.alg)
    what = "the token bound to key A with a valid proof from key B"
    note(refusal_note(refused(dpop, RESOURCE, Request(label=what, key=other), rule=KEY_BINDING_RULE)))


# --- members a server must ignore -------------------------------------------------------------------------


@case(
    "as-proof-unknown-members-accepted",
    "Token endpoint accepts a proof with unknown header members and claims",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="R-4.3-3",
)
def test_token_endpoint_ignores_unknown_members(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof carrying one extra header member and one extra claim.
    Expects: HTTP 200: claims that are not understood MUST be ignored (RFC 7519 §4), and nothing in
    RFC 9449 forbids more members.
    """
    m = mutation("unknown-members")
    request = Request(label=f"{TOKEN.request} carrying a proof with {m.description}", mutate=m)
    final = accepted(dpop, TOKEN, request, rule=UNKNOWN_MEMBERS_RULE)
    note(f"accepted with HTTP {final.status}")


@case(
    "rs-proof-unknown-members-accepted",
    "Resource accepts a proof with unknown header members and claims",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-3",
)
def test_resource_ignores_unknown_members(dpop: DPoPSession, note: Any) -> None:
    """Sends: a resource request with a valid proof carrying one extra header member and one extra claim.
    Expects: a 2xx answer (RFC 7519 §4: claims that are not understood MUST be ignored).
    """
    m = mutation("unknown-members")
    request = Request(label=f"{RESOURCE.request} carrying a proof with {m.description}", mutate=m)
    final = accepted(dpop, RESOURCE, request, rule=UNKNOWN_MEMBERS_RULE)
    note(f"accepted with HTTP {final.status}")


# --- valid proofs in every legal form ---------------------------------------------------------------------

LEGAL_FORMS = {
    "iat-fraction": "RFC 7519 §2: a NumericDate is a JSON number, which may have a fraction",
    "iat-exponent": "RFC 8259 §6: 1.764625812E9 is the same JSON number as 1764625812",
}


#: each case of a legal form, in the order they run: its id and its (valid) mutation
LEGAL_FORM_CASES = [
    ("as-proof-iat-fraction-accepted", "iat-fraction"),
    ("as-proof-iat-exponent-accepted", "iat-exponent"),
    ("rs-proof-iat-fraction-accepted", "iat-fraction"),
    ("rs-proof-iat-exponent-accepted", "iat-exponent"),
]


def _legal_form_params() -> list[Any]:
    params = []
    for case_id, name in LEGAL_FORM_CASES:
        endpoint, why, described = endpoint_of_case(case_id), LEGAL_FORMS[name], mutation(name).description
        params.append(
            case_param(
                case_id,
                f"{endpoint.who} accepts a valid proof with {described.split(' (')[0]}",
                endpoint,
                name,
                section="4.3",
                level=Level.SHOULD,
                actor=endpoint.actor,
                requirement="R-4.3-3",
                doc=f"Sends: {endpoint.request} carrying a valid proof with {described}, between two valid "
                f"requests.\nExpects: accepted ({why}). Refusing a valid proof is a finding too: clients whose JOSE "
                "library writes iat so fail; it breaks no security property, so a refusal is a warning.",
            )
        )
    return params


@pytest.mark.parametrize(("endpoint", "mutation_name"), _legal_form_params())
def test_accepts_every_legal_form(dpop: DPoPSession, note: Any, endpoint: Endpoint, mutation_name: str) -> None:
    m = mutation(mutation_name)
    request = Request(label=f"{endpoint.request} carrying a valid proof with {m.description}", mutate=m)
    final = accepted(dpop, endpoint, request, rule=LEGAL_FORMS[mutation_name])
    note(f"accepted with HTTP {final.status}")
