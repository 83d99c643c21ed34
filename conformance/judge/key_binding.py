"""Key binding in every shape (RFC 9449 §6, §4.3 check 12): tokens bound to keys of each type, and proofs
whose key is not the bound one, or whose `jwk` carries members that must not stand for the key.

Real resource servers compare the proof key with `cnf.jkt` for the key type their code was written for
only, take a `kid` naming the bound key as the key, or hash the `jwk` as received; each function here
builds the request that catches one of those.
"""

from __future__ import annotations

from typing import Any

from conformance.client.keys import KEY_TYPES, SUPPORTED_ALGS, DPoPKey, generate_key
from conformance.client.proof import ProofDraft
from conformance.judge.server_values import distinct
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import NotApplicable

__all__ = ["OPTIONAL_MEMBER_SETS", "advertised_algs", "alg_of_type", "with_members"]

#: optional JWK members a client may put in the proof's jwk (RFC 7517 §4): two sets, since use and key_ops
#: "SHOULD NOT be used together" (RFC 7517 §4.3)
OPTIONAL_MEMBER_SETS: tuple[tuple[str, ...], ...] = (("kid", "use", "alg"), ("kid", "key_ops", "alg"))


def advertised_algs(dpop: DPoPSession) -> list[str] | None:
    """The AS's dpop_signing_alg_values_supported (None when its metadata gives no list)."""
    return distinct((dpop.metadata or {}).get("dpop_signing_alg_values_supported"))


def alg_of_type(dpop: DPoPSession, kty: str) -> str:
    """An algorithm of key type `kty` the suite can sign and the AS advertises (any, without a list); else skip."""
    dpop.require_authorization_server()
    advertised = advertised_algs(dpop)
    for alg in KEY_TYPES[kty]:
        if alg in SUPPORTED_ALGS and (advertised is None or alg in advertised):
            return alg
    raise NotApplicable(
        f"the authorization server advertises no {kty} algorithm the suite can sign with ({advertised})"
    )


def with_members(key: DPoPKey, names: tuple[str, ...], **values: Any) -> dict[str, Any]:
    """The key's public JWK with optional members added: `values` where given, else their usual value."""
    usual: dict[str, Any] = {"kid": "dpop-key-1", "use": "sig", "alg": key.alg, "key_ops": ["verify"]}
    return {**key.public_jwk(), **{name: values.get(name, usual[name]) for name in names}}


def signed_with_jwk(jwk: dict[str, Any]) -> Any:
    """A mutation: the valid proof with this `jwk` header (signed by the draft's own key)."""

    def mutate(draft: ProofDraft) -> str:
        return draft.with_header(jwk=jwk).sign()

    return mutate


def other_key_like(key: DPoPKey) -> DPoPKey:
    """A fresh key of the same algorithm: the key a token is *not* bound to."""
    return generate_key(key.alg)
