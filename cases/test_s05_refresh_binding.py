"""RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key, through every rotation.

"Refresh tokens issued to public clients MUST be bound to the respective public key. The binding MUST be
validated when the refresh token is later presented" (§5). These cases use the [public_client] of the
target file and are skipped without one, or when the AS issues it no refresh token.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conformance.client.flow import Sent, TokenSet
from conformance.client.keys import DPoPKey, generate_key
from conformance.client.request import Request
from conformance.judge.attribution import attributed
from conformance.judge.catalog import case
from conformance.judge.checks import answer, prerequisite_failed, violation, where
from conformance.judge.refusal import TOKEN_REFUSALS, expect_refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, Observation

# --- refresh tokens of public clients are bound to the DPoP key (§5) --------------------------------------

REFRESH_REFUSALS = {"invalid_grant", "invalid_dpop_proof", "invalid_request", "invalid_token", "use_dpop_nonce"}
#: what a refresh with another key (or none) than the one the refresh token is bound to breaks
REFRESH_RULE = "§5: a public client's refresh token is bound to its key, and the binding is validated when presented"


def _public_refresh_token(dpop: DPoPSession, key: DPoPKey) -> str:
    tokens = dpop.grants.public_tokens(key)
    if not tokens.refresh_token:
        pytest.skip("the authorization server issued no refresh token to the public client")
    return tokens.refresh_token


@case(
    "as-refresh-same-key-bound",
    "Public client's refresh with the same key works and gives a token bound to it",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-5",
    lane="refresh-chain",
)
def test_public_refresh_with_same_key_works_and_stays_bound(dpop: DPoPSession, note: Any) -> None:
    """Sends: a login and code redemption for the [public_client] with key A, then a refresh_token
    request with a fresh proof from key A.
    Expects: HTTP 200, token_type DPoP, and the new access token bound to A (cnf.jkt, when visible in a
    JWT access token or by introspection). §5: the refresh token is bound to A and the binding is
    validated when it is presented.
    """
    key = generate_key(dpop.key.alg)

    def attempt() -> Sent:  # a fresh refresh token each time: a lost one is no verdict on the binding
        refresh_token = _public_refresh_token(dpop, key)
        return dpop.grants.public_refresh(refresh_token, Request(label="refresh with the same key", key=key))

    sent = attributed(attempt, what="a refresh of the public client with the key it is bound to")
    tokens = dpop.grants.tokens_from(sent) if sent.final.status == 200 else None
    if tokens is None:
        raise violation(
            "a refresh_token request of the public client with a proof from the key it is bound to",
            "HTTP 200 with a new access token",
            sent.final,
            cause=f"{where(sent.final)} refuses a public client's refresh with the key its refresh token is bound "
            f"to ({answer(sent.final)})",
            fix="accept a refresh with a proof from the bound key, and bind the new access token to it (§5)",
            exchanges=sent.exchanges,
        )
    view = dpop.grants.token_view(tokens.access_token)
    if tokens.token_type.lower() != "dpop":
        if view.claims is not None and "cnf" not in view.claims:
            raise Observation(
                f"the refresh gave an unbound access token (token_type {tokens.token_type!r}, no cnf), which §5 "
                "allows (MAY); the refresh token's own binding is judged by as-refresh-other-key-refused"
            )
        raise violation(
            "a refresh with the bound key",
            'token_type "DPoP"',
            sent.final,
            cause=f"{where(sent.final)} answers a refresh with the bound key with token_type {tokens.token_type!r}, "
            "not DPoP, for a bound token",
            fix='say token_type "DPoP" for a DPoP-bound access token, refreshed ones included (§5)',
            exchanges=sent.exchanges,
        )
    if view.claims is None:
        note(f"refreshed; the new token's binding is not visible ({view.source})")
        return
    cnf = view.claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt != key.thumbprint():
        raise violation(
            "a refresh with the bound key",
            f"the new access token bound to it (cnf.jkt = {key.thumbprint()}); found cnf={cnf!r}",
            sent.final,
            cause=f"{where(sent.final)} binds a refreshed access token to cnf={cnf!r}, not to the refresh's proof key",
            fix="bind the refreshed access token to the RFC 7638 thumbprint of the refresh's proof key (§5, §6.1)",
            exchanges=sent.exchanges,
        )
    note("refreshed with the same key; the new access token is bound to it")


@case(
    "as-refresh-other-key-refused",
    "Public client's refresh token is refused with a proof from another key",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-5",
    lane="refresh-chain",
)
def test_public_refresh_with_other_key_is_refused(dpop: DPoPSession, note: Any) -> None:
    """Sends: a login and code redemption for the [public_client] with key A, then a refresh_token
    request with a valid proof from key B. (Control: another refresh token of A refreshed with A.)
    Expects: a refusal (§5: a public client's refresh token "MUST be bound to the respective public
    key", and the binding "MUST be validated"). The error code is not specified (Amb-15).
    """
    key, other = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    _refresh_control(dpop, key)
    what = "the public client's refresh token with a proof from another key"

    def attempt() -> Sent:  # a fresh refresh token each time: a lost one is no refusal of the key
        return dpop.grants.public_refresh(
            _public_refresh_token(dpop, key), Request(label="refresh with another key", key=other)
        )

    final = expect_refused(
        attributed(attempt, what=what), TOKEN_REFUSALS, what=what, rule=REFRESH_RULE, errors=REFRESH_REFUSALS
    )
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")


@case(
    "as-refresh-without-proof-refused",
    "Public client's refresh token is refused without a proof",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-5",
    lane="refresh-chain",
)
def test_public_refresh_without_proof_is_refused(dpop: DPoPSession, note: Any) -> None:
    """Sends: a login and code redemption for the [public_client] with key A, then a refresh_token
    request with no DPoP header. (Control: another refresh token of A refreshed with A.)
    Expects: a refusal: the binding to A cannot be validated without a proof (§5).
    """
    key = generate_key(dpop.key.alg)
    _refresh_control(dpop, key)
    what = "the public client's refresh token without a DPoP proof"

    def attempt() -> Sent:  # a fresh refresh token each time: a lost one is no refusal for the missing proof
        return dpop.grants.public_refresh(_public_refresh_token(dpop, key), Request(label="refresh without a proof"))

    final = expect_refused(
        attributed(attempt, what=what), TOKEN_REFUSALS, what=what, rule=REFRESH_RULE, errors=REFRESH_REFUSALS
    )
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")


def _refresh_control(dpop: DPoPSession, key: DPoPKey) -> None:
    refresh_token = _public_refresh_token(dpop, key)
    sent = dpop.grants.public_refresh(refresh_token, Request(label="control: refresh with the bound key", key=key))
    if sent.final.status != 200:
        raise prerequisite_failed(
            "the control refresh with the bound key", sent, consequence=", so a refusal with another key proves nothing"
        )


# --- through rotation: every refresh token of the chain stays bound ---------------------------------------

CHAIN = 3  # refreshes in a row: bugs that lose the binding do so on the second refresh or later


def _judge_access_token(dpop: DPoPSession, tokens: TokenSet, key: DPoPKey, step: int, sent: Sent) -> str:
    """The refreshed access token must not be bound to another key; what was seen of its binding."""
    view = dpop.grants.token_view(tokens.access_token)
    cnf = (view.claims or {}).get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt is not None and jkt != key.thumbprint():
        raise violation(
            f"refresh {step} of the chain with a proof from key A",
            f"the new access token bound to A (cnf.jkt = {key.thumbprint()}); found {jkt!r}",
            sent.final,
            cause=f"{where(sent.final)} binds the access token of refresh {step} to {jkt!r}, not to the chain's key",
            fix="bind every refreshed access token to the key the refresh token is bound to, at every rotation "
            "(§5, §6.1)",
            exchanges=sent.exchanges,
        )
    return "bound to A" if jkt else f"binding not visible ({view.source})" if view.claims is None else "no cnf.jkt"


@case(
    "as-refresh-chain-stays-bound",
    f"Every refresh token of a {CHAIN}-refresh chain stays bound: another key's proof is refused at each step",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-5",
    lane="refresh-chain",
)
def test_refresh_chain_stays_bound(dpop: DPoPSession, note: Any) -> None:
    """Sends: a login and code redemption for the [public_client] with key A, then at each of three steps a
    refresh_token request with the chain's current refresh token and a valid proof from key B (refused, it
    must be), then the same refresh with A, which gives the next refresh token (the same one where the
    server does not rotate).
    Expects: B refused at every step, and every access token of the chain bound to A where its cnf.jkt is
    visible: "Refresh tokens issued to public clients MUST be bound to the respective public key. The
    binding MUST be validated when the refresh token is later presented" (§5), the second refresh token
    as much as the first. A server that revokes the chain after B's attempt (refresh token replay
    detection) is followed by a new chain of the same depth, so every step is still tried.
    """
    key, other = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    seen = []
    chain = _chain(dpop, key, depth=0)
    for step in range(CHAIN + 1):
        refresh_token = chain.refresh_token
        assert refresh_token is not None
        attempt = dpop.grants.public_refresh(
            refresh_token, Request(label=f"refresh token {step} of the chain with key B", key=other)
        )
        expect_refused(
            attempt,
            TOKEN_REFUSALS,
            what=f"refresh token {step} of the chain (after {step} refreshes with key A) with a proof from key B",
            rule=REFRESH_RULE + ", for every refresh token of a rotation chain",
            errors=REFRESH_REFUSALS,
        )
        if step == CHAIN:
            break
        sent = dpop.grants.public_refresh(
            refresh_token, Request(label=f"refresh {step + 1} of the chain, with the bound key A", key=key)
        )
        if sent.final.status == 400 and sent.final.json_object().get("error") == "invalid_grant":
            # the server revoked the chain after B's attempt (RFC 9700 §4.14.2): a new one, as deep as this one
            seen.append(f"chain revoked after B's attempt at step {step}")
            chain = _chain(dpop, key, depth=step + 1)
            seen.append(f"step {step + 1}: {_judge_access_token(dpop, chain, key, step + 1, sent)}")
            continue
        chain, _ = _keep_refresh_token(dpop, sent, refresh_token, step + 1)
        seen.append(f"step {step + 1}: {_judge_access_token(dpop, chain, key, step + 1, sent)}")
    note(f"key B refused at each of {CHAIN + 1} refresh tokens; access tokens: " + "; ".join(seen))


def _keep_refresh_token(dpop: DPoPSession, sent: Sent, previous: str, step: int) -> tuple[TokenSet, Sent]:
    if not (sent.final.status == 200 and isinstance(sent.final.json_object().get("access_token"), str)):
        raise prerequisite_failed(f"refresh {step} of the chain with the bound key", sent)
    tokens = dpop.grants.tokens_or_error(sent)
    if not tokens.refresh_token:  # no rotation: the same refresh token goes on
        tokens = replace(tokens, refresh_token=previous)
    return tokens, sent


def _chain(dpop: DPoPSession, key: DPoPKey, *, depth: int) -> TokenSet:
    """A new chain bound to `key`, refreshed `depth` times with it: its latest tokens."""
    tokens = dpop.grants.public_tokens(key)
    if not tokens.refresh_token:
        pytest.skip("the authorization server issued no refresh token to the public client")
    for step in range(1, depth + 1):
        assert tokens.refresh_token is not None
        sent = dpop.grants.public_refresh(
            tokens.refresh_token, Request(label=f"refresh {step} of a new chain, with key A", key=key)
        )
        tokens, _ = _keep_refresh_token(dpop, sent, tokens.refresh_token, step)
    return tokens


#: what a server that rotates refresh tokens may do with the old one (RFC 6749 §6), and replay detection wants
ROTATION_RULE = "revoke a refresh token once it is rotated out (RFC 6749 §6: MAY; RFC 9700 §4.14.2)"


@case(
    "as-refresh-rotated-out-refused",
    "A refresh token the server rotated out is refused, even with the bound key",
    section="5",
    level=Level.MAY,
    actor="AS",
    requirement="RFC6749-6",
    lane="refresh-chain",
)
def test_rotated_out_refresh_token_is_refused(dpop: DPoPSession, note: Any) -> None:
    """Sends: a login and code redemption for the [public_client] with key A, a refresh with A (which
    rotates the refresh token, or the case is skipped), then the first, rotated-out refresh token again
    with a valid proof from A.
    Expects: a refusal. RFC 6749 §6 lets the server keep the old token ("MAY revoke the old refresh token
    after issuing a new refresh token"), and a DPoP-bound token needs no rotation to resist replay (RFC
    9700 §4.14.2: sender-constrained or rotated), so a usable old token is recorded as info; servers
    with a reuse grace period show here.
    """
    key = generate_key(dpop.key.alg)
    first = _public_refresh_token(dpop, key)
    sent = dpop.grants.public_refresh(
        first, Request(label="refresh with the bound key A (rotates the refresh token)", key=key)
    )
    tokens, _ = _keep_refresh_token(dpop, sent, first, 1)
    if tokens.refresh_token == first:
        pytest.skip("the authorization server does not rotate the public client's refresh tokens")
    again = dpop.grants.public_refresh(first, Request(label="the rotated-out refresh token again, with key A", key=key))
    if again.final.error:
        raise prerequisite_failed("the rotated-out refresh token again", again)
    if again.final.status == 200:
        raise violation(
            "the rotated-out refresh token, with a valid proof from the key it is bound to",
            "a refusal (invalid_grant): the server rotated it out",
            again.final,
            cause=f"{where(again.final)} accepts a refresh token it has rotated out",
            fix=ROTATION_RULE,
            exchanges=[*sent.exchanges, *again.exchanges],
        )
    final = expect_refused(
        again,
        TOKEN_REFUSALS,
        what="the rotated-out refresh token again",
        rule=ROTATION_RULE,
        errors=REFRESH_REFUSALS,
        grant_is_the_change=True,
    )
    note(f"refused with HTTP {final.status}, error={final.json_object().get('error')}")
