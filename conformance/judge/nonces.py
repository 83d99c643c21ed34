"""Server-provided nonces (RFC 9449 §8 at the AS, §9 at the RS): the checks both sides share.

The case modules test_s08_as_nonce.py and test_s09_rs_nonce.py declare the cases; the judging lives
here once, parameterised by the endpoint (conformance/judge/endpoints.py: the token endpoint or the resource).
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent, demands_nonce, is_nonce_challenge
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.answers import OVERLOADED, error_codes, is_server_error
from conformance.judge.checks import (
    NQCHAR_NONCE,
    accepted_cause,
    answer,
    expect_resource_accepts,
    overloaded,
    prerequisite_failed,
    refused_valid,
    server_error,
    unanswered,
    violation,
    where,
)
from conformance.judge.endpoints import Endpoint
from conformance.judge.mutations import mutation
from conformance.judge.negatives import between_controls, send_once
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level, NotApplicable, Observation

__all__ = [
    "first_request_without_nonce",
    "judge_bogus_nonce",
    "judge_challenge",
    "judge_challenge_no_store",
    "judge_missing_nonce_after_provided",
    "judge_other_servers_nonce",
    "judge_retry",
    "judge_rotation",
    "names_nonce_otherwise",
]


def first_request_without_nonce(dpop: DPoPSession, endpoint: Endpoint) -> Exchange:
    """The challenge to a valid request without a nonce; NotApplicable when the server demands no nonce."""
    endpoint.require(dpop)
    request = Request(label=f"{endpoint.noun} without a nonce", use_known_nonce=False, retry_on_nonce=False)
    sent = send_once(dpop, endpoint, request)
    first = sent.final
    if first.error:
        raise unanswered(f"a {endpoint.noun} without a nonce", sent.exchanges)
    if first.ok:
        raise NotApplicable(f"the {endpoint.server} accepted a proof without a nonce: it demands no nonce here")
    if not is_nonce_challenge(first) and not names_nonce_otherwise(first):
        raise CouldNotJudge(
            f"a valid proof without a nonce was refused, but not with use_dpop_nonce ({first.summary()}), so the "
            "nonce behaviour cannot be judged",
            exchanges=sent.exchanges,
            cause=refused_valid(first).cause,
            fix=refused_valid(first).fix,
        )
    return first


def names_nonce_otherwise(ex: Exchange) -> bool:
    """A refusal of a valid proof that hands out a nonce (a DPoP-Nonce header) but names invalid_dpop_proof, not
    use_dpop_nonce: a nonce demand all the same (pydpop's middleware answers so), judged as one with its code
    recorded by judge_challenge, never an error of every nonce case."""
    return demands_nonce(ex, None) and not is_nonce_challenge(ex)


def judge_challenge(dpop: DPoPSession, endpoint: Endpoint, note: Callable[[str], None]) -> None:
    """§8/§9: the challenge has exactly one DPoP-Nonce of NQCHAR characters, with the right status."""
    challenge = first_request_without_nonce(dpop, endpoint)
    what = f"a {endpoint.noun} with a valid proof and no nonce"
    values = challenge.headers("DPoP-Nonce")
    if len(values) != 1:
        raise violation(
            what,
            f"exactly one DPoP-Nonce header with the challenge; found {len(values)}",
            challenge,
            cause=f"{where(challenge)} sends {len(values)} DPoP-Nonce header fields with its nonce challenge",
            fix="send exactly one DPoP-Nonce header field with a use_dpop_nonce challenge (§8: not more than one)",
        )
    if not NQCHAR_NONCE.fullmatch(values[0]):
        raise violation(
            what,
            "a DPoP-Nonce value of NQCHAR characters only (%x21 / %x23-5B / %x5D-7E)",
            challenge,
            cause=f"{where(challenge)} sends a DPoP-Nonce value with characters outside NQCHAR",
            fix="make nonces of NQCHAR characters only: %x21 / %x23-5B / %x5D-7E, no space, quote or backslash (§8.1)",
        )
    status, rule = endpoint.nonce_status, endpoint.nonce_rule
    if challenge.status != status:
        raise violation(
            what,
            f"HTTP {status} for use_dpop_nonce ({rule})",
            challenge,
            cause=f"{where(challenge)} answers use_dpop_nonce with HTTP {challenge.status}, not {status}",
            fix=f"answer the nonce challenge with HTTP {status} ({rule})",
            level=Level.SHOULD,
            shared=True,
        )
    if names_nonce_otherwise(challenge):
        # §8 and §9 show use_dpop_nonce (figures 20 and 22, the §12.2 registry) without a BCP 14 keyword for the
        # code: recorded, as a nonce mismatch answered with another code is (_nonce_refusal)
        raise Observation(
            f"{what}: HTTP {challenge.status} with one DPoP-Nonce, but error=invalid_dpop_proof, not use_dpop_nonce, "
            "the code §8 and §9 use for a nonce demand (a client that retries only on use_dpop_nonce will not "
            "retry)"
        )
    note(f"HTTP {challenge.status}, use_dpop_nonce and one DPoP-Nonce of {len(values[0])} characters")


def judge_challenge_no_store(dpop: DPoPSession, endpoint: Endpoint, note: Callable[[str], None]) -> None:
    """The challenge carrying a nonce should not be cached (RFC figures 20 and 21, §8.2)."""
    challenge = first_request_without_nonce(dpop, endpoint)
    directives = [d.strip().lower() for v in challenge.headers("Cache-Control") for d in v.split(",")]
    if "no-store" not in directives:
        raise violation(
            f"a {endpoint.noun} with a valid proof and no nonce",
            "Cache-Control: no-store on the response that carries the nonce",
            challenge,
            cause=f"{where(challenge)} sends its nonce challenge without Cache-Control: no-store",
            fix="add Cache-Control: no-store to every response that carries a DPoP-Nonce (§8.2, figures 20 and 21)",
        )
    note("the challenge carries Cache-Control: no-store")


def judge_retry(dpop: DPoPSession, endpoint: Endpoint, note: Callable[[str], None]) -> None:
    """The request again with the supplied nonce and a fresh jti succeeds."""
    challenge = first_request_without_nonce(dpop, endpoint)
    retry = send_once(dpop, endpoint, Request(label=f"{endpoint.noun} with the server's nonce", retry_on_nonce=False))
    what = f"a {endpoint.noun} whose proof carries the nonce the server just supplied and a new jti"
    final = retry.final
    if names_nonce_otherwise(challenge) and not final.ok:
        # without use_dpop_nonce, the nonce on the first refusal may not have been its reason
        raise CouldNotJudge(
            f"{what} was refused too ({final.summary()}), and the first refusal named invalid_dpop_proof, not "
            "use_dpop_nonce: whether the server demanded a nonce at all cannot be told",
            exchanges=[challenge, *retry.exchanges],
            cause=f"{where(challenge)} refuses a valid proof with invalid_dpop_proof and a DPoP-Nonce, and refuses "
            f"it again with that nonce ({answer(final)})",
            fix="answer a proof without the nonce the server demands with use_dpop_nonce and a fresh DPoP-Nonce "
            "(§8, §9), and accept the retry that carries it",
        )
    if endpoint.sends_token:
        # the resource may refuse the token itself (its audience): that is configuration, not judged here
        rule = f"{endpoint.nonce_rule}: a proof with the nonce the {endpoint.server} supplied is accepted"
        expect_resource_accepts(retry, what=what, rule=rule)
    elif not endpoint.accepted(retry):
        raise violation(
            what,
            endpoint.granted,
            final,
            cause=f"{where(final)} refuses a {endpoint.noun} that carries the nonce it just supplied ({answer(final)})",
            fix="accept a proof that carries the nonce the server supplied in its challenge, with a new jti (§8)",
            exchanges=retry.exchanges,
        )
    note("the retry with the supplied nonce was accepted")


def _nonce_refusal(sent: Sent, what: str, rule: str) -> Exchange:
    """A proof with a wrong nonce must be refused; use_dpop_nonce is the expected code (§8, §9). `rule` is what
    accepting it breaks."""
    final = sent.final
    if final.error:
        raise unanswered(what, sent.exchanges)
    if final.ok:
        cause, fix = accepted_cause(final, what, rule)
        raise violation(
            what, "a refusal with error use_dpop_nonce", final, cause=cause, fix=fix, exchanges=sent.exchanges
        )
    if is_server_error(final) and final.status not in OVERLOADED:
        fix = "answer a wrong nonce with use_dpop_nonce and a fresh DPoP-Nonce (§8, §9)"
        raise server_error(what, "a refusal with error use_dpop_nonce", final, sent.exchanges, fix=fix)
    if final.status in OVERLOADED:
        raise overloaded(what, sent.exchanges)
    # read by content: servers put the code in a challenge or in a JSON body, at either endpoint
    codes = error_codes(final)
    if "use_dpop_nonce" in codes:
        return final
    # §8 "This same error code is used when ... there was a nonce mismatch" has no BCP 14 keyword: another
    # code on a refusal is recorded, not judged
    raise Observation(
        f"{what}: refused with HTTP {final.status} and error={', '.join(codes) or 'none'}; use_dpop_nonce is the "
        "code §8 uses for a nonce mismatch (a refusal all the same)"
    )


def _with_nonce(value: str) -> Callable[[ProofDraft], str]:
    return lambda draft: draft.with_claims(nonce=value).sign()


def judge_bogus_nonce(dpop: DPoPSession, endpoint: Endpoint, mutation_name: str, note: Callable[[str], None]) -> None:
    """A nonce the server never issued (or one changed by a character) must be refused (§4.3 check 10)."""
    first_request_without_nonce(dpop, endpoint)
    m = mutation(mutation_name)
    what = f"a {endpoint.noun} carrying a proof with {m.description}"
    sent = between_controls(dpop, endpoint, Request(label=what, mutate=m))
    rule = m.fault.rule if m.fault else "§4.3 check 10: the nonce matches the one the server provided"
    final = _nonce_refusal(sent, what, rule)
    note(f"refused with HTTP {final.status} and use_dpop_nonce")


def judge_other_servers_nonce(
    dpop: DPoPSession, endpoint: Endpoint, other: Endpoint, note: Callable[[str], None]
) -> None:
    """A nonce the other server (`other`: the resource for the AS, the token endpoint for the RS) issued should
    be refused (§9)."""
    first_request_without_nonce(dpop, endpoint)
    foreign_challenge = first_request_without_nonce(dpop, other)
    foreign = foreign_challenge.header("DPoP-Nonce")
    if not foreign:
        raise CouldNotJudge(
            "the other server's challenge carried no DPoP-Nonce",
            exchanges=[foreign_challenge],
            cause=f"{where(foreign_challenge)} sends a use_dpop_nonce challenge without a DPoP-Nonce",
            fix="send the nonce in a DPoP-Nonce header field with every use_dpop_nonce challenge (§8, §9)",
        )
    if foreign == endpoint.known_nonce(dpop):
        raise Observation("the authorization server and the resource hand out the same nonce value")
    what = f"a {endpoint.noun} carrying the nonce the {other.server} issued"
    sent = between_controls(dpop, endpoint, Request(label=what, mutate=_with_nonce(foreign)))
    final = _nonce_refusal(sent, what, "§9: a nonce is only accepted by the server that issued it")
    note(f"refused with HTTP {final.status} and use_dpop_nonce")


def judge_missing_nonce_after_provided(dpop: DPoPSession, endpoint: Endpoint, note: Callable[[str], None]) -> None:
    """§11.3: once a nonce was provided, a proof without one MUST NOT be accepted."""
    endpoint.require(dpop)
    control = send_once(dpop, endpoint, Request(label=f"valid {endpoint.noun} (collects the server's nonce)"))
    if not control.final.ok:
        raise prerequisite_failed(f"a valid {endpoint.noun}", control)
    provided = endpoint.known_nonce(dpop)
    if not provided:
        raise NotApplicable("the server never provided a nonce (no DPoP-Nonce on a challenge or a 2xx)")
    what = f"a {endpoint.noun} with a valid proof without the nonce the server provided"

    def drop_nonce(draft: ProofDraft) -> str:
        return draft.without_claims("nonce").sign()

    sent = send_once(dpop, endpoint, Request(label=what, mutate=drop_nonce, retry_on_nonce=False))
    final = sent.final
    if final.error:
        raise unanswered(what, sent.exchanges)
    if final.ok:
        cause, fix = accepted_cause(final, what, "§11.3: no proof without the nonce claim once a nonce was provided")
        raise violation(
            what,
            "a refusal (§11.3: MUST NOT accept a proof without the nonce once one was provided)",
            final,
            cause=cause,
            fix=fix,
            exchanges=[*control.exchanges, *sent.exchanges],
        )
    note(f"refused with HTTP {final.status}")


def judge_rotation(dpop: DPoPSession, endpoint: Endpoint, note: Callable[[str], None]) -> None:
    """§8.2: a DPoP-Nonce on a 2xx must be usable for the next request."""
    endpoint.require(dpop)
    sent = send_once(dpop, endpoint, Request(label=f"valid {endpoint.noun}"))
    if not sent.final.ok:
        raise prerequisite_failed(f"a valid {endpoint.noun}", sent)
    fresh = sent.final.header("DPoP-Nonce")
    if not fresh:
        raise NotApplicable("the server sends no DPoP-Nonce on successful responses")
    what = f"a {endpoint.noun} whose proof carries the nonce from the previous 2xx response"
    nxt = send_once(dpop, endpoint, Request(label=what, mutate=_with_nonce(fresh), retry_on_nonce=False))
    if nxt.final.error:
        raise unanswered(what, nxt.exchanges)
    if not nxt.final.ok:
        raise violation(
            what,
            "a 2xx answer (§8.2: the client MUST use the new nonce for the next request)",
            nxt.final,
            cause=f"{where(nxt.final)} refuses the nonce it sent on its previous 2xx response ({answer(nxt.final)})",
            fix="accept the nonce a 2xx response carries in the next request: the client MUST use it (§8.2)",
            exchanges=[*sent.exchanges, *nxt.exchanges],
        )
    note("the nonce from a 2xx response was accepted on the next request")
