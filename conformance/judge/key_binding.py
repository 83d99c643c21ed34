"""Key binding in every shape (RFC 9449 §6, §4.3 check 12): tokens bound to keys of each type, and proofs
whose key is not the bound one, or whose `jwk` carries members that must not stand for the key.

Real resource servers compare the proof key with `cnf.jkt` for the key type their code was written for
only, take a `kid` naming the bound key as the key, or hash the `jwk` as received; each function here
builds the request that catches one of those.
"""

from __future__ import annotations

from typing import Any

from conformance.client.flow import dpop_challenge
from conformance.client.keys import KEY_TYPES, SUPPORTED_ALGS, DPoPKey, generate_key
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.server_values import distinct
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import NotApplicable

__all__ = ["OPTIONAL_MEMBER_SETS", "advertised_algs", "alg_of_type", "resource_algs", "with_members"]

#: optional JWK members a client may put in the proof's jwk (RFC 7517 §4): two sets, since use and key_ops
#: "SHOULD NOT be used together" (RFC 7517 §4.3)
OPTIONAL_MEMBER_SETS: tuple[tuple[str, ...], ...] = (("kid", "use", "alg"), ("kid", "key_ops", "alg"))


def advertised_algs(dpop: DPoPSession) -> list[str] | None:
    """The AS's dpop_signing_alg_values_supported (None when its metadata gives no list)."""
    return distinct((dpop.metadata or {}).get("dpop_signing_alg_values_supported"))


def resource_algs(dpop: DPoPSession) -> list[str] | None:
    """The algorithms the resource's DPoP challenge lists (§7.1 `algs`) in answer to a request without
    credentials; None when it lists none (or sends no DPoP challenge)."""
    request = Request(label="request without credentials (the algs it advertises)", scheme="", without_proof=True)
    sent = dpop.call_resource("", request)
    challenge = dpop_challenge(sent.final) if not sent.final.error else None
    return distinct((challenge or {}).get("algs", "").split()) or None


def alg_of_type(dpop: DPoPSession, kty: str, *, at_resource: bool = False) -> str:
    """An algorithm of key type `kty` the suite can sign and the AS advertises (any, without a list); with
    `at_resource`, one the resource's challenge lists too, where it lists any. Else skip: a proof the resource
    may refuse for its algorithm alone (§4.3 check 5: its local policy) is no control."""
    dpop.require_authorization_server()
    advertised = advertised_algs(dpop)
    at_rs = resource_algs(dpop) if at_resource else None
    for alg in KEY_TYPES[kty]:
        if alg in SUPPORTED_ALGS and (advertised is None or alg in advertised) and (at_rs is None or alg in at_rs):
            return alg
    if at_rs is not None:
        raise NotApplicable(
            f"no {kty} algorithm the suite can sign with is advertised by both the authorization server "
            f"({advertised}) and the resource (its challenge's algs: {' '.join(at_rs)})"
        )
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
