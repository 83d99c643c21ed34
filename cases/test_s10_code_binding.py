"""RFC 9449 §10 Authorization Code Binding to a DPoP Key: dpop_jkt, and pushed authorization requests (§10.1).

These cases use the [public_client] of the target file (its login mode) and are skipped without one; the
PAR cases also need a PAR endpoint (par_endpoint, or pushed_authorization_request_endpoint in the metadata).
Every §4.3 check at the PAR endpoint is in test_s04_3_checking_proofs.py (the par-proof-* cases).
"""

from __future__ import annotations

from typing import Any

from conformance.catalog import case
from conformance.checks import expect_refused_at_as, prerequisite_failed, violation
from conformance.code_binding import CODE_REFUSALS, judge_dpop_jkt_mismatch, redeem, redeemed
from conformance.evidence import Exchange
from conformance.keys import DPoPKey, generate_key
from conformance.negatives import push, request_uri_of
from conformance.session import DPoPSession
from conformance.verdicts import Level


@case(
    "as-dpop-jkt-mismatch",
    "A code bound with dpop_jkt is refused with a proof from another key",
    section="10",
    level=Level.MUST,
    actor="AS",
    requirement="R-10-1",
)
def test_code_bound_by_dpop_jkt_refuses_other_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: an authorization request with dpop_jkt = thumbprint(A), then the code redeemed with a valid
    proof from key B. (Control: another code with dpop_jkt = A redeemed with A.)
    Expects: a refusal of the redemption with B: "If they do not match, it MUST reject the request" (§10);
    the error code is not specified (invalid_grant is likely).
    """
    judge_dpop_jkt_mismatch(dpop, note)


PAR_REFUSALS = {"invalid_dpop_proof", "invalid_request", "use_dpop_nonce"}


# --- pushed authorization requests (§10.1) ------------------------------------------------------------------


def _pushed_code(dpop: DPoPSession, key: DPoPKey, label: str) -> tuple[str, str, list[Exchange]]:
    sent, request = push(dpop, key, label=label)
    uri = request_uri_of(sent)
    if uri is None:
        raise prerequisite_failed("a valid pushed authorization request", sent)
    code, verifier = dpop.public_login(request=request, request_uri=uri)
    return code, verifier, list(sent.exchanges)


@case(
    "as-par-binds-code",
    "A code from a PAR with a proof is bound to that proof's key",
    section="10.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-10.1-1",
)
def test_par_proof_binds_the_code(dpop: DPoPSession, note: Any) -> None:
    """Sends: a pushed authorization request with a valid proof from key A (no dpop_jkt), the login with its
    request_uri, then the code redeemed with a proof from key B. (Control: the same with A redeems.)
    Expects: a refusal of the redemption with B: the AS "MUST ... behave as if dpop_jkt had been sent" with
    the thumbprint of the PAR proof's key (§10.1).
    """
    key, other = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    code, verifier, _ = _pushed_code(dpop, key, "control: pushed authorization request with a proof from A")
    control = redeem(dpop, code, verifier, key, "control: code from the PAR with A redeemed with A")
    if not redeemed(control):
        raise prerequisite_failed("the control redemption with the PAR key", control)
    code, verifier, _ = _pushed_code(dpop, key, "pushed authorization request with a proof from A")
    sent = redeem(dpop, code, verifier, other, "code from the PAR with A redeemed with B")
    final = expect_refused_at_as(
        sent, what="a code pushed with a proof from key A, redeemed with a proof from B", errors=CODE_REFUSALS
    )
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")


@case(
    "as-par-dpop-jkt-mismatch",
    "PAR endpoint refuses a dpop_jkt that does not match the proof's key",
    section="10.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-10.1-2",
)
def test_par_refuses_dpop_jkt_of_another_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: a pushed authorization request with dpop_jkt = thumbprint(A) and a valid proof from key B.
    (Control: dpop_jkt = A with a proof from A is accepted.)
    Expects: a refusal: "the authorization server MUST reject the request if the JWK Thumbprint in
    dpop_jkt does not match the public key in the DPoP header" (§10.1).
    """
    key, other = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    control, _ = push(dpop, key, dpop_jkt=key.thumbprint(), label="control: dpop_jkt of A with a proof from A")
    if request_uri_of(control) is None:
        raise prerequisite_failed("a valid pushed authorization request", control)
    sent, _ = push(dpop, other, dpop_jkt=key.thumbprint(), label="dpop_jkt of A with a proof from B")
    if request_uri_of(sent) is not None:
        raise violation(
            "a pushed authorization request with dpop_jkt of key A and a valid proof from key B",
            "a refusal (HTTP 400)",
            sent.final,
            exchanges=sent.exchanges,
        )
    final = expect_refused_at_as(
        sent, what="a PAR with dpop_jkt of key A and a proof from key B", errors=PAR_REFUSALS | {"invalid_grant"}
    )
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")
