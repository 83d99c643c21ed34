"""The proof builder and its mutations: valid proofs verify independently; each mutation breaks one thing."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws

from conformance.client.keys import SUPPORTED_ALGS, DPoPKey, KeyFileError, generate_key, load_key
from conformance.client.proof import htu_for, new_proof
from conformance.jose import access_token_hash, b64url_decode, decode_jws, thumbprint
from conformance.judge.mutations import MUTATIONS, mutation

KEYS: dict[str, DPoPKey] = {}


def key_for(alg: str) -> DPoPKey:
    if alg not in KEYS:
        KEYS[alg] = generate_key(alg)
    return KEYS[alg]


def verifies_independently(compact: str) -> bool:
    """Verify with jwcrypto against the jwk in the proof's own header (as a server would)."""
    header = decode_jws(compact).header
    try:
        token = jws.JWS()
        token.deserialize(compact)
        token.verify(jwk.JWK(**header["jwk"]), alg=header["alg"])
    except Exception:
        return False
    return True


@pytest.mark.parametrize("alg", SUPPORTED_ALGS)
def test_valid_proof_verifies_with_jwcrypto_for_every_alg(alg: str) -> None:
    key = key_for(alg)
    compact = new_proof(key, "POST", "https://as.example.com/token").sign()
    assert verifies_independently(compact)
    decoded = decode_jws(compact)
    assert decoded.header["typ"] == "dpop+jwt"
    assert decoded.header["alg"] == alg
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(decoded.header["jwk"])
    assert thumbprint(decoded.header["jwk"]) == key.thumbprint()


def test_claims_of_a_valid_proof() -> None:
    before = int(time.time())
    claims = decode_jws(new_proof(key_for("ES256"), "GET", "https://api.example.com/me?x=1#frag").sign()).payload
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert len(b64url_decode(claims["jti"])) * 8 >= 96
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://api.example.com/me"
    assert before <= claims["iat"] <= int(time.time())


def test_nonce_and_ath_are_added_when_given() -> None:
    claims = new_proof(key_for("ES256"), "GET", "https://rs/x", nonce="n-1", access_token="tok").claims
    assert claims["nonce"] == "n-1"
    assert claims["ath"] == access_token_hash("tok")


def test_every_proof_has_a_fresh_jti() -> None:
    jtis = {new_proof(key_for("ES256"), "GET", "https://rs/x").claims["jti"] for _ in range(200)}
    assert len(jtis) == 200


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("HTTPS://API.Example.COM:443/a/b?q=1#f", "https://api.example.com/a/b"),
        ("http://127.0.0.1:8080/token", "http://127.0.0.1:8080/token"),
        ("http://host:80", "http://host/"),
        ("https://[::1]:8443/r", "https://[::1]:8443/r"),
    ],
)
def test_htu_drops_query_fragment_and_default_port(url: str, htu: str) -> None:
    assert htu_for(url) == htu


def test_any_member_can_be_set_replaced_or_removed() -> None:
    draft = new_proof(key_for("ES256"), "GET", "https://rs/x")
    changed = draft.with_header(kid="k", typ="JWT").without_header("jwk").with_claims(iat="now").without_claims("jti")
    assert changed.header["typ"] == "JWT" and changed.header["kid"] == "k" and "jwk" not in changed.header
    assert changed.claims["iat"] == "now" and "jti" not in changed.claims
    assert draft.header["typ"] == "dpop+jwt" and "jti" in draft.claims  # the original is untouched


SIGNATURE_BREAKERS = [
    "signature-flipped-byte",
    "signature-empty",
    "payload-edited-after-signing",
    "signed-by-other-key",
    "ecdsa-der",
]


@pytest.mark.parametrize("name", SIGNATURE_BREAKERS)
def test_signature_mutations_no_longer_verify(name: str) -> None:
    draft = new_proof(key_for("ES256"), "GET", "https://rs/x", access_token="t")
    assert verifies_independently(draft.sign())
    assert not verifies_independently(mutation(name)(draft))


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, m in MUTATIONS.items()
        if m.part in ("claims",) or n in ("typ-jwt", "typ-at-jwt", "typ-missing", "jwk-private")
    ],
)
def test_header_and_claim_mutations_stay_correctly_signed(name: str) -> None:
    """Only the named member differs: the signature itself is still valid."""
    draft = new_proof(key_for("ES256"), "GET", "https://rs/x", access_token="t", nonce="abc")
    mutated = mutation(name)(draft)
    assert verifies_independently(mutated)
    original, changed = decode_jws(draft.sign()), decode_jws(mutated)
    differing = {
        k for k in set(original.payload) | set(changed.payload) if original.payload.get(k) != changed.payload.get(k)
    }
    differing |= {
        f"header.{k}"
        for k in set(original.header) | set(changed.header)
        if original.header.get(k) != changed.header.get(k)
    }
    assert len(differing) == 1, differing


def test_der_ecdsa_is_der_and_raw_is_fixed_length() -> None:
    draft = new_proof(key_for("ES256"), "GET", "https://rs/x")
    assert len(decode_jws(draft.sign()).signature) == 64
    der = decode_jws(draft.sign_der()).signature
    assert der[0] == 0x30 and len(der) != 64


def test_alg_none_has_empty_signature() -> None:
    decoded = decode_jws(mutation("alg-none")(new_proof(key_for("ES256"), "GET", "https://rs/x")))
    assert decoded.header["alg"] == "none" and decoded.signature == b""


def test_hs256_mutation_is_an_hmac_keyed_by_the_oct_jwk() -> None:
    compact = mutation("alg-hs256-oct-jwk")(new_proof(key_for("ES256"), "GET", "https://rs/x"))
    decoded = decode_jws(compact)
    assert decoded.header["alg"] == "HS256" and decoded.header["jwk"]["kty"] == "oct"
    secret = b64url_decode(decoded.header["jwk"]["k"])
    assert hmac.compare_digest(hmac.new(secret, decoded.signing_input, hashlib.sha256).digest(), decoded.signature)


def test_private_jwk_mutation_leaks_the_private_member() -> None:
    for alg in ("ES256", "RS256", "EdDSA"):
        header = decode_jws(mutation("jwk-private")(new_proof(key_for(alg), "GET", "https://rs/x"))).header
        assert "d" in header["jwk"]


def test_signed_by_other_key_names_key_b_and_is_signed_by_key_a() -> None:
    draft = new_proof(key_for("ES256"), "GET", "https://rs/x")
    decoded = decode_jws(mutation("signed-by-other-key")(draft))
    assert thumbprint(decoded.header["jwk"]) != key_for("ES256").thumbprint()
    assert key_for("ES256").verify(decoded.signing_input, decoded.signature)


def test_unknown_mutation_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="htm-wrong"):
        mutation("no-such-mutation")


def test_load_key_from_jwk_and_pem(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    original = generate_key("ES256")
    path_jwk = tmp_path / "key.jwk"
    path_jwk.write_text(jwk.JWK(**original.private_jwk()).export_private())
    path_pem = tmp_path / "key.pem"
    path_pem.write_bytes(
        original.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for path in (path_jwk, path_pem):
        loaded = load_key(path)
        assert loaded.alg == "ES256" and loaded.thumbprint() == original.thumbprint()


def test_load_key_errors_name_the_file_not_the_key(tmp_path: Path) -> None:
    public_only = tmp_path / "public.jwk"
    public_only.write_text('{"kty":"EC","crv":"P-256","x":"abc","y":"def"}')
    with pytest.raises(KeyFileError, match="without its private part"):
        load_key(public_only)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError) as excinfo:
        load_key(garbage)
    assert "c2VjcmV0" not in str(excinfo.value)
    with pytest.raises(KeyFileError, match="cannot read key file"):
        load_key(tmp_path / "missing.pem")


def test_load_key_refuses_an_alg_the_key_cannot_sign(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "p256.pem"
    path.write_bytes(
        generate_key("ES256").private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(KeyFileError, match="P-384"):
        load_key(path, "ES384")


@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
def test_fuzzed_htm_is_never_the_requests_own_method(method: str) -> None:
    """A fuzzed htm that drew the request's own method would be a valid proof judged as a corrupt one."""
    from hypothesis import given, settings

    from conformance.judge.strategies import corruptions

    key = generate_key("ES256")

    @settings(max_examples=300, deadline=None, database=None)
    @given(corruption=corruptions("claims", with_token=method != "POST"))
    def check(corruption: Any) -> None:
        if corruption.requirement != "R-4.3-8":
            return
        proof = corruption.apply(new_proof(key, method, "https://server.example.com/x", access_token="t" * 20))
        assert decode_jws(proof).payload["htm"] != method, corruption

    check()
