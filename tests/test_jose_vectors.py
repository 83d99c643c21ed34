"""The suite's own thumbprint, ath and base64url functions, checked against the RFC test vectors."""

from __future__ import annotations

import pytest

from conformance.jose import JOSEError, access_token_hash, b64url_decode, b64url_encode, decode_jws, thumbprint

RFC7638_RSA = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
    "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kE"
    "gU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC9449_FIG4_EC = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC8037_ED25519 = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}


@pytest.mark.parametrize(
    ("jwk", "expected"),
    [
        pytest.param(RFC7638_RSA, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", id="RFC7638-3.1-RSA"),
        pytest.param(RFC9449_FIG4_EC, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", id="RFC9449-fig4-fig9-EC"),
        pytest.param(RFC8037_ED25519, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", id="RFC8037-A.3-Ed25519"),
    ],
)
def test_thumbprint_matches_rfc_vector(jwk: dict[str, str], expected: str) -> None:
    assert thumbprint(jwk) == expected


def test_thumbprint_ignores_members_outside_the_required_set() -> None:
    extended = dict(RFC9449_FIG4_EC, kid="k1", use="sig", alg="ES256")
    assert thumbprint(extended) == thumbprint(RFC9449_FIG4_EC)


def test_thumbprint_refuses_unknown_key_type_and_missing_members() -> None:
    with pytest.raises(JOSEError, match="kty"):
        thumbprint({"kty": "XYZ"})
    with pytest.raises(JOSEError, match="y"):
        thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})


def test_ath_matches_rfc9449_figures_13_and_14() -> None:
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_b64url_round_trip_without_padding() -> None:
    for data in (b"", b"f", b"fo", b"foo", bytes(range(256))):
        encoded = b64url_encode(data)
        assert "=" not in encoded and "+" not in encoded and "/" not in encoded
        assert b64url_decode(encoded) == data


@pytest.mark.parametrize("bad", ["abc=", "ab+c", "ab/c", "a b", "A"])
def test_b64url_decode_is_strict(bad: str) -> None:
    with pytest.raises(JOSEError):
        b64url_decode(bad)


@pytest.mark.parametrize(
    ("value", "message"),
    [("a.b", "3 segments"), ("a.b.c.d.e", "3 segments"), ("eyJhIjox.e30.", "header"), ("WzFd.e30.", "not an object")],
)
def test_decode_jws_names_what_is_malformed(value: str, message: str) -> None:
    with pytest.raises(JOSEError, match=message):
        decode_jws(value)
