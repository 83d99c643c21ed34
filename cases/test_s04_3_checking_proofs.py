"""RFC 9449 §4.3 Checking DPoP Proofs: every check, at the token endpoint (AS) and at the resource (RS).

Each case alters one thing in an otherwise valid proof (a named mutation, see conformance/mutations.py)
and sends it between two valid requests (controls): a refusal only counts when the controls succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conformance.catalog import case, case_param
from conformance.checks import challenge_errors, expect_refused_at_as, expect_refused_at_rs
from conformance.evidence import Exchange
from conformance.flow import Sent
from conformance.jose import peek_claims
from conformance.keys import SUPPORTED_ALGS, generate_key, key_for
from conformance.mutations import mutation
from conformance.negatives import (
    AS_REFUSALS,
    RS_REFUSALS,
    accepted_at_as,
    accepted_at_rs,
    refused_at_as,
    refused_at_par,
    refused_at_rs,
    sent_at_as,
    sent_at_par,
    sent_at_rs,
)
from conformance.proof import ProofDraft
from conformance.session import DPoPSession
from conformance.verdicts import Level, Observation

AS_REQUEST = "a token request"
RS_REQUEST = "a resource request with the DPoP-bound token"
PAR_REQUEST = "a pushed authorization request"
# where a proof goes: the token endpoint (AS), the resource (RS), the PAR endpoint (PAR, an AS endpoint too)
WHERE = {
    "AS": ("Token endpoint", AS_REQUEST, "400 with error invalid_dpop_proof"),
    "RS": ("Resource", RS_REQUEST, "401 with a DPoP challenge, error invalid_dpop_proof"),
    "PAR": ("PAR endpoint", PAR_REQUEST, "400 with error invalid_dpop_proof (§10.1: checked as at the token endpoint)"),
}


@dataclass(frozen=True)
class Row:
    """One altered proof, sent to the actors it applies to."""

    name: str  # the case id is "<as|rs>-proof-<name>"
    mutation: str
    requirement: str
    check: str  # the §4.3 check (or the rule) it breaks, for the docstring
    level: Level = Level.MUST
    actors: tuple[str, ...] = ("AS", "RS")


ROWS = [
    Row("not-jwt-garbage", "not-jwt-garbage", "R-4.3-2", "check 2: a well-formed JWT"),
    Row("not-jwt-two-segments", "not-jwt-two-segments", "R-4.3-2", "check 2: a well-formed JWT"),
    Row("not-jwt-jwe", "not-jwt-jwe", "R-4.3-2", "check 2: a well-formed JWT (a JWS, not a JWE)"),
    Row("not-jwt-jws-json", "not-jwt-jws-json", "R-4.3-2", "check 2: JWTs use the compact serialization"),
    Row("not-jwt-empty", "not-jwt-empty", "R-4.3-2", "check 2: a well-formed JWT"),
    Row("not-jwt-base64", "not-jwt-base64", "R-4.3-2", "check 2: base64url segments"),
    Row("not-jwt-header-not-json", "not-jwt-header-not-json", "R-4.3-2", "check 2: a JSON header"),
    Row("jti-missing", "jti-missing", "R-4.3-3", "check 3: the jti claim is required"),
    Row("htm-missing", "htm-missing", "R-4.3-3", "check 3: the htm claim is required"),
    Row("htu-missing", "htu-missing", "R-4.3-3", "check 3: the htu claim is required"),
    Row("iat-missing", "iat-missing", "R-4.3-3", "check 3: the iat claim is required"),
    Row("iat-string", "iat-string", "R-4.3-3", "iat is a NumericDate (RFC 7519 §4.1.6)", Level.SHOULD),
    Row("jti-number", "jti-number", "R-4.3-3", "jti is a string (RFC 7519 §4.1.7)", Level.SHOULD),
    Row("typ-jwt", "typ-jwt", "R-4.3-4", "check 4: typ is dpop+jwt"),
    Row("typ-at-jwt", "typ-at-jwt", "R-4.3-4", "check 4: typ is dpop+jwt (§11.5: no JWT made for another use)"),
    Row("typ-missing", "typ-missing", "R-4.3-4", "check 4: typ is dpop+jwt"),
    Row("alg-none", "alg-none", "R-4.3-5", "check 5 and §11.6: alg none MUST NOT be allowed"),
    Row("alg-hs256-oct-jwk", "alg-hs256-oct-jwk", "R-4.3-5", "checks 5 and 7: asymmetric alg, no private key"),
    Row("alg-unknown", "alg-unknown", "R-4.3-5", "check 5: a registered, supported algorithm"),
    Row("alg-key-mismatch", "alg-key-mismatch", "R-4.3-5", "checks 5 and 6: alg fits the key"),
    Row("signature-flipped-byte", "signature-flipped-byte", "R-4.3-6", "check 6: the signature verifies"),
    Row("signature-empty", "signature-empty", "R-4.3-6", "check 6: the signature verifies"),
    Row("payload-edited", "payload-edited-after-signing", "R-4.3-6", "check 6: the signature verifies"),
    Row("signed-by-other-key", "signed-by-other-key", "R-4.3-6", "check 6: verifies with the jwk in the header"),
    Row("ecdsa-der", "ecdsa-der", "R-4.3-6", "check 6: ECDSA signatures are raw r‖s (RFC 7518 §3.4)"),
    Row("jwk-private", "jwk-private", "R-4.3-7", "check 7: the jwk is a public key"),
    Row("jwk-missing-kid", "jwk-missing-kid", "R-4.3-7", "§4.2: the jwk header is required"),
    Row("jwk-missing-jku", "jwk-missing-jku", "R-4.3-7", "§4.2: the jwk header is required"),
    Row("jwk-missing-x5c", "jwk-missing-x5c", "R-4.3-7", "§4.2: the jwk header is required"),
    Row("htm-wrong", "htm-wrong", "R-4.3-8", "check 8: htm matches the method"),
    Row(
        "htm-lowercase", "htm-lowercase", "R-4.3-8", "check 8 (methods are case-sensitive, RFC 9110 §9.1)", Level.SHOULD
    ),
    Row("htu-other-path", "htu-other-path", "R-4.3-9", "check 9: htu matches the URI"),
    Row("htu-other-host", "htu-other-host", "R-4.3-9", "check 9: htu matches the URI"),
    Row("htu-other-port", "htu-other-port", "R-4.3-9", "check 9: htu matches the URI"),
    Row("htu-other-scheme", "htu-other-scheme", "R-4.3-9", "check 9: htu matches the URI"),
    Row("htu-path-case", "htu-path-case", "R-4.3-9", "check 9: paths are case-sensitive"),
    Row("ath-missing", "ath-missing", "R-4.3-12a", "check 12: ath is required with an access token", actors=("RS",)),
    Row("ath-other-token", "ath-other-token", "R-4.3-12a", "check 12: ath is the hash of the token", actors=("RS",)),
    Row("ath-hex", "ath-hex", "R-4.3-12a", "check 12: ath is base64url, not hex", actors=("RS",)),
    Row("ath-padded", "ath-padded", "R-4.3-12a", "check 12: ath has no padding", actors=("RS",)),
    Row("ath-dpop-prefix", "ath-dpop-prefix", "R-4.3-12a", "check 12: ath hashes the token alone", actors=("RS",)),
]


def _doc(row: Row, where: str) -> str:
    m = mutation(row.mutation)
    _, request, answer = WHERE[where]
    level = "" if row.level is Level.MUST else " Accepting it is a warning (SHOULD)."
    skip = " Skipped without a [public_client] and a PAR endpoint." if where == "PAR" else ""
    return (
        f"Sends: {request} carrying a proof with {m.description}; everything else valid, between two valid "
        f"requests.\nExpects: a refusal ({row.check}), typically {answer}.{level}{skip}"
    )


def _params(where: str) -> list[Any]:
    who = WHERE[where][0]
    return [
        case_param(
            f"{where.lower()}-proof-{row.name}",
            f"{who} refuses a proof with {mutation(row.mutation).description}",
            row.mutation,
            section="4.3",
            level=row.level,
            actor="RS" if where == "RS" else "AS",
            requirement=row.requirement,
            doc=_doc(row, where),
        )
        for row in ROWS
        if ("RS" if where == "RS" else "AS") in row.actors
    ]


def refusal_note(final: Exchange) -> str:
    """One line on how a refusal looked: status and error code(s)."""
    errors = challenge_errors(final) or [str(final.json_object().get("error", "no error code"))]
    return f"refused with HTTP {final.status}, error={', '.join(errors)}"


@pytest.mark.parametrize("mutation_name", _params("AS"))
def test_token_endpoint_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{AS_REQUEST} carrying a proof with {m.description}"
    if mutation_name == "not-jwt-empty":
        sent = sent_at_as(dpop, label=what, mutate=m)
        _empty_value_read_as_absent(dpop, sent, "an unbound Bearer token")
        note(refusal_note(expect_refused_at_as(sent, what=what, errors=AS_REFUSALS)))
        return
    note(refusal_note(refused_at_as(dpop, what=what, mutate=m)))


def _empty_value_read_as_absent(dpop: DPoPSession, sent: Sent, answer: str) -> None:
    """An empty DPoP field may be read as no DPoP header at all: info, when nothing got bound by it."""
    final = sent.final
    body = final.json_object()
    unbound = final.ok and (
        "request_uri" in body
        or (
            str(body.get("token_type", "")).lower() == "bearer"
            and "cnf" not in (peek_claims(str(body.get("access_token", ""))) or {})
        )
    )
    if unbound:
        raise Observation(
            f"an empty DPoP header field was treated as no DPoP header: HTTP {final.status} with "
            f"{answer}, nothing bound to a key (§5 lets an AS issue unbound tokens)"
        )


@pytest.mark.parametrize("mutation_name", _params("RS"))
def test_resource_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    note(refusal_note(refused_at_rs(dpop, what=f"{RS_REQUEST} carrying a proof with {m.description}", mutate=m)))


@pytest.mark.parametrize("mutation_name", _params("PAR"))
def test_par_endpoint_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{PAR_REQUEST} carrying a proof with {m.description}"
    if mutation_name == "not-jwt-empty":
        sent = sent_at_par(dpop, label=what, mutate=m)
        _empty_value_read_as_absent(dpop, sent, "a request_uri (a DPoP proof is optional at PAR)")
        note(refusal_note(expect_refused_at_as(sent, what=what, errors=AS_REFUSALS)))
        return
    note(refusal_note(refused_at_par(dpop, what=what, mutate=m)))


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


def _header_count_params(where: str) -> list[Any]:
    who, request, _ = WHERE[where]
    return [
        case_param(
            f"{where.lower()}-proof-{name}",
            f"{who} refuses {text}",
            name,
            section="4.3",
            level=Level.MUST,
            actor="RS" if where == "RS" else "AS",
            requirement="R-4.3-1",
            doc=f"Sends: {request} with {text} (RFC 9110 §5.3 lets a recipient combine field lines with commas, "
            "so both forms are one field with two values).\nExpects: a refusal (§4.3 check 1: not more than one "
            "DPoP HTTP request header field; check 2: the value is a single JWT).",
        )
        for name, (_, text) in HEADER_COUNT.items()
    ]


@pytest.mark.parametrize("variant", _header_count_params("AS"))
def test_token_endpoint_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_as(dpop, what=f"{AS_REQUEST} with {text}", proofs=make)))


@pytest.mark.parametrize("variant", _header_count_params("RS"))
def test_resource_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_rs(dpop, what=f"{RS_REQUEST} with {text}", proofs=make)))


@pytest.mark.parametrize("variant", _header_count_params("PAR"))
def test_par_endpoint_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_par(dpop, what=f"{PAR_REQUEST} with {text}", proofs=make)))


# --- check 11: iat within a window (freshness may come from a server nonce instead) -------------------


IAT_VARIANTS = {"iat-hour-past": "an hour in the past", "iat-hour-future": "an hour in the future"}


def _iat_params(where: str) -> list[Any]:
    who, request, _ = WHERE[where]
    return [
        case_param(
            f"{where.lower()}-proof-{name}",
            f"{who} refuses a proof whose iat is {text}",
            name,
            section="4.3",
            level=Level.MUST,
            actor="RS" if where == "RS" else "AS",
            requirement="R-4.3-11",
            doc=f"Sends: {request} carrying a proof whose iat is {text}; everything else valid.\nExpects: a "
            "refusal (§4.3 check 11, §11.1: proofs are accepted only for a limited time), invalid_dpop_proof or "
            "use_dpop_nonce with a fresh nonce. Where the proof carries a server nonce, freshness may come "
            "from the nonce instead (§4.3 check 11), so acceptance is then recorded as info.",
        )
        for name, text in IAT_VARIANTS.items()
    ]


def _judge_iat(sent_final: Exchange, proofs: list[str], refused: Any, note: Any) -> None:
    claims = peek_claims(proofs[0]) if proofs else None
    if sent_final.ok and claims and "nonce" in claims:
        raise Observation(
            f"accepted a proof whose iat is {claims.get('iat')} because it carried a valid server nonce: "
            "freshness from the nonce instead of iat (§4.3 check 11) is allowed"
        )
    note(refusal_note(refused()))


@pytest.mark.parametrize("variant", _iat_params("AS"))
def test_token_endpoint_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{AS_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_as(dpop, label=what, mutate=mutation(variant))
    _judge_iat(sent.final, sent.final.proofs, lambda: expect_refused_at_as(sent, what=what, errors=AS_REFUSALS), note)


@pytest.mark.parametrize("variant", _iat_params("PAR"))
def test_par_endpoint_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{PAR_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_par(dpop, label=what, mutate=mutation(variant))
    _judge_iat(sent.final, sent.final.proofs, lambda: expect_refused_at_as(sent, what=what, errors=AS_REFUSALS), note)


@pytest.mark.parametrize("variant", _iat_params("RS"))
def test_resource_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{RS_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_rs(dpop, label=what, mutate=mutation(variant))
    _judge_iat(sent.final, sent.final.proofs, lambda: expect_refused_at_rs(sent, what=what, errors=RS_REFUSALS), note)


# --- check 5: an algorithm the server does not advertise -------------------------------------------------


@case(
    "as-proof-alg-not-advertised",
    "Token endpoint refuses a proof signed with an algorithm it does not advertise",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="R-4.3-5",
)
def test_token_endpoint_refuses_alg_it_does_not_advertise(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof signed with an algorithm the suite can use but the
    metadata's dpop_signing_alg_values_supported does not list.
    Expects: a refusal (§4.3 check 5: the algorithm must be "deemed secure, and permitted by local
    policy"; the metadata says which). Skipped without metadata, or when every algorithm the suite can
    sign is advertised.
    """
    dpop.require_authorization_server()
    algs = (dpop.metadata or {}).get("dpop_signing_alg_values_supported")
    if not isinstance(algs, list):
        pytest.skip("no dpop_signing_alg_values_supported in the metadata (or no issuer to discover it from)")
    unadvertised = [alg for alg in SUPPORTED_ALGS if alg not in algs]
    if not unadvertised:
        pytest.skip("the metadata advertises every algorithm the suite can sign with")
    key = key_for(unadvertised[0])
    final = refused_at_as(dpop, what=f"{AS_REQUEST} with a valid proof signed with {key.alg}", key=key)
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
    algs = (dpop.metadata or {}).get("dpop_signing_alg_values_supported")
    rsa = [alg for alg in ("PS256", "RS256") if not isinstance(algs, list) or alg in algs]
    if not rsa:
        pytest.skip("the metadata advertises no RSA algorithm")
    m = mutation("jwk-private")
    final = refused_at_as(
        dpop, what=f"{AS_REQUEST} carrying an {rsa[0]} proof with {m.description}", key=key_for(rsa[0]), mutate=m
    )
    note(refusal_note(final))


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
    note(refusal_note(refused_at_rs(dpop, what="the token bound to key A with a valid proof from key B", key=other)))


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
    final = accepted_at_as(dpop, what=f"{AS_REQUEST} carrying a proof with {m.description}", mutate=m)
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
    final = accepted_at_rs(dpop, what=f"{RS_REQUEST} carrying a proof with {m.description}", mutate=m)
    note(f"accepted with HTTP {final.status}")
