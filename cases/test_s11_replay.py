"""RFC 9449 §11.1 DPoP Proof Replay: a proof used once should not be accepted again.

Replay tracking is no requirement at all: "servers can store, in the context of the target URI, the jti
value" (§11.1) has no BCP 14 keyword, so accepting a replay is recorded as info, never a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance.client.flow import Sent
from conformance.client.keys import generate_key
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.client.uri import with_query
from conformance.jose import decode_jws
from conformance.judge.answers import OVERLOADED, another_cause, dpop_error, error_codes, is_server_error
from conformance.judge.attribution import attributed, unconfirmed
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import (
    accepted_cause,
    prerequisite_failed,
    server_error,
    token_issued,
    unanswered,
    violation,
)
from conformance.judge.endpoints import PAR, RESOURCE, TOKEN, Endpoint
from conformance.judge.negatives import send_once
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level

#: first request, replay, control: what one attempt of a replay case sent
Attempt = tuple[Sent, Sent, Sent]

REPLAYS = {
    "identical": "the byte-identical proof of the request just accepted",
    "same-jti": "a new proof (new iat, new signature) reusing the jti of the proof just accepted",
}


def _params(endpoint: Endpoint, lane: str, ids: dict[str, str]) -> list[Any]:
    """The replay cases at `endpoint`: `ids` gives each kind of replay (REPLAYS) its case id."""
    return [
        case_param(
            ids[name],
            f"{endpoint.who} refuses {text}",
            name,
            section="11.1",
            level=Level.MAY,
            actor=endpoint.actor,
            requirement="R-11.1-2",
            lane=lane,
            doc=f"Sends: a valid {endpoint.noun}, then the same request again with {text} (the same URI, within the "
            "iat window), then a valid request.\nExpects: a refusal of the second one: servers can store the jti "
            'and decline a proof seen before (§11.1: "can", no BCP 14 keyword), so accepting it is info.'
            + (
                " Skipped at the token endpoint unless the grant can be repeated (client_credentials)."
                if endpoint is TOKEN
                else ""
            ),
        )
        for name, text in REPLAYS.items()
    ]


def _replay_proofs(kind: str, accepted: str) -> Callable[[ProofDraft], list[str]]:
    if kind == "identical":
        return lambda draft: [accepted]
    jti = decode_jws(accepted).payload["jti"]

    def same_jti(draft: ProofDraft) -> list[str]:
        return [draft.with_claims(jti=jti, iat=int(draft.claims["iat"]) - 1).sign()]

    return same_jti


def _replayed(attempt: Callable[[], Attempt], what: str, *, answered_nonce: bool = False) -> Attempt:
    """One attempt, and another (a fresh first request, replayed at once) while the replay's answer names
    another cause than the replay: a lost grant, a rate limit, or a nonce challenge, which an identical proof
    cannot answer and stay a replay."""
    return attributed(attempt, what=what, answered_nonce=answered_nonce, altered=lambda sent: sent[1])


def _judge(
    attempt: Attempt,
    what: str,
    note: Any,
    endpoint: Endpoint,
    *,
    answered_nonce: bool = False,
) -> None:
    """The replay (the attempt's second request) must be refused, while the control after it is accepted (at
    the endpoint, accepted means what it means there: a token issued, a 2xx, a request_uri)."""
    first, replay, control = attempt
    if not endpoint.accepted(control):
        raise prerequisite_failed("the control request after the replay", control)
    final = replay.final
    if final.error:
        raise unanswered("the replay", replay.exchanges)
    expected = "a refusal: the jti was seen before (§11.1)"
    if endpoint.accepted(replay):
        cause, fix = accepted_cause(final, what, "§11.1: store each jti for the iat window and decline a repeat")
        raise violation(what, expected, final, cause=cause, fix=fix, exchanges=[*first.exchanges, *replay.exchanges])
    if is_server_error(final) and final.status not in OVERLOADED:
        # a server error is no refusal: whether the server keeps a jti cache at all cannot be seen through it
        raise server_error(
            what,
            expected,
            final,
            [*first.exchanges, *replay.exchanges],
            fix="refuse a replayed proof with invalid_dpop_proof (§11.1)",
        )
    other = another_cause(final, answered_nonce=answered_nonce)
    if other is not None and other.kind != "grant":  # what _replayed could not get past
        raise CouldNotJudge(
            f"{what}: {other}",
            exchanges=[*first.exchanges, *replay.exchanges],
            cause=f"the answers name another cause than the cases' changes: {other.text.split(':', 1)[0]}",
            fix=other.fix,
        )
    if dpop_error(final, endpoint.refusal.dpop_errors) is None:
        unconfirmed(f"{what}: refused with {final.as_cause()}, which names no DPoP error")
    note(f"the replay was refused with HTTP {final.status}, error={', '.join(error_codes(final)) or 'none'}")


def _judge_replay(dpop: DPoPSession, note: Any, endpoint: Endpoint, kind: str) -> None:
    """A valid request, the same again with a replayed proof (`kind`, REPLAYS), and a control."""
    what = f"a {endpoint.noun} with {REPLAYS[kind]}"
    # a proof with the same jti can take a nonce the server asks for and stay a replay; an identical one cannot
    retry = kind == "same-jti"

    def attempt() -> Attempt:
        first = send_once(dpop, endpoint, Request(label=f"valid {endpoint.noun}"))
        if not endpoint.accepted(first):
            raise prerequisite_failed(f"a valid {endpoint.noun}", first)
        proofs = _replay_proofs(kind, first.final.proofs[0])
        replay = send_once(dpop, endpoint, Request(label=what.removeprefix("a "), proofs=proofs, retry_on_nonce=retry))
        return first, replay, endpoint.control(dpop, "after")

    _judge(_replayed(attempt, what, answered_nonce=retry), what, note, endpoint, answered_nonce=retry)


@pytest.mark.parametrize(
    "kind", _params(TOKEN, "as-replay", {"identical": "as-replay-identical", "same-jti": "as-replay-same-jti"})
)
def test_token_endpoint_refuses_replayed_proof(dpop: DPoPSession, note: Any, kind: str) -> None:
    dpop.grants.require_repeatable_grant()
    _judge_replay(dpop, note, TOKEN, kind)


@pytest.mark.parametrize(
    "kind", _params(RESOURCE, "rs-replay", {"identical": "rs-replay-identical", "same-jti": "rs-replay-same-jti"})
)
def test_resource_refuses_replayed_proof(dpop: DPoPSession, note: Any, kind: str) -> None:
    _judge_replay(dpop, note, RESOURCE.holding(dpop.bound_token()), kind)


# --- replay caches that forget, that key on the query, that skip an endpoint ------------------------------

#: how long after a proof was accepted it is replayed: longer than a cache that forgets "after a moment",
#: well inside any iat window the RFC has in mind ("seconds or minutes", §11.1)
REPLAY_DELAY = 3.0
#: the oldest accepted proof a case replays (an older one might be refused for its iat alone)
REPLAY_MAX_AGE = 30.0


def _aged(dpop: DPoPSession, endpoint: Endpoint) -> tuple[float, Sent]:
    """A valid request accepted REPLAY_DELAY to REPLAY_MAX_AGE seconds ago at the endpoint, and its age.

    A control's, when one fits (a full run has plenty: no wait); else the youngest control once it is old
    enough, or a valid request sent now and waited for.
    """
    place = endpoint.place(dpop)
    found = dpop.controls.accepted_since(place, at_least=REPLAY_DELAY, at_most=REPLAY_MAX_AGE)
    if found is not None:
        return found
    age = dpop.controls.accepted_age(place)
    if age is not None and age < REPLAY_DELAY:
        time.sleep(REPLAY_DELAY - age)
        found = dpop.controls.accepted_since(place, at_least=REPLAY_DELAY, at_most=REPLAY_MAX_AGE)
        if found is not None:
            return found
    first = send_once(dpop, endpoint, Request(label=f"valid {endpoint.noun}"))
    accepted_at = time.monotonic()
    if not endpoint.accepted(first):
        raise prerequisite_failed("a valid request", first)
    time.sleep(REPLAY_DELAY)
    return time.monotonic() - accepted_at, first


def _judge_aged_replay(dpop: DPoPSession, note: Any, endpoint: Endpoint) -> None:
    """The proof of a request accepted seconds ago, sent again byte for byte, and a control."""
    age, first = _aged(dpop, endpoint)
    what = f"a {endpoint.noun} with the proof accepted {age:.0f} s before"
    proofs = _replay_proofs("identical", first.final.proofs[0])
    replay = send_once(dpop, endpoint, Request(label=what, proofs=proofs, retry_on_nonce=False))
    control = endpoint.control(dpop, "after")
    _judge((first, replay, control), what, note, endpoint)


@case(
    "as-replay-after-seconds",
    "Token endpoint still refuses a proof replayed seconds after it was accepted",
    section="11.1",
    level=Level.MAY,
    actor="AS",
    requirement="R-11.1-2",
    lane="as-replay",
)
@pytest.mark.waits
def test_token_endpoint_refuses_proof_replayed_seconds_later(dpop: DPoPSession, note: Any) -> None:
    """Sends: the token request of a control accepted 3 to 30 s before (or, when none is that old yet, a valid
    one, then a wait of 3 s) again with its byte-identical proof, still well inside the iat window, then a
    valid request.
    Expects: a refusal of the replay: a jti cache that forgets within seconds leaves the whole iat window
    open to replays (§11.1: servers "can" store the jti, no BCP 14 keyword, so accepting it is info).
    Skipped unless the grant can be repeated (client_credentials).
    """
    dpop.grants.require_repeatable_grant()
    _judge_aged_replay(dpop, note, TOKEN)


@case(
    "rs-replay-after-seconds",
    "Resource still refuses a proof replayed seconds after it was accepted",
    section="11.1",
    level=Level.MAY,
    actor="RS",
    requirement="R-11.1-2",
    lane="rs-replay",
)
@pytest.mark.waits
def test_resource_refuses_proof_replayed_seconds_later(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request of a control accepted 3 to 30 s before (or, when none is that old yet, a
    valid one, then a wait of 3 s) again with its byte-identical proof, still well inside the iat window, then
    a valid request.
    Expects: a refusal of the replay: a jti cache that forgets within seconds leaves the whole iat window
    open to replays (§11.1: "can", no BCP 14 keyword, so accepting it is info).
    """
    _judge_aged_replay(dpop, note, RESOURCE.holding(dpop.bound_token()))


@case(
    "rs-replay-other-query",
    "Resource refuses a proof replayed to the same resource with another query string",
    section="11.1",
    level=Level.MAY,
    actor="RS",
    requirement="R-11.1-2",
    lane="rs-replay",
)
def test_resource_refuses_proof_replayed_with_other_query(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid resource request to the resource URL with `?dpop_conformance=1` added, then the
    byte-identical proof to the URL with `?dpop_conformance=2`, then a valid request.
    Expects: a refusal of the replay. The htu of a proof leaves the query out (§4.3), so the proof is valid for
    both URLs: a jti cache keyed with the query string lets one proof be spent once per query. §11.1
    ("can", no BCP 14 keyword) makes it info. Skipped when the resource refuses a query it does not know.
    """
    resource = RESOURCE.holding(dpop.bound_token())
    configured, _, _ = dpop.require_resource()
    first_url, second_url = (
        with_query(configured, "dpop_conformance", "1"),
        with_query(configured, "dpop_conformance", "2"),
    )
    what = "the proof of a request to ?dpop_conformance=1 replayed to ?dpop_conformance=2"

    def attempt() -> Attempt:
        first = send_once(dpop, resource, Request(label="valid request, query 1", url=first_url))
        if first.final.error:
            raise unanswered("a valid request, query 1", first.exchanges)
        if not first.final.ok:
            pytest.skip(
                f"the resource refuses a request with a query string it does not know ({first.final.as_cause()})"
            )
        proofs = _replay_proofs("identical", first.final.proofs[0])
        replay = send_once(
            dpop,
            resource,
            Request(label="the same proof, query 2", url=second_url, proofs=proofs, retry_on_nonce=False),
        )
        control = send_once(dpop, resource, Request(label="control: valid request, query 2", url=second_url))
        return first, replay, control

    _judge(_replayed(attempt, what), what, note, resource)


@case(
    "par-replay-identical",
    "PAR endpoint refuses the byte-identical proof of the pushed request just accepted",
    section="11.1",
    level=Level.MAY,
    actor="AS",
    requirement="R-11.1-2",
    lane="as-replay",
)
def test_par_endpoint_refuses_replayed_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid pushed authorization request (RFC 9126) of the [public_client], then another with the
    byte-identical proof, then a valid one.
    Expects: a refusal of the second: the PAR endpoint checks proofs as the token endpoint does (§10.1), and a
    jti cache that skips it lets one proof push any number of requests (§11.1: "can", so info). Skipped
    without a [public_client] or a PAR endpoint.
    """
    what = "a pushed authorization request with the proof just accepted"

    def attempt() -> Attempt:
        first = send_once(dpop, PAR, Request(label="valid pushed authorization request"))
        if not PAR.accepted(first):
            raise prerequisite_failed("a valid pushed authorization request", first)
        proofs = _replay_proofs("identical", first.final.proofs[0])
        replay = send_once(
            dpop, PAR, Request(label="pushed authorization request with the proof just accepted", proofs=proofs)
        )
        return first, replay, PAR.control(dpop, "after")

    _judge(_replayed(attempt, what), what, note, PAR)


@case(
    "as-replay-refresh",
    "Token endpoint refuses a refresh request with the proof of the refresh just accepted",
    section="11.1",
    level=Level.MAY,
    actor="AS",
    requirement="R-11.1-2",
    lane="as-replay",
)
def test_token_endpoint_refuses_replayed_proof_on_refresh(dpop: DPoPSession, note: Any) -> None:
    """Sends: the [public_client]'s code redemption with key A, a refresh_token request with a proof from A,
    then a refresh_token request with the new refresh token and the byte-identical proof of the previous one,
    then a refresh with a fresh proof.
    Expects: a refusal of the replay: a proof does not cover the request body, so a jti cache that skips the
    refresh grant lets one proof refresh again and again (§11.1: "can", so info). Skipped without a
    [public_client] or when the AS issues it no refresh token.
    """
    what = "a refresh request with the proof of the refresh just accepted"

    def attempt() -> Attempt:
        pc_key = generate_key(dpop.key.alg)
        tokens = dpop.grants.public_tokens(pc_key)
        if not tokens.refresh_token:
            pytest.skip("the authorization server issued no refresh token to the public client")
        first = dpop.grants.public_refresh(
            tokens.refresh_token, Request(label="refresh with a fresh proof", key=pc_key)
        )
        if not token_issued(first.final):
            raise prerequisite_failed("a refresh with a fresh proof from the bound key", first)
        # where the server rotates, the next request must use the new refresh token, else the replay is
        # refused for the refresh token and proves nothing about the jti
        rotated = first.final.json_object().get("refresh_token")
        refresh_token = rotated if isinstance(rotated, str) and rotated else tokens.refresh_token
        replay = dpop.grants.public_refresh(
            refresh_token,
            Request(
                label="refresh with the proof of the refresh just accepted",
                key=pc_key,
                proofs=_replay_proofs("identical", first.final.proofs[0]),
                retry_on_nonce=False,
            ),
        )
        after = replay.final.json_object().get("refresh_token") if token_issued(replay.final) else None
        control = dpop.grants.public_refresh(
            after if isinstance(after, str) and after else refresh_token,
            Request(label="control: refresh with a fresh proof", key=pc_key),
        )
        return first, replay, control

    _judge(_replayed(attempt, what), what, note, TOKEN)
