"""Verifiers shared by the cases: accepted, refused (with the answers the RFC allows), well-formed nonce.

Each failure message says what was sent, what was expected and what came back, and ends with a curl
command that sends the decisive request again.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from conformance.client.evidence import Exchange, mask_secret_members, shortened
from conformance.client.flow import Sent, parse_challenges
from conformance.judge.setup_problems import SetupProblem, setup_problem
from conformance.judge.verdicts import CouldNotJudge, Level, Observation, Violation

__all__ = [
    "NQCHAR_NONCE",
    "SetupProblem",
    "challenge_errors",
    "describe",
    "expect_accepted",
    "expect_refused_at_as",
    "expect_refused_at_rs",
    "expect_resource_accepts",
    "prerequisite_failed",
    "refusal_note",
    "setup_problem",
    "token_issued",
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
    level: Level | None = None,
    exchanges: Collection[Exchange] = (),
    cause: str | None = None,
    fix: str | None = None,
) -> Violation | CouldNotJudge:
    """A Violation whose message reads Sent / Expected / Got / Reproduce.

    Unless the answer shows a setup problem (`setup_problem`): then the case could not be judged, and
    says why, for no case turns a refused client into a verdict on the target.
    """
    message = f"Sent: {sent}\nExpected: {expected}\nGot: {describe(exchange)}\nReproduce: {exchange.curl()}"
    problem = setup_problem(exchange)
    if problem:
        return CouldNotJudge(f"{problem}\n{message}", exchanges=list(exchanges) or [exchange], cause=problem.cause)
    return Violation(message, level=level, exchanges=list(exchanges) or [exchange], cause=cause, fix=fix)


def where(ex: Exchange) -> str:
    """METHOD URL of an exchange, without its query: how a cause names the endpoint it is about."""
    return f"{ex.method} {ex.url.split('?', 1)[0]}"


def _deviation(
    what: str, expected: str, final: Exchange, sent: Sent, *, cause: str, fix: str
) -> Violation | CouldNotJudge:
    """A SHOULD deviation of a refusal (its status, its error code), with the cause other cases share."""
    return violation(what, expected, final, level=Level.SHOULD, exchanges=sent.exchanges, cause=cause, fix=fix)


def _server_error(what: str, expected: str, final: Exchange, sent: Sent, *, fix: str) -> Violation | CouldNotJudge:
    """A refusal that came as a 5xx: still a refusal, but a SHOULD deviation."""
    cause = f"{where(final)} fails with HTTP {final.status} on requests it should refuse"
    return _deviation(what, expected + " (not a server error)", final, sent, cause=cause, fix=fix)


def _error_code(ex: Exchange) -> str:
    found = challenge_errors(ex)
    code = found[0] if found else ex.json_object().get("error")
    return code if isinstance(code, str) and code else "a refusal"


def token_issued(ex: Exchange) -> bool:
    """True when a token endpoint answered 200 with an access_token (what "accepted" means there)."""
    return ex.status == 200 and isinstance(ex.json_object().get("access_token"), str)


def prerequisite_failed(what: str, sent: Sent, *, consequence: str = "") -> CouldNotJudge:
    """The CouldNotJudge for a request the case needed to succeed: no answer, or a refusal."""
    final = sent.final
    if final.error:
        return CouldNotJudge(f"{what}: the target did not answer ({final.error})", exchanges=sent.exchanges)
    problem = setup_problem(final)
    return CouldNotJudge(
        f"{what} was refused ({final.summary()}){consequence}" + (f"; {problem}" if problem else ""),
        exchanges=sent.exchanges,
        cause=problem.cause if problem else None,
    )


def _require_answer(sent: Sent, what: str) -> Exchange:
    final = sent.final
    if final.error:
        raise CouldNotJudge(f"{what}: the target did not answer ({final.error})", exchanges=sent.exchanges)
    return final


def challenge_errors(ex: Exchange) -> list[str]:
    """The `error` values of every challenge in the response's WWW-Authenticate headers."""
    errors: list[str] = []
    for value in ex.headers("WWW-Authenticate"):
        for _scheme, params in parse_challenges(value):
            if "error" in params:
                errors.append(params["error"])
    return errors


def refusal_note(final: Exchange) -> str:
    """One line on how a refusal looked: status and error code(s) (the challenge's, else the JSON body's)."""
    errors = challenge_errors(final) or [str(final.json_object().get("error", "no error code"))]
    return f"refused with HTTP {final.status}, error={', '.join(errors)}"


def expect_accepted(sent: Sent, *, what: str, expected: str = "a 2xx answer") -> Exchange:
    """The request (after at most one nonce retry) must have succeeded.

    A 5xx is not judged (CouldNotJudge): a server error is no answer to whether the request is valid, and
    a resource that fails on everything must end in `error`, not in a DPoP failure.
    """
    final = _require_answer(sent, what)
    if (final.status or 0) >= 500:
        raise CouldNotJudge(
            f"{what}: the server failed with {final.summary()}, so the case cannot be judged; check the server's logs",
            exchanges=sent.exchanges,
        )
    if not final.ok:
        raise violation(what, expected, final, exchanges=sent.exchanges)
    return final


def expect_refused_at_as(sent: Sent, *, what: str, errors: Collection[str]) -> Exchange:
    """The authorization server must refuse: any 2xx fails the case at its level.

    The form is judged more softly, as at the resource: a 5xx is a warning, a status other than 400 is
    a warning (RFC 6749 §5.2), a body without an `error` code is a warning, and a code outside `errors`
    (every code the catalog lists as legal) is recorded as info.
    """
    final = _require_answer(sent, what)
    expected = f"a refusal: HTTP 400 with error={' or '.join(sorted(errors))}"
    if final.ok:
        raise violation(what, expected, final, exchanges=sent.exchanges)
    status = final.status or 0
    if status >= 500:
        fix = "refuse an invalid request with HTTP 400 and an error code (RFC 6749 §5.2); check the server's logs"
        raise _server_error(what, expected, final, sent, fix=fix)
    error = final.json_object().get("error")
    if status != 400:
        raise _deviation(
            what,
            expected + " (RFC 6749 §5.2)",
            final,
            sent,
            cause=f"{where(final)} answers {_error_code(final)} with HTTP {status}, not 400",
            fix="answer the token endpoint's errors with HTTP 400 (RFC 6749 §5.2)",
        )
    if not isinstance(error, str):
        raise _deviation(
            what,
            expected + " (RFC 6749 §5.2: a JSON body with error)",
            final,
            sent,
            cause=f"{where(final)} refuses without a JSON error code",
            fix='give every refusal a JSON body with "error" (RFC 6749 §5.2)',
        )
    if error not in errors:
        raise Observation(
            f"{what}: refused with HTTP {status} and error={error}; the catalog expects "
            f"{' or '.join(sorted(errors))} (a refusal all the same)"
        )
    return final


def expect_resource_accepts(sent: Sent, *, what: str) -> Exchange:
    """A valid DPoP request must get a 2xx from the resource.

    A refusal with error invalid_token is not judged (CouldNotJudge): the resource may not accept this
    AS's tokens at all (audience, RFC 8707 `resource`), which is configuration, not a DPoP failure.
    """
    final = _require_answer(sent, what)
    if not final.ok and "invalid_token" in challenge_errors(final):
        raise CouldNotJudge(
            f"{what}: the resource refused the access token itself ({final.summary()}); check that the AS "
            "issues tokens for this resource (audience; add the RFC 8707 resource parameter with [client] "
            "token_params)",
            exchanges=sent.exchanges,
        )
    return expect_accepted(sent, what=what)


def expect_refused_at_rs(sent: Sent, *, what: str, errors: Collection[str], error_required: bool = True) -> Exchange:
    """The resource must refuse: any 2xx fails the case at its level.

    The refusal itself is all a MUST asks; its form is judged more softly: a 5xx is a warning (a
    server error is not an answer), a status other than 400/401 is a warning (§7.1 uses 401 with a DPoP
    challenge; 400 is legal per RFC 6750 §3.1), a missing `error` is a warning (§7.1 SHOULD), and an
    error code outside `errors` (every code the catalog lists as legal) is recorded as info. With
    `error_required` False (a scheme the resource may not support at all, RFC 6750 §3.1: "SHOULD NOT
    include an error code"), a refusal without `error` passes.
    """
    final = _require_answer(sent, what)
    expected = f"a refusal: 400 or 401 with a challenge carrying error={' or '.join(sorted(errors))}"
    if final.ok:
        raise violation(what, expected, final, exchanges=sent.exchanges)
    status = final.status or 0
    if status >= 500:
        fix = "refuse an invalid proof with HTTP 401 and a DPoP challenge (§7.1); check the server's logs"
        raise _server_error(what, expected, final, sent, fix=fix)
    if status not in (400, 401):
        raise _deviation(
            what,
            expected,
            final,
            sent,
            cause=f"{where(final)} refuses with HTTP {status}, not 400 or 401",
            fix="refuse with HTTP 401 and a DPoP challenge (§7.1; 400 is legal too, RFC 6750 §3.1)",
        )
    # the resource's error is its challenge's (§7.1, RFC 6750 §3): a JSON body is the application's, and a
    # body saying {"error": "invalid_token"} beside a challenge without one is no error code to a client
    found = challenge_errors(final)
    if not found and not error_required:
        return final
    if not found:
        raise _deviation(
            what,
            expected + " (RFC 9449 §7.1: the error parameter SHOULD be included)",
            final,
            sent,
            cause=f"{where(final)} refuses with a challenge that has no error parameter",
            fix='add error="invalid_dpop_proof" (or "invalid_token") to the WWW-Authenticate challenge (§7.1)',
        )
    if not set(found) & set(errors):
        raise Observation(
            f"{what}: refused with HTTP {status} and error={', '.join(found)}; the catalog "
            f"expects {' or '.join(sorted(errors))} (a refusal all the same)"
        )
    return final
