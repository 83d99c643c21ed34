"""RFC 9449 §10 Authorization Code Binding to a DPoP Key: dpop_jkt, and pushed authorization requests (§10.1).

These cases use the [public_client] of the target file (its login mode) and are skipped without one; the
PAR cases also need a PAR endpoint (par_endpoint, or pushed_authorization_request_endpoint in the metadata).
Every §4.3 check at the PAR endpoint is in test_s04_3_checking_proofs.py (the par-proof-* cases).
"""

from __future__ import annotations

from typing import Any

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent
from conformance.client.keys import DPoPKey, generate_key
from conformance.client.request import Request
from conformance.judge.answers import another_cause
from conformance.judge.attribution import attributed
from conformance.judge.catalog import case
from conformance.judge.checks import accepted_cause, prerequisite_failed, violation, where
from conformance.judge.code_binding import CODE_REFUSALS, DPOP_JKT_RULE, judge_dpop_jkt_mismatch, redeem, redeemed
from conformance.judge.endpoints import request_uri_of
from conformance.judge.near_misses import near_misses
from conformance.judge.refusal import TOKEN_REFUSALS, expect_refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level, Observation


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


PAR_ERRORS = {"invalid_dpop_proof", "invalid_request", "use_dpop_nonce"}


# --- pushed authorization requests (§10.1) ------------------------------------------------------------------


def _pushed_code(dpop: DPoPSession, key: DPoPKey, label: str) -> tuple[str, str, list[Exchange]]:
    sent, request = dpop.grants.push(Request(label=label, key=key))
    uri = request_uri_of(sent)
    if uri is None:
        raise prerequisite_failed("a valid pushed authorization request", sent)
    code, verifier = dpop.grants.public_login(request=request, request_uri=uri)
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
    what = "a code pushed with a proof from key A, redeemed with a proof from B"

    def attempt() -> Sent:  # a fresh code each time: a lost code is no refusal of the key
        code, verifier, _ = _pushed_code(dpop, key, "pushed authorization request with a proof from A")
        return redeem(dpop, code, verifier, other, "code from the PAR with A redeemed with B")

    rule = "§10.1: a code pushed with a proof is bound to that proof's key, as if dpop_jkt had been sent"
    final = expect_refused(attributed(attempt, what=what), TOKEN_REFUSALS, what=what, rule=rule, errors=CODE_REFUSALS)
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
    control, _ = dpop.grants.push(
        Request(label="control: dpop_jkt of A with a proof from A", key=key), dpop_jkt=key.thumbprint()
    )
    if request_uri_of(control) is None:
        raise prerequisite_failed("a valid pushed authorization request", control)
    sent, _ = dpop.grants.push(Request(label="dpop_jkt of A with a proof from B", key=other), dpop_jkt=key.thumbprint())
    what = "a pushed authorization request with dpop_jkt of key A and a valid proof from key B"
    rule = "§10.1: the request is rejected when dpop_jkt does not match the key of its DPoP proof"
    if request_uri_of(sent) is not None:
        cause, fix = accepted_cause(sent.final, what, rule)
        raise violation(what, "a refusal (HTTP 400)", sent.final, cause=cause, fix=fix, exchanges=sent.exchanges)
    final = expect_refused(sent, TOKEN_REFUSALS, what=what, rule=rule, errors=PAR_ERRORS | {"invalid_grant"})
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")


# --- a bound code redeemed without any proof; dpop_jkt compared exactly --------------------------------


def _judge_redeemed_without_proof(dpop: DPoPSession, sent: Sent, key: DPoPKey, what: str, note: Any) -> None:
    """Refused passes; a token bound to the dpop_jkt key is info; an unbound (or other-bound) token fails."""
    final = sent.final
    if final.error:
        raise prerequisite_failed(what, sent)
    if not redeemed(sent):
        final = expect_refused(sent, TOKEN_REFUSALS, what=what, rule=DPOP_JKT_RULE, errors=CODE_REFUSALS)
        note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")
        return
    tokens = dpop.grants.tokens_or_error(sent)
    view = dpop.grants.token_view(tokens.access_token)
    cnf = (view.claims or {}).get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt == key.thumbprint():
        raise Observation(
            f"{what}: a token was issued, bound to the dpop_jkt key (cnf.jkt = {jkt}): no proof matched, which §10 "
            "says to reject, but the token is useless without the key"
        )
    if view.claims is None and tokens.token_type.lower() == "dpop":
        raise Observation(f"{what}: a token (token_type DPoP) was issued; its binding is not visible ({view.source})")
    raise violation(
        what,
        "a refusal (§10: the proof key must match dpop_jkt, or the request is rejected), or at least no "
        f"unbound token; got token_type {tokens.token_type!r} and cnf={cnf!r}",
        final,
        cause=f"{where(final)} redeems a code bound with dpop_jkt without any proof, for a token not bound to that "
        f"key (token_type {tokens.token_type!r}, cnf={cnf!r})",
        fix="reject the redemption of a code bound with dpop_jkt unless a proof from that key comes with it (§10)",
        exchanges=sent.exchanges,
    )


@case(
    "as-dpop-jkt-without-proof-refused",
    "A code bound with dpop_jkt is not redeemed for an unbound token without a DPoP proof",
    section="10",
    level=Level.MUST,
    actor="AS",
    requirement="R-10-1",
)
def test_code_bound_by_dpop_jkt_needs_a_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: an authorization request with dpop_jkt = thumbprint(A), then its code redeemed with no DPoP
    header at all. (Control: another such code redeemed with a proof from A.)
    Expects: a refusal: the AS "computes the JWK thumbprint of the proof-of-possession public key in the
    DPoP proof and verifies that it matches the dpop_jkt parameter value ... If they do not match, it MUST
    reject the request" (§10), and without a proof nothing matches. A token bound to A all the same is
    recorded as info; an unbound one fails.
    """
    key = generate_key(dpop.key.alg)
    code, verifier = dpop.grants.public_login(dpop_jkt=key.thumbprint())
    control = redeem(dpop, code, verifier, key, "control: code bound to A redeemed with A")
    if not redeemed(control):
        raise prerequisite_failed("the control redemption with the bound key", control)
    what = "a code authorized with dpop_jkt of key A, redeemed without a DPoP proof"

    def attempt() -> Sent:
        code, verifier = dpop.grants.public_login(dpop_jkt=key.thumbprint())
        return dpop.grants.public_token(code, verifier, Request(label="code bound to A redeemed without a DPoP proof"))

    _judge_redeemed_without_proof(dpop, attributed(attempt, what=what), key, what, note)


@case(
    "as-par-dpop-jkt-without-proof-refused",
    "A code pushed with dpop_jkt (and no proof) is not redeemed for an unbound token without a proof",
    section="10.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-10.1-1",
)
def test_pushed_dpop_jkt_needs_a_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: a pushed authorization request with dpop_jkt = thumbprint(A) in its body and no DPoP header,
    the login with its request_uri, then the code redeemed with no DPoP header. (Control: the same
    redeemed with a proof from A.)
    Expects: a refusal: "dpop_jkt MUST be included alongside other authorization request parameters in the
    POST body of the PAR request" binds the code as in §10, whose MUST rejects a token request whose proof
    key does not match (§10.1); a token bound to A is info, an unbound one fails.
    """
    key = generate_key(dpop.key.alg)

    def pushed(label: str) -> tuple[str, str]:
        sent, request = dpop.grants.push(Request(label=label, without_proof=True), dpop_jkt=key.thumbprint())
        uri = request_uri_of(sent)
        if uri is None:
            raise prerequisite_failed("a pushed authorization request with dpop_jkt and no proof", sent)
        return dpop.grants.public_login(request=request, request_uri=uri)

    code, verifier = pushed("control: pushed authorization request with dpop_jkt of A, no proof")
    control = redeem(dpop, code, verifier, key, "control: the pushed code redeemed with A")
    if not redeemed(control):
        raise prerequisite_failed("the control redemption of a code pushed with dpop_jkt of A", control)
    what = "a code pushed with dpop_jkt of key A, redeemed without a DPoP proof"

    def attempt() -> Sent:
        code, verifier = pushed("pushed authorization request with dpop_jkt of A, no proof")
        return dpop.grants.public_token(
            code, verifier, Request(label="code pushed with dpop_jkt of A, redeemed without a proof")
        )

    _judge_redeemed_without_proof(dpop, attributed(attempt, what=what), key, what, note)


@case(
    "as-dpop-jkt-exact",
    "dpop_jkt is compared whole and exactly: a near miss of the key's thumbprint is refused",
    section="10",
    level=Level.MUST,
    actor="AS",
    requirement="R-10-1",
)
def test_dpop_jkt_is_compared_exactly(dpop: DPoPSession, note: Any) -> None:
    """Sends: authorization requests whose dpop_jkt is key A's thumbprint with its first, a middle or its last
    character changed, its last character dropped, one character appended, or its letters' case swapped;
    each code redeemed with a valid proof from A. (Control: the exact thumbprint redeems.)
    Expects: each refused, at the authorization endpoint or at the token endpoint: the AS "verifies that it
    matches the dpop_jkt parameter value ... If they do not match, it MUST reject the request" (§10); a
    prefix or case-insensitive comparison lets a near miss through. Every near miss decodes to other bytes.
    """
    key = generate_key(dpop.key.alg)
    code, verifier = dpop.grants.public_login(dpop_jkt=key.thumbprint())
    control = redeem(dpop, code, verifier, key, "control: code bound to A redeemed with A")
    if not redeemed(control):
        raise prerequisite_failed("the control redemption with the exact thumbprint", control)
    at_login = []
    for miss in near_misses(key.thumbprint()):
        what = f"a code authorized with dpop_jkt = key A's thumbprint with its {miss.name}, redeemed with A"
        label = f"code with dpop_jkt ({miss.name}) redeemed with A"
        try:
            code, verifier = dpop.grants.public_login(dpop_jkt=miss.value)
        except CouldNotJudge:
            at_login.append(miss.name)  # the authorization request was refused: so is the near miss
            continue
        sent = redeem(dpop, code, verifier, key, label)

        def again(value: str = miss.value, label: str = label) -> Sent:  # a fresh code: a lost one refuses nothing
            code, verifier = dpop.grants.public_login(dpop_jkt=value)
            return redeem(dpop, code, verifier, key, label)

        if another_cause(sent.final) is not None:
            sent = attributed(again, what=what)
        expect_refused(
            sent,
            TOKEN_REFUSALS,
            what=what,
            rule="§10: dpop_jkt is compared whole and exactly with the thumbprint of the proof's key",
            errors=CODE_REFUSALS,
        )
    note("every near miss refused" + (f" (at the authorization endpoint: {', '.join(at_login)})" if at_login else ""))
