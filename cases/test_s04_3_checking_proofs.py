"""RFC 9449 §4.3 Checking DPoP Proofs, at the resource server: one altered proof per case.

Every case sends a valid request before and after its altered one (controls), so a resource that
refuses everything, or revoked the token meanwhile, makes the case an error instead of a pass.
"""

from __future__ import annotations

from typing import Any

from conformance.catalog import case
from conformance.checks import expect_refused_at_rs
from conformance.keys import generate_key
from conformance.mutations import mutation
from conformance.session import DPoPSession
from conformance.verdicts import Level

PROOF_ERRORS = {"invalid_dpop_proof", "invalid_token"}


def _refused_with_mutation(dpop: DPoPSession, name: str) -> int:
    m = mutation(name)
    bound = dpop.bound_token()
    dpop.control(bound, "before")
    sent = dpop.call_resource(bound.access_token, bound.key, mutate=m, label=f"proof with {m.description}")
    dpop.control(bound, "after")
    final = expect_refused_at_rs(
        sent, what=f"a resource request carrying a proof with {m.description}", errors=PROOF_ERRORS
    )
    return final.status or 0


@case(
    "rs-ath-mismatch",
    "Resource refuses a proof whose ath is another token's hash",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-12a",
)
def test_rejects_proof_with_ath_of_another_token(dpop: DPoPSession, note: Any) -> None:
    """Sends: the bound token with a proof whose ath is the hash of another token (all else valid).
    Expects: a refusal, 401 with error invalid_dpop_proof (§4.3 check 12, §7.1).
    """
    note(f"refused with HTTP {_refused_with_mutation(dpop, 'ath-other-token')}")


@case(
    "rs-htm-mismatch",
    "Resource refuses a proof whose htm is another method",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-8",
)
def test_rejects_proof_with_wrong_htm(dpop: DPoPSession, note: Any) -> None:
    """Sends: the bound token with a proof whose htm names another HTTP method than the request's.
    Expects: a refusal, 401 with error invalid_dpop_proof (§4.3 check 8).
    """
    note(f"refused with HTTP {_refused_with_mutation(dpop, 'htm-wrong')}")


@case(
    "rs-htu-mismatch",
    "Resource refuses a proof whose htu is another URL",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-9",
)
def test_rejects_proof_with_wrong_htu(dpop: DPoPSession, note: Any) -> None:
    """Sends: the bound token with a proof whose htu names another path on the same host.
    Expects: a refusal, 401 with error invalid_dpop_proof (§4.3 check 9).
    """
    note(f"refused with HTTP {_refused_with_mutation(dpop, 'htu-other-path')}")


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
    bound = dpop.bound_token()
    other = generate_key(bound.key.alg)
    dpop.control(bound, "before")
    sent = dpop.call_resource(bound.access_token, other, label="valid proof from another key")
    dpop.control(bound, "after")
    final = expect_refused_at_rs(
        sent, what="the token bound to key A with a valid proof from key B", errors=PROOF_ERRORS
    )
    note(f"refused with HTTP {final.status}")
