"""Verifiers shared by the cases: accepted, refused (with the answers the RFC allows), well-formed nonce.

Each failure message says what was sent, what was expected and what came back, and ends with a curl
command that sends the decisive request again.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from conformance.client.evidence import Exchange, mask_secret_members, shortened
from conformance.client.flow import FlowError, Sent
from conformance.judge.answers import (
    OVERLOADED,
    RESOURCE_ERRORS,
    another_cause,
    challenge_errors,
    dpop_error,
    error_codes,
    first_error,
    is_server_error,
)
from conformance.judge.attribution import unconfirmed
from conformance.judge.setup_problems import SetupProblem, setup_problem
from conformance.judge.verdicts import CouldNotJudge, Level, Violation

__all__ = [
    "NQCHAR_NONCE",
    "SERVER_ERROR_HINT",
    "SERVER_ERROR_ON_VALID_HINT",
    "accepted_cause",
    "answer",
    "attributable_refusal",
    "describe",
    "deviation",
    "expect_accepted",
    "expect_resource_accepts",
    "flow_failed",
    "note_unattributed",
    "other_cause",
    "overloaded",
    "prerequisite_failed",
    "refusal_note",
    "refused_valid",
    "refused_valid_fix",
    "require_answer",
    "server_error",
    "server_error_cause",
    "token_issued",
    "unanswered",
    "violation",
    "where",
]

#: RFC 9449 §8.1: nonce = 1*NQCHAR; NQCHAR = %x21 / %x23-5B / %x5D-7E
NQCHAR_NONCE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def describe(ex: Exchange) -> str:
    """What came back, in one line: status, error code or challenge, and the start of the body."""
    if ex.error:
        return f"no response ({ex.error})"
    parts = [f"HTTP {ex.status}"]
    if ex.header("Location"):
        parts.append(f"Location: {shortened(ex.header('Location') or '', 300)}")
    for value in ex.headers("WWW-Authenticate")[:4]:
        parts.append(f"WWW-Authenticate: {shortened(value, 300)}")
    body = mask_secret_members(ex.response_body).strip().replace("\n", " ")
    if body:
        parts.append(f"body: {body[:200]}{'…' if len(body) > 200 else ''}")
    return ", ".join(parts)


def violation(
    sent: str,
    expected: str,
    exchange: Exchange,
    *,
    cause: str,
    fix: str,
    level: Level | None = None,
    exchanges: Collection[Exchange] = (),
    shared: bool = False,
    own_level: bool = False,
    hint: str | None = None,
) -> Violation | CouldNotJudge:
    """A Violation whose message reads Sent / Expected / Got / Reproduce, with the cause and fix its site wrote.

    Unless the answer shows a setup problem (`setup_problem`: it names the client): then the case could not
    be judged, and says why, for no case turns a refused client into a verdict on the target.
    """
    message = f"Sent: {sent}\nExpected: {expected}\nGot: {describe(exchange)}\nReproduce: {exchange.curl()}"
    problem = setup_problem(exchange)
    if problem:
        return CouldNotJudge(
            f"{problem}\n{message}", exchanges=list(exchanges) or [exchange], cause=problem.cause, fix=problem.fix
        )
    return Violation(
        message,
        cause=cause,
        fix=fix,
        level=level,
        exchanges=list(exchanges) or [exchange],
        shared=shared,
        own_level=own_level,
        hint=hint,
    )


def flow_failed(what: str, exc: FlowError, *, fix: str) -> CouldNotJudge:
    """The CouldNotJudge for a step of the flow a case needed (a login, a token response) that failed.

    Its cause is what the step's last answer says, in words shared by every case it happens to (a setup
    problem first: an answer that names the client); where no answer says more, the step's own error, and `fix`.
    """
    last = exc.exchanges[-1] if exc.exchanges else None
    problem = setup_problem(last, control=True) if last is not None else None
    if problem is not None:
        cause, fix = problem
    elif last is not None and (last.error or (last.status or 0) >= 400):
        cause, fix = refused_valid(last)
    else:
        cause = f"{what}: {str(exc).strip().splitlines()[0][:200]}"
    return CouldNotJudge(f"{what}: {exc}", exchanges=exc.exchanges, cause=cause, fix=fix)


def where(ex: Exchange) -> str:
    """METHOD URL of an exchange, without its query: how a cause names the endpoint it is about."""
    return f"{ex.method} {ex.url.split('?', 1)[0]}"


def answer(ex: Exchange) -> str:
    """The status and error code of an answer, short, for a cause: "HTTP 400 invalid_dpop_proof"."""
    if ex.error:
        return f"no answer ({ex.error})"
    code = first_error(ex)
    return f"HTTP {ex.status}{f' {code}' if code else ''}"


#: what to change when the target did not answer: its availability from here, not its DPoP behaviour
UNANSWERED_FIX = (
    "check that the server runs and is reachable from here (URL, firewall, proxy) and the target file's timeout, "
    "then run again"
)


def unanswered(what: str, exchanges: Collection[Exchange]) -> CouldNotJudge:
    """The CouldNotJudge for a request the target did not answer, or the transport would not send."""
    found = list(exchanges)
    final = found[-1]
    error = final.error or "no answer"
    if error.startswith("not sent: ") and ("--max-requests" in error or "--deadline" in error):
        fix = "raise --max-requests or --deadline, or select fewer cases"
    elif error.startswith("TLS:"):
        fix = "pass the CA that signed the server's certificate with --ca-file FILE (or ca_file in the target file)"
    else:
        fix = UNANSWERED_FIX
    return CouldNotJudge(
        f"{what}: the target did not answer ({error})", exchanges=found, cause=final.as_cause(), fix=fix
    )


#: what to change when the server (or a gateway) could not answer now: 429 or 502-504
OVERLOADED_FIX = "run again when the server is not under load, with fewer requests at once (--concurrency 1, --max-rps)"


def overloaded(what: str, exchanges: Collection[Exchange]) -> CouldNotJudge:
    """The CouldNotJudge for an answer that says the server could not answer now (429, 502-504)."""
    found = list(exchanges)
    final = found[-1]
    return CouldNotJudge(
        f"{what}: the server could not answer now ({final.summary()}), so the case cannot be judged",
        exchanges=found,
        cause=f"{final.as_cause()}: the server (or a gateway in front of it) could not answer now",
        fix=OVERLOADED_FIX,
    )


def refused_valid(final: Exchange) -> SetupProblem:
    """The cause and fix of a valid request the case needed that did not succeed: a setup problem when the
    answer names the client (the same words as every case it stops), else what came back and what to change."""
    return setup_problem(final, control=True) or SetupProblem(final.as_cause(), refused_valid_fix(final))


def refused_valid_fix(final: Exchange) -> str:
    """What to change when a valid request the case needed (a control, a prerequisite) was refused.

    A DPoP refusal of a valid proof is the target's own finding, judged by the cases that send one
    (as-proof-accepted, rs-accepts-dpop-request); a server error is in its logs; anything else is the
    request the target file makes the suite send.
    """
    if final.error:
        return UNANSWERED_FIX
    if (final.status or 0) in OVERLOADED:
        return OVERLOADED_FIX
    if is_server_error(final):
        return f"find the exception in the server's logs: {where(final)} fails on a valid request"
    if dpop_error(final, RESOURCE_ERRORS) is not None:
        return (
            f"make {where(final)} accept a valid DPoP request: as-proof-accepted (token endpoint) and "
            "rs-accepts-dpop-request (resource) show what it refuses"
        )
    return (
        f"make {where(final)} accept the valid request this case needs (its answer is in the evidence), or correct "
        "the target file where it describes the request wrongly"
    )


def deviation(
    what: str, expected: str, final: Exchange, sent: Sent, *, cause: str, fix: str
) -> Violation | CouldNotJudge:
    """A SHOULD deviation of a refusal (its status, its error code), with the cause other cases share.

    Its level is its own (a warning in a MAY case too): how a server answers a refusal is not the case's
    requirement, and one wrong status is one finding wherever it shows.
    """
    return violation(
        what,
        expected,
        final,
        cause=cause,
        fix=fix,
        level=Level.SHOULD,
        exchanges=sent.exchanges,
        shared=True,
        own_level=True,
    )


#: what a 5xx says instead of a case's own likely cause: the server failed, so its check was never seen
SERVER_ERROR_HINT = (
    "The server failed (a 5xx) where it should have answered with a refusal: an exception in its handling of "
    "this request (its logs say which). Whether it checks what the case changed cannot be seen through it."
)
#: the same for a request the server should have accepted
SERVER_ERROR_ON_VALID_HINT = (
    "The server failed (a 5xx) on a request it should accept, while the valid requests around it succeeded: an "
    "exception in its handling of exactly what this request varies (its logs say which)."
)


def server_error_cause(final: Exchange) -> str:
    """The cause every case shares that met a 5xx at this endpoint where a refusal was due."""
    return f"{where(final)} fails with HTTP {final.status} on requests it should refuse"


def server_error(what: str, expected: str, final: Exchange, exchanges: Collection[Exchange], *, fix: str) -> Violation:
    """A 5xx where a refusal was due: never a refusal, never a pass; a warning of its own, in a case of any level.

    Its cause is shared by every case that meets a 5xx at the same endpoint; `fix` says what the refusal
    should have been (the same words for each kind of request, so that a finding's fix reads true for all).
    """
    return Violation(
        f"Sent: {what}\nExpected: {expected} (not a server error)\nGot: {describe(final)}\nReproduce: {final.curl()}",
        cause=server_error_cause(final),
        fix=f"find the exception in the server's logs and {fix}",
        level=Level.SHOULD,
        exchanges=list(exchanges) or [final],
        shared=True,
        own_level=True,
        hint=SERVER_ERROR_HINT,
    )


def other_cause(
    sent: Sent, what: str, *, answered_nonce: bool, grant_is_the_change: bool, refusal_due: bool = True
) -> None:
    """CouldNotJudge when the refusal names another cause than the change (conformance/judge/answers.py).

    Where a refusal is due, a refused grant is the exception: one the case could send again with a fresh grant
    it did (attribution.py), and one it could not is a refusal whose pass a concurrent run confirms alone (no
    DPoP error in it). Where acceptance is due, a refused grant is no answer to the change at all.
    """
    found = another_cause(sent.final, answered_nonce=answered_nonce)
    if found is None or (grant_is_the_change and found.kind == "grant"):
        return
    if found.kind == "grant" and refusal_due:
        unconfirmed(f"{what}: refused as if the grant were gone ({found})")
        return
    raise CouldNotJudge(
        f"{what}: refused for another cause than the case's change ({found}), so whether the server checks the "
        "change cannot be told from this answer",
        exchanges=sent.exchanges,
        cause=f"the answers name another cause than the cases' changes: {found.text.split(':', 1)[0]}",
        fix=found.fix,
    )


def note_unattributed(final: Exchange, known: Collection[str], what: str) -> None:
    """A pass that rests on a refusal naming no DPoP error code (`known`: the codes that answer a proof where it
    was sent): confirmed alone in a concurrent run."""
    if dpop_error(final, known) is None:
        unconfirmed(f"{what}: refused with {final.as_cause()}, which names no DPoP error")


def attributable_refusal(sent: Sent, known: Collection[str], what: str, *, answered_nonce: bool = True) -> None:
    """A refusal a case counts as its own: CouldNotJudge when it names another cause than the change, and a
    note for the scheduler when it names no DPoP error (for cases that judge a refusal's fact, not its form)."""
    other_cause(sent, what, answered_nonce=answered_nonce, grant_is_the_change=False)
    note_unattributed(sent.final, known, what)


def token_issued(ex: Exchange) -> bool:
    """True when a token endpoint answered 200 with an access_token (what "accepted" means there)."""
    return ex.status == 200 and isinstance(ex.json_object().get("access_token"), str)


def prerequisite_failed(what: str, sent: Sent, *, consequence: str = "") -> CouldNotJudge:
    """The CouldNotJudge for a request the case needed to succeed: no answer, or a refusal."""
    final = sent.final
    if final.error:
        return unanswered(what, sent.exchanges)
    problem = setup_problem(final, control=True)
    refused = refused_valid(final)
    return CouldNotJudge(
        f"{what} was refused ({final.summary()}){consequence}" + (f"; {problem}" if problem else ""),
        exchanges=sent.exchanges,
        cause=refused.cause,
        fix=refused.fix,
    )


def require_answer(sent: Sent, what: str) -> Exchange:
    final = sent.final
    if final.error:
        raise unanswered(what, sent.exchanges)
    return final


def refusal_note(final: Exchange) -> str:
    """One line on how a refusal looked: status and error code(s) (the challenge's, then the JSON body's)."""
    return f"refused with HTTP {final.status}, error={', '.join(error_codes(final)) or 'no error code'}"


def accepted_cause(final: Exchange, what: str, rule: str) -> tuple[str, str]:
    """The cause and the fix of a request accepted where it must be refused: `what` names the request as sent,
    `rule` the requirement it breaks."""
    return f"{where(final)} accepts {what} ({answer(final)})", f"refuse such requests — {rule}"


def expect_accepted(
    sent: Sent, *, what: str, rule: str, expected: str = "a 2xx answer", controlled: bool = True
) -> Exchange:
    """The request (after at most one nonce retry) must have succeeded; `rule` says why it must (for the fix).

    With `controlled` (valid requests just before and after it succeeded), a 5xx is this request's own verdict:
    the server failed on a request it should accept, which is not accepting it. Without controls (the happy path
    itself), a 5xx cannot be told from a broken deployment and is not judged. An overloaded answer (429,
    502-504) is never judged.
    """
    final = require_answer(sent, what)
    status = final.status or 0
    if status in OVERLOADED:
        raise overloaded(what, sent.exchanges)
    if is_server_error(final) and not controlled:
        raise CouldNotJudge(
            f"{what}: the server failed with {final.summary()}, so the case cannot be judged; check the server's logs",
            exchanges=sent.exchanges,
            cause=f"{where(final)} fails with HTTP {status} on a valid request",
            fix=refused_valid_fix(final),
        )
    other_cause(sent, what, answered_nonce=True, grant_is_the_change=False, refusal_due=False)
    if is_server_error(final):
        raise violation(
            what,
            expected,
            final,
            cause=f"{where(final)} fails with HTTP {status} on valid requests it should accept",
            fix=f"find the exception in the server's logs and accept such requests — {rule}",
            exchanges=sent.exchanges,
            shared=True,
            hint=SERVER_ERROR_ON_VALID_HINT,
        )
    if not final.ok:
        raise violation(
            what,
            expected,
            final,
            cause=f"{where(final)} refuses {what} ({answer(final)})",
            fix=f"accept such requests — {rule}",
            exchanges=sent.exchanges,
        )
    return final


def expect_resource_accepts(sent: Sent, *, what: str, rule: str) -> Exchange:
    """A valid DPoP request must get a 2xx from the resource.

    A refusal with error invalid_token is not judged (CouldNotJudge): the resource may not accept this
    AS's tokens at all (audience, RFC 8707 `resource`), which is configuration, not a DPoP failure.
    """
    final = require_answer(sent, what)
    if not final.ok and "invalid_token" in challenge_errors(final):
        raise CouldNotJudge(
            f"{what}: the resource refused the access token itself ({final.summary()}); check that the AS "
            "issues tokens for this resource (audience; add the RFC 8707 resource parameter with [client] "
            "token_params)",
            exchanges=sent.exchanges,
            cause=f"{where(final)} refuses the AS's access token itself ({answer(final)})",
            fix="check that the AS issues tokens for this resource (its audience): add the RFC 8707 resource "
            "parameter with [client] token_params in the target file",
        )
    return expect_accepted(sent, what=what, rule=rule, controlled=False)
