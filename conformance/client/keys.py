"""DPoP key pairs: generation, loading from JWK or PEM (files or text), and raw JWS signing.

Signing is done here with `cryptography` rather than through a JWS library so the suite controls the
exact bytes: negative cases need DER-encoded ECDSA, all-zero signatures and the like, which a correct
library refuses to produce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from jwcrypto import jwk as jwcrypto_jwk

from conformance.jose import thumbprint

__all__ = [
    "KEY_TYPES",
    "SUPPORTED_ALGS",
    "DPoPKey",
    "KeyFileError",
    "generate_key",
    "key_for",
    "kty_of",
    "load_key",
    "parse_key",
]

#: The JWS algorithms the suite can sign proofs with. Ed25519 and Ed448 are RFC 9864's fully-specified names
#: for EdDSA on those curves.
SUPPORTED_ALGS: tuple[str, ...] = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519", "Ed448")

#: the JWS algorithms the suite signs with, by the key type (JWK kty) they need
KEY_TYPES: dict[str, tuple[str, ...]] = {
    "EC": ("ES256", "ES384", "ES512"),
    "RSA": ("PS256", "RS256"),
    "OKP": ("EdDSA", "Ed25519", "Ed448"),
}

_EC_CURVES: dict[str, tuple[ec.EllipticCurve, str, hashes.HashAlgorithm, int]] = {
    # alg: (curve, JWK crv, hash, size in bytes of r and of s)
    "ES256": (ec.SECP256R1(), "P-256", hashes.SHA256(), 32),
    "ES384": (ec.SECP384R1(), "P-384", hashes.SHA384(), 48),
    "ES512": (ec.SECP521R1(), "P-521", hashes.SHA512(), 66),
}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class KeyFileError(ValueError):
    """A key cannot be generated or loaded as asked; the message says what to fix."""


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


@dataclass(frozen=True)
class DPoPKey:
    """A private key and the JWS algorithm it signs with."""

    alg: str
    private_key: PrivateKey = field(repr=False)

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK dict with only public members (what goes in a proof's `jwk`).

        A fresh copy each time: callers (mutations) may change it.
        """
        return dict(self._public_jwk)

    @cached_property
    def _public_jwk(self) -> dict[str, Any]:
        # every proof carries the jwk: exporting it through jwcrypto each time cost 0.3 ms a request
        exported = jwcrypto_jwk.JWK.from_pyca(self.private_key).export_public(as_dict=True)
        return {k: v for k, v in exported.items() if k not in ("kid",)}

    def private_jwk(self) -> dict[str, Any]:
        """The private key as a JWK dict (used only by mutations that leak it on purpose)."""
        exported: dict[str, Any] = jwcrypto_jwk.JWK.from_pyca(self.private_key).export_private(as_dict=True)
        return {k: v for k, v in exported.items() if k != "kid"}

    @cached_property
    def _thumbprint(self) -> str:
        return thumbprint(self._public_jwk)

    def thumbprint(self) -> str:
        """The RFC 7638 thumbprint of the public key, as a server should put it in `cnf.jkt`."""
        return self._thumbprint

    def sign(self, signing_input: bytes, *, der: bool = False) -> bytes:
        """Sign as JWS `alg` requires: raw r‖s for ECDSA (or DER when `der` is set, a defect)."""
        key = self.private_key
        if self.alg in _EC_CURVES:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            _, _, digest, size = _EC_CURVES[self.alg]
            der_signature = key.sign(signing_input, ec.ECDSA(digest))
            if der:
                return der_signature
            r, s = decode_dss_signature(der_signature)
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if self.alg == "RS256":
            assert isinstance(key, rsa.RSAPrivateKey)
            return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        if self.alg == "PS256":
            assert isinstance(key, rsa.RSAPrivateKey)
            return key.sign(signing_input, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        assert isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        return key.sign(signing_input)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Check a JWS signature made by this key (used by the project's own tests)."""
        public = self.private_key.public_key()
        try:
            if self.alg in _EC_CURVES:
                assert isinstance(public, ec.EllipticCurvePublicKey)
                _, _, digest, size = _EC_CURVES[self.alg]
                if len(signature) != 2 * size:
                    return False
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                public.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(digest))
            elif self.alg == "RS256":
                assert isinstance(public, rsa.RSAPublicKey)
                public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            elif self.alg == "PS256":
                assert isinstance(public, rsa.RSAPublicKey)
                public.verify(signature, signing_input, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            else:
                assert isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
                public.verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True


def kty_of(alg: str) -> str:
    """The JWK key type an algorithm needs ("EC", "RSA" or "OKP")."""
    return next(kty for kty, algs in KEY_TYPES.items() if alg in algs)


def generate_key(alg: str = "ES256", *, rsa_bits: int = 2048) -> DPoPKey:
    """Generate a fresh key pair for `alg` (RSA keys are `rsa_bits` long: 2048 unless a case wants a weak one)."""
    if alg in _EC_CURVES:
        return DPoPKey(alg, ec.generate_private_key(_EC_CURVES[alg][0]))
    if alg in ("RS256", "PS256"):
        return DPoPKey(alg, rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits))
    if alg in ("EdDSA", "Ed25519"):
        return DPoPKey(alg, ed25519.Ed25519PrivateKey.generate())
    if alg == "Ed448":
        return DPoPKey(alg, ed448.Ed448PrivateKey.generate())
    raise KeyFileError(f"unsupported algorithm {alg!r}; supported: {', '.join(SUPPORTED_ALGS)}")


_SPARE: dict[str, PrivateKey] = {}


def key_for(alg: str) -> DPoPKey:
    """A key for `alg` made once per process: for cases that need *a* key of that algorithm, not a new one.

    It is never the session's own key. RS256 and PS256 share one RSA key: making a 2048-bit RSA key
    takes 40 ms, and five of them were a tenth of a clean run's own time.
    """
    kind = "RSA" if alg in ("RS256", "PS256") else "Ed25519" if alg == "EdDSA" else alg
    if kind not in _SPARE:
        _SPARE[kind] = generate_key(alg).private_key
    return DPoPKey(alg, _SPARE[kind])


def _default_alg(private_key: PrivateKey) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        for alg, (curve, _, _, _) in _EC_CURVES.items():
            if curve.name == private_key.curve.name:
                return alg
        raise KeyFileError(f"unsupported EC curve {private_key.curve.name}; use P-256, P-384 or P-521")
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    return "Ed448" if isinstance(private_key, ed448.Ed448PrivateKey) else "EdDSA"


def load_key(path: str | Path, alg: str | None = None) -> DPoPKey:
    """Load a private key from a JWK (JSON) or PEM file; `alg` defaults from the key type.

    Errors name the file and what is wrong with it, never the key material.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    return parse_key(data, alg, source=f"key file {path}")


def parse_key(data: bytes | str, alg: str | None = None, *, source: str = "the key") -> DPoPKey:
    """Parse a private key given as JWK (JSON) or PEM text, e.g. from an environment variable.

    `source` names where it came from in error messages ("key file k.pem"); the key material never
    appears in them.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        if data.lstrip().startswith(b"{"):
            as_dict = json.loads(data)
            if not isinstance(as_dict, dict) or not any(m in as_dict for m in _PRIVATE_MEMBERS):
                raise KeyFileError(f"{source} holds a JWK without its private part ('d')")
            key = jwcrypto_jwk.JWK(**as_dict)
        else:
            key = jwcrypto_jwk.JWK.from_pem(data)
        private_key = key.get_op_key("sign")
    except KeyFileError:
        raise
    except Exception:
        raise KeyFileError(
            f"{source} is not a private key in JWK or PEM form (PKCS#8 or traditional, unencrypted)"
        ) from None
    if not isinstance(
        private_key,
        ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey,
    ):
        raise KeyFileError(f"{source}: only EC, RSA, Ed25519 and Ed448 private keys are supported")
    chosen = alg or _default_alg(private_key)
    if chosen not in SUPPORTED_ALGS:
        raise KeyFileError(f"unsupported algorithm {chosen!r}; supported: {', '.join(SUPPORTED_ALGS)}")
    expected_type: dict[str, type] = {
        "RS256": rsa.RSAPrivateKey,
        "PS256": rsa.RSAPrivateKey,
        "EdDSA": ed25519.Ed25519PrivateKey,
        "Ed25519": ed25519.Ed25519PrivateKey,
        "Ed448": ed448.Ed448PrivateKey,
    }
    if chosen in _EC_CURVES:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or (
            private_key.curve.name != _EC_CURVES[chosen][0].name
        ):
            raise KeyFileError(f"{source} does not hold a {_EC_CURVES[chosen][1]} key, as {chosen} needs")
    elif not isinstance(private_key, expected_type[chosen]):
        raise KeyFileError(f"{source} holds a key that cannot sign {chosen}")
    return DPoPKey(chosen, private_key)
