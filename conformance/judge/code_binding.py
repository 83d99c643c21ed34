"""Authorization code binding (RFC 9449 §10): redeeming codes bound by dpop_jkt, with controls."""

from __future__ import annotations

from collections.abc import Callable

from conformance.client.flow import Sent
from conformance.client.keys import DPoPKey, generate_key
from conformance.client.request import Request
from conformance.judge.attribution import attributed
from conformance.judge.checks import prerequisite_failed, token_issued
from conformance.judge.refusal import TOKEN_REFUSALS, expect_refused
from conformance.judge.session import DPoPSession

__all__ = ["CODE_REFUSALS", "DPOP_JKT_RULE", "judge_dpop_jkt_mismatch", "redeem", "redeemed"]

CODE_REFUSALS = frozenset({"invalid_grant", "invalid_dpop_proof", "invalid_request", "use_dpop_nonce"})
#: what a code redeemed with another key (or none) than its dpop_jkt names breaks
DPOP_JKT_RULE = "§10: the proof's key must match the dpop_jkt the code was authorized with, or the request is rejected"


def redeem(dpop: DPoPSession, code: str, verifier: str, key: DPoPKey, label: str) -> Sent:
    """Redeem a public client's code with a proof from `key`."""
    return dpop.grants.public_token(code, verifier, Request(label=label, key=key))


def redeemed(sent: Sent) -> bool:
    """True when the redemption gave an access token."""
    return token_issued(sent.final)


def judge_dpop_jkt_mismatch(dpop: DPoPSession, note: Callable[[str], None]) -> None:
    """A code authorized with dpop_jkt of key A is redeemed with A (control) and refused with B."""
    key, other = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    code, verifier = dpop.grants.public_login(dpop_jkt=key.thumbprint())
    control = redeem(dpop, code, verifier, key, "control: code bound to A redeemed with A")
    if not redeemed(control):
        raise prerequisite_failed("the control redemption with the bound key", control)
    what = "a code authorized with dpop_jkt of key A, redeemed with a proof from B"

    def attempt() -> Sent:  # a fresh code each time: a lost code is no refusal of the key
        code, verifier = dpop.grants.public_login(dpop_jkt=key.thumbprint())
        return redeem(dpop, code, verifier, other, "code bound to A redeemed with B")

    sent = attributed(attempt, what=what)
    final = expect_refused(sent, TOKEN_REFUSALS, what=what, rule=DPOP_JKT_RULE, errors=CODE_REFUSALS)
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")
