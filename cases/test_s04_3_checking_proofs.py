"""RFC 9449 §4.3 Checking DPoP Proofs: every check, at the token endpoint (AS) and at the resource (RS).

Each case alters one thing in an otherwise valid proof (a named mutation, see conformance/judge/mutations.py)
and sends it between two valid requests (controls): a refusal only counts when the controls succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conformance.client.flow import Sent
from conformance.client.keys import SUPPORTED_ALGS, generate_key, key_for
from conformance.client.proof import ProofDraft
from conformance.jose import peek_claims
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import expect_refused_at_as, expect_refused_at_rs, refusal_note, token_issued
from conformance.judge.faults import Fault, acceptance_level, fault
from conformance.judge.mutations import Mutation, mutation
from conformance.judge.negatives import (
    AS_REFUSALS,
    RS_REFUSALS,
    accepted_at_as,
    accepted_at_rs,
    refused_at_as,
    refused_at_par,
    refused_at_rs,
    refused_sent_at_par,
    sent_at_as,
    sent_at_par,
    sent_at_rs,
)
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, Observation

AS_REQUEST = "a token request"
RS_REQUEST = "a resource request with the DPoP-bound token"
PAR_REQUEST = "a pushed authorization request"
# where a proof goes: the token endpoint (AS), the resource (RS), the PAR endpoint (PAR, an AS endpoint too)
WHERE = {
    "AS": ("Token endpoint", AS_REQUEST, "400 with error invalid_dpop_proof"),
    "RS": ("Resource", RS_REQUEST, "401 with a DPoP challenge, error invalid_dpop_proof"),
    "PAR": ("PAR endpoint", PAR_REQUEST, "400 with error invalid_dpop_proof (§10.1: checked as at the token endpoint)"),
}
#: what the rules broken by the cases below without a mutation of their own say (a fix names them)
ONE_PROOF_RULE = fault("more-than-one-proof").rule
KEY_BINDING_RULE = "§4.3 check 12 and §6: the proof's key is the one the token is bound to (cnf.jkt)"
UNKNOWN_MEMBERS_RULE = "RFC 7519 §4: claims and header members that are not understood are ignored"
SMALL_KEY_RULE = {
    "rfc9449": "RFC 7518 §3.3: RSA keys of 2048 bits or more; §4.3 check 5 leaves the rest to local policy",
    "fapi2": "FAPI 2.0 §5.4.1: RSA keys shall have a minimum length of 2048 bits",
}


def rule_of(m: Mutation) -> str:
    """The rule a mutated proof breaks, from its fault (conformance/judge/faults.py), for an acceptance's fix."""
    return m.fault.rule if m.fault else f"a proof with {m.description} is refused"


@dataclass(frozen=True)
class Row:
    """One altered proof, sent to the actors it applies to; its fault (mutations.py) gives requirement and level."""

    name: str  # the case id is "<as|rs|par>-proof-<name>"
    mutation: str
    check: str  # the §4.3 check (or the rule) it breaks, for the docstring
    actors: tuple[str, ...] = ("AS", "RS")

    @property
    def fault(self) -> Fault:
        """The fault the mutation gives the proof (every row's mutation has one)."""
        found = mutation(self.mutation).fault
        assert found is not None, f"row {self.name}: mutation {self.mutation} makes a valid proof"
        return found


ROWS = [
    Row("not-jwt-garbage", "not-jwt-garbage", "check 2: a well-formed JWT"),
    Row("not-jwt-two-segments", "not-jwt-two-segments", "check 2: a well-formed JWT"),
    Row("not-jwt-jwe", "not-jwt-jwe", "check 2: a well-formed JWT (a JWS, not a JWE)"),
    Row("not-jwt-jws-json", "not-jwt-jws-json", "check 2: JWTs use the compact serialization"),
    Row("not-jwt-empty", "not-jwt-empty", "check 2: a well-formed JWT"),
    Row("not-jwt-base64", "not-jwt-base64", "check 2: base64url segments"),
    Row("not-jwt-header-not-json", "not-jwt-header-not-json", "check 2: a JSON header"),
    Row("jti-missing", "jti-missing", "check 3: the jti claim is required"),
    Row("htm-missing", "htm-missing", "check 3: the htm claim is required"),
    Row("htu-missing", "htu-missing", "check 3: the htu claim is required"),
    Row("iat-missing", "iat-missing", "check 3: the iat claim is required"),
    Row("iat-string", "iat-string", "iat is a NumericDate (RFC 7519 §4.1.6)"),
    Row("jti-number", "jti-number", "jti is a string (RFC 7519 §4.1.7)"),
    Row("typ-jwt", "typ-jwt", "check 4: typ is dpop+jwt"),
    Row("typ-at-jwt", "typ-at-jwt", "check 4: typ is dpop+jwt (§11.5: no JWT made for another use)"),
    Row("typ-missing", "typ-missing", "check 4: typ is dpop+jwt"),
    Row("alg-none", "alg-none", "check 5 and §11.6: alg none MUST NOT be allowed"),
    Row("alg-hs256-oct-jwk", "alg-hs256-oct-jwk", "checks 5 and 7: asymmetric alg, no private key"),
    Row("alg-unknown", "alg-unknown", "check 5: a registered, supported algorithm"),
    Row("alg-key-mismatch", "alg-key-mismatch", "checks 5 and 6: alg fits the key"),
    Row("alg-non-latin1", "alg-non-latin1", "check 5: a registered algorithm (a look-alike is none)"),
    Row("signature-flipped-byte", "signature-flipped-byte", "check 6: the signature verifies"),
    Row("signature-empty", "signature-empty", "check 6: the signature verifies"),
    Row("payload-edited", "payload-edited-after-signing", "check 6: the signature verifies"),
    Row("signed-by-other-key", "signed-by-other-key", "check 6: verifies with the jwk in the header"),
    Row("ecdsa-der", "ecdsa-der", "check 6: ECDSA signatures are raw r‖s (RFC 7518 §3.4)"),
    Row("jwk-private", "jwk-private", "check 7: the jwk is a public key"),
    Row("jwk-missing-kid", "jwk-missing-kid", "§4.2: the jwk header is required"),
    Row("jwk-missing-jku", "jwk-missing-jku", "§4.2: the jwk header is required"),
    Row("jwk-missing-x5c", "jwk-missing-x5c", "§4.2: the jwk header is required"),
    Row("htm-wrong", "htm-wrong", "check 8: htm matches the method"),
    Row("htm-lowercase", "htm-lowercase", "check 8 (methods are case-sensitive, RFC 9110 §9.1)"),
    Row("htu-other-path", "htu-other-path", "check 9: htu matches the URI"),
    Row("htu-other-host", "htu-other-host", "check 9: htu matches the URI"),
    Row("htu-other-port", "htu-other-port", "check 9: htu matches the URI"),
    Row("htu-other-scheme", "htu-other-scheme", "check 9: htu matches the URI"),
    Row("htu-path-case", "htu-path-case", "check 9: paths are case-sensitive"),
    Row("htu-userinfo", "htu-userinfo", "check 9: htu matches the URI (userinfo makes another one)"),
    Row("htu-backslash-authority", "htu-backslash-authority", "check 9: htu matches the URI (a parser confusion)"),
    Row("ath-missing", "ath-missing", "check 12: ath is required with an access token", actors=("RS",)),
    Row("ath-other-token", "ath-other-token", "check 12: ath is the hash of the token", actors=("RS",)),
    Row("ath-hex", "ath-hex", "check 12: ath is base64url, not hex", actors=("RS",)),
    Row("ath-padded", "ath-padded", "check 12: ath has no padding", actors=("RS",)),
    Row("ath-dpop-prefix", "ath-dpop-prefix", "check 12: ath hashes the token alone", actors=("RS",)),
    # claims RFC 9449 does not use: what the server does with them is recorded (info), RFC 7519 §4
    Row("exp-past", "exp-past", "RFC 7519 §4.1.4, where exp is processed: an expired JWT is refused"),
    Row("nbf-future", "nbf-future", "RFC 7519 §4.1.5, where nbf is processed: a JWT is refused before its nbf"),
    # lenient encodings: warnings, never failures (conformance/judge/faults.py)
    Row("b64-padded", "b64-padded", "check 2: base64url without padding"),
    Row("b64-foreign-characters", "b64-foreign-characters", "check 2: base64url without other characters"),
    Row("b64-standard-alphabet", "b64-standard-alphabet", "check 2: the base64url alphabet"),
    Row("jwk-odd-member", "jwk-odd-member", "the jwk names the key in the canonical JWK form"),
    Row("b64-false", "b64-false", 'RFC 7797 §7: a JWT does not use "b64" false'),
    Row("htu-backslash-path", "htu-backslash-path", "check 9: htu is a URI, which has no backslash"),
]


def _doc(row: Row, where: str) -> str:
    m = mutation(row.mutation)
    _, request, answer = WHERE[where]
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
            level=row.fault.level,
            actor="RS" if where == "RS" else "AS",
            requirement=row.fault.requirement,
            doc=_doc(row, where),
            fault=row.fault.id,
        )
        for row in ROWS
        if ("RS" if where == "RS" else "AS") in row.actors
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


@pytest.mark.parametrize("mutation_name", _params("AS"))
def test_token_endpoint_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{AS_REQUEST} carrying a proof with {m.description}"
    sent = sent_at_as(dpop, label=what, mutate=m)
    allowed_by_the_rfc(sent, m.fault)
    note(refusal_note(expect_refused_at_as(sent, what=what, rule=rule_of(m), errors=AS_REFUSALS)))


@pytest.mark.parametrize("mutation_name", _params("RS"))
def test_resource_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{RS_REQUEST} carrying a proof with {m.description}"
    note(refusal_note(refused_at_rs(dpop, what=what, rule=rule_of(m), mutate=m)))


@pytest.mark.parametrize("mutation_name", _params("PAR"))
def test_par_endpoint_refuses_altered_proof(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{PAR_REQUEST} carrying a proof with {m.description}"
    sent = sent_at_par(dpop, label=what, mutate=m)
    allowed_by_the_rfc(sent, m.fault)
    note(refusal_note(refused_sent_at_par(sent, what=what, rule=rule_of(m), errors=AS_REFUSALS)))


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
            level=fault("more-than-one-proof").level,
            actor="RS" if where == "RS" else "AS",
            requirement=fault("more-than-one-proof").requirement,
            fault="more-than-one-proof",
            doc=f"Sends: {request} with {text} (RFC 9110 §5.3 lets a recipient combine field lines with commas, "
            "so both forms are one field with two values).\nExpects: a refusal (§4.3 check 1: not more than one "
            "DPoP HTTP request header field; check 2: the value is a single JWT).",
        )
        for name, (_, text) in HEADER_COUNT.items()
    ]


@pytest.mark.parametrize("variant", _header_count_params("AS"))
def test_token_endpoint_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_as(dpop, what=f"{AS_REQUEST} with {text}", rule=ONE_PROOF_RULE, proofs=make)))


@pytest.mark.parametrize("variant", _header_count_params("RS"))
def test_resource_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_rs(dpop, what=f"{RS_REQUEST} with {text}", rule=ONE_PROOF_RULE, proofs=make)))


@pytest.mark.parametrize("variant", _header_count_params("PAR"))
def test_par_endpoint_refuses_more_than_one_proof(dpop: DPoPSession, note: Any, variant: str) -> None:
    make, text = HEADER_COUNT[variant]
    note(refusal_note(refused_at_par(dpop, what=f"{PAR_REQUEST} with {text}", rule=ONE_PROOF_RULE, proofs=make)))


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
            level=fault("iat-outside-window").level,
            actor="RS" if where == "RS" else "AS",
            requirement=fault("iat-outside-window").requirement,
            fault="iat-outside-window",
            doc=f"Sends: {request} carrying a proof whose iat is {text}; everything else valid.\nExpects: a "
            "refusal (§4.3 check 11, §11.1: proofs are accepted only for a limited time), invalid_dpop_proof or "
            "use_dpop_nonce with a fresh nonce. Where the proof carries a server nonce, freshness may come "
            "from the nonce instead (§4.3 check 11), so acceptance is then recorded as info.",
        )
        for name, text in IAT_VARIANTS.items()
    ]


@pytest.mark.parametrize("variant", _iat_params("AS"))
def test_token_endpoint_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{AS_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_as(dpop, label=what, mutate=mutation(variant))
    allowed_by_the_rfc(sent, mutation(variant).fault)
    note(refusal_note(expect_refused_at_as(sent, what=what, rule=rule_of(mutation(variant)), errors=AS_REFUSALS)))


@pytest.mark.parametrize("variant", _iat_params("PAR"))
def test_par_endpoint_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{PAR_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_par(dpop, label=what, mutate=mutation(variant))
    allowed_by_the_rfc(sent, mutation(variant).fault)
    note(refusal_note(refused_sent_at_par(sent, what=what, rule=rule_of(mutation(variant)), errors=AS_REFUSALS)))


@pytest.mark.parametrize("variant", _iat_params("RS"))
def test_resource_refuses_stale_or_future_iat(dpop: DPoPSession, note: Any, variant: str) -> None:
    what = f"{RS_REQUEST} carrying a proof whose iat is {IAT_VARIANTS[variant]}"
    sent = sent_at_rs(dpop, label=what, mutate=mutation(variant))
    allowed_by_the_rfc(sent, mutation(variant).fault)
    note(refusal_note(expect_refused_at_rs(sent, what=what, rule=rule_of(mutation(variant)), errors=RS_REFUSALS)))


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
    final = refused_at_as(
        dpop,
        what=f"{AS_REQUEST} with a valid proof signed with {key.alg}",
        rule="§4.3 check 5: an algorithm acceptable per local policy, which dpop_signing_alg_values_supported lists",
        key=key,
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
    final = refused_at_as(
        dpop,
        what=f"{AS_REQUEST} carrying an {alg} proof with {m.description}",
        rule=rule_of(m),
        key=key_for(alg),
        mutate=m,
    )
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


def _small_key_params(actor: str) -> list[Any]:
    who, request, _ = WHERE[actor]
    return [
        case_param(
            f"{actor.lower()}-proof-rsa-small-key",
            f"{who} refuses a proof signed with an RSA key under 2048 bits",
            "rfc9449",
            section="4.3",
            level=Level.SHOULD,
            actor=actor,
            requirement="RFC7518-3.3",
            doc=_small_key_doc(actor, request, profile="rfc9449"),
        ),
        case_param(
            f"fapi2-{actor.lower()}-rsa-small-key-refused",
            f"FAPI 2.0: the {who.lower()} refuses a proof signed with an RSA key under 2048 bits",
            "fapi2",
            section="4.3",
            level=Level.MUST,
            actor=actor,
            requirement="FAPI2-SP rsa",
            profile="fapi2",
            doc=_small_key_doc(actor, request, profile="fapi2"),
        ),
    ]


def _small_key_doc(actor: str, request: str, *, profile: str) -> str:
    sends = (
        f"Sends: {request} with a valid RS256 or PS256 proof from a 2048-bit key (a control: skipped when refused, "
        f"the AS takes no RSA proofs), then one from a {SMALL_RSA_BITS}-bit key, valid in every other way."
        if actor == "AS"
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


@pytest.mark.parametrize("profile", _small_key_params("AS"))
def test_token_endpoint_refuses_small_rsa_key(dpop: DPoPSession, note: Any, profile: str) -> None:
    alg = _rsa_alg(dpop)
    control = dpop.request_token(key_for(alg), label=f"control: a token request with a 2048-bit {alg} key")
    if not token_issued(control.final):
        pytest.skip(f"the authorization server takes no {alg} proof from a 2048-bit key ({control.final.as_cause()})")
    small = generate_key(alg, rsa_bits=SMALL_RSA_BITS)
    final = refused_at_as(
        dpop,
        what=f"{AS_REQUEST} with a valid {alg} proof from a {SMALL_RSA_BITS}-bit key",
        rule=SMALL_KEY_RULE[profile],
        key=small,
    )
    note(f"{SMALL_RSA_BITS}-bit {alg} key: {refusal_note(final)}")


@pytest.mark.parametrize("profile", _small_key_params("RS"))
def test_resource_refuses_small_rsa_key(dpop: DPoPSession, note: Any, profile: str) -> None:
    alg = _rsa_alg(dpop)
    small = generate_key(alg, rsa_bits=SMALL_RSA_BITS)
    bound = dpop.bound_token_for(small)
    final = refused_at_rs(
        dpop,
        what=f"a resource request with a token bound to a {SMALL_RSA_BITS}-bit {alg} key and a valid proof from it",
        rule=SMALL_KEY_RULE[profile],
        token=bound.access_token,
        key=small,
    )
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
    note(refusal_note(refused_at_rs(dpop, what=what, rule=KEY_BINDING_RULE, key=other)))


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
    final = accepted_at_as(
        dpop, what=f"{AS_REQUEST} carrying a proof with {m.description}", rule=UNKNOWN_MEMBERS_RULE, mutate=m
    )
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
    final = accepted_at_rs(
        dpop, what=f"{RS_REQUEST} carrying a proof with {m.description}", rule=UNKNOWN_MEMBERS_RULE, mutate=m
    )
    note(f"accepted with HTTP {final.status}")


# --- valid proofs in every legal form ---------------------------------------------------------------------

LEGAL_FORMS = {
    "iat-fraction": "RFC 7519 §2: a NumericDate is a JSON number, which may have a fraction",
    "iat-exponent": "RFC 8259 §6: 1.764625812E9 is the same JSON number as 1764625812",
}


def _legal_form_params(where: str) -> list[Any]:
    who, request, _ = WHERE[where]
    return [
        case_param(
            f"{where.lower()}-proof-{name}-accepted",
            f"{who} accepts a valid proof with {mutation(name).description.split(' (')[0]}",
            name,
            section="4.3",
            level=Level.SHOULD,
            actor="RS" if where == "RS" else "AS",
            requirement="R-4.3-3",
            doc=f"Sends: {request} carrying a valid proof with {mutation(name).description}, between two valid "
            f"requests.\nExpects: accepted ({why}). Refusing a valid proof is a finding too: clients whose JOSE "
            "library writes iat so fail; it breaks no security property, so a refusal is a warning.",
        )
        for name, why in LEGAL_FORMS.items()
    ]


@pytest.mark.parametrize("mutation_name", _legal_form_params("AS"))
def test_token_endpoint_accepts_every_legal_form(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{AS_REQUEST} carrying a valid proof with {m.description}"
    final = accepted_at_as(dpop, what=what, rule=LEGAL_FORMS[mutation_name], mutate=m)
    note(f"accepted with HTTP {final.status}")


@pytest.mark.parametrize("mutation_name", _legal_form_params("RS"))
def test_resource_accepts_every_legal_form(dpop: DPoPSession, note: Any, mutation_name: str) -> None:
    m = mutation(mutation_name)
    what = f"{RS_REQUEST} carrying a valid proof with {m.description}"
    final = accepted_at_rs(dpop, what=what, rule=LEGAL_FORMS[mutation_name], mutate=m)
    note(f"accepted with HTTP {final.status}")
