"""How a refusal is judged: one check, read through the refusal policy of the place that refused.

The token endpoint and the resource refuse differently (RFC 6749 §5.2: 400 and a JSON `error`; RFC 9449 §7.1
and RFC 6750 §3: 401 with a challenge whose `error` parameter names the code, 400 legal too), and the PAR
endpoint refuses as the token endpoint does (§10.1). Those differences are the policy's fields; `expect_refused`
reads them, so no check branches on an endpoint's name.

What every refusal shares: any 2xx fails the case at its level (the change was accepted); a 5xx is a warning of
its own (a server error, never a refusal); a refusal that names another cause than the change (a lost grant, a
rate limit, a nonce challenge the request could not answer) is not judged; a status or a missing error code
that departs from the policy is a SHOULD deviation with a cause shared by every case it happens to; a code
outside those the catalog lists as legal is info (a refusal all the same).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent
from conformance.judge.answers import (
    DPOP_ERRORS,
    OVERLOADED,
    RESOURCE_ERRORS,
    challenge_errors,
    first_error,
    is_server_error,
)
from conformance.judge.checks import (
    accepted_cause,
    deviation,
    note_unattributed,
    other_cause,
    require_answer,
    server_error,
    violation,
    where,
)
from conformance.judge.verdicts import Observation

__all__ = ["PAR_REFUSALS", "RESOURCE_REFUSALS", "TOKEN_REFUSALS", "RefusalPolicy", "expect_refused"]


def _body_error(ex: Exchange) -> list[str]:
    found = ex.json_object().get("error")
    return [found] if isinstance(found, str) and found else []


@dataclass(frozen=True)
class RefusalPolicy:
    """How one kind of endpoint refuses, as the RFCs say it should; the words its findings use."""

    dpop_errors: frozenset[str]  # the codes that answer a proof there (answers.dpop_error): the refusal's own
    legal_errors: frozenset[str]  # the codes the catalog accepts for a refused proof there
    statuses: frozenset[int]  # the statuses a refusal should have
    expected: str  # "a refusal: ...", with {errors} for the legal codes
    status_rule: str  # added to `expected` in a status deviation ("" or " (RFC 6749 §5.2)")
    status_cause: str  # with {where}, {status}, {code}
    status_fix: str
    errors_of: Callable[[Exchange], list[str]]  # where the refusal's error code is read
    missing_rule: str  # added to `expected` when the code is missing
    missing_cause: str  # with {where}
    missing_fix: str
    server_error_fix: str  # what the refusal should have been, where a 5xx came


TOKEN_REFUSALS = RefusalPolicy(
    dpop_errors=DPOP_ERRORS,
    # Amb-6, Amb-17, Amb-18 of the requirement catalog
    legal_errors=frozenset({"invalid_dpop_proof", "invalid_request", "use_dpop_nonce"}),
    statuses=frozenset({400}),
    expected="a refusal: HTTP 400 with error={errors}",
    status_rule=" (RFC 6749 §5.2)",
    status_cause="{where} answers {code} with HTTP {status}, not 400",
    status_fix="answer the token endpoint's errors with HTTP 400 (RFC 6749 §5.2)",
    # the code of a token endpoint's refusal is its JSON body's (RFC 6749 §5.2)
    errors_of=_body_error,
    missing_rule=" (RFC 6749 §5.2: a JSON body with error)",
    missing_cause="{where} refuses without a JSON error code",
    missing_fix='give every refusal a JSON body with "error" (RFC 6749 §5.2)',
    server_error_fix="refuse an invalid request with HTTP 400 and an error code (RFC 6749 §5.2)",
)
#: the PAR endpoint checks a proof as the token endpoint does (§10.1), and answers as an AS endpoint (RFC 9126 §2.3)
PAR_REFUSALS = TOKEN_REFUSALS
RESOURCE_REFUSALS = RefusalPolicy(
    # a key that does not match cnf.jkt is answered with invalid_token (RFC 9449 figure 16)
    dpop_errors=RESOURCE_ERRORS,
    # Amb-8, Amb-17, Amb-18, R-7-1
    legal_errors=frozenset({"invalid_dpop_proof", "invalid_token", "invalid_request", "use_dpop_nonce"}),
    statuses=frozenset({400, 401}),
    expected="a refusal: 400 or 401 with a challenge carrying error={errors}",
    status_rule="",
    status_cause="{where} refuses with HTTP {status}, not 400 or 401",
    status_fix="refuse with HTTP 401 and a DPoP challenge (§7.1; 400 is legal too, RFC 6750 §3.1)",
    # the resource's error is its challenge's (§7.1, RFC 6750 §3): a JSON body is the application's, and a
    # body saying {"error": "invalid_token"} beside a challenge without one is no error code to a client
    errors_of=challenge_errors,
    missing_rule=" (RFC 9449 §7.1: the error parameter SHOULD be included)",
    missing_cause="{where} refuses with a challenge that has no error parameter",
    missing_fix='add error="invalid_dpop_proof" (or "invalid_token") to the WWW-Authenticate challenge (§7.1)',
    server_error_fix="refuse an invalid request with HTTP 401 and a DPoP challenge (§7.1)",
)


def expect_refused(
    sent: Sent,
    policy: RefusalPolicy,
    *,
    what: str,
    rule: str,
    errors: Collection[str] | None = None,
    error_required: bool = True,
    answered_nonce: bool = True,
    grant_is_the_change: bool = False,
) -> Exchange:
    """The request must have been refused, in the form `policy` describes; returns the refusal.

    `what` names the request as sent ("a token request carrying a proof with typ JWT"), `rule` what it breaks
    ("§4.3 check 4: typ is dpop+jwt"): an acceptance's cause and fix are made of them. `errors` are the codes
    that count as this refusal's (the policy's legal ones by default). With `error_required` False (a scheme
    the resource may not support at all, RFC 6750 §3.1: "SHOULD NOT include an error code"), a refusal
    without a code passes. With `grant_is_the_change` a refused grant is the change itself (a rotated-out
    refresh token), not another cause.
    """
    legal = frozenset(errors) if errors is not None else policy.legal_errors
    final = require_answer(sent, what)
    expected = policy.expected.format(errors=" or ".join(sorted(legal)))
    if final.ok:
        cause, fix = accepted_cause(final, what, rule)
        raise violation(what, expected, final, cause=cause, fix=fix, exchanges=sent.exchanges)
    status = final.status or 0
    if is_server_error(final) and status not in OVERLOADED:
        raise server_error(what, expected, final, sent.exchanges, fix=policy.server_error_fix)
    other_cause(sent, what, answered_nonce=answered_nonce, grant_is_the_change=grant_is_the_change)
    found = policy.errors_of(final)
    if status not in policy.statuses:
        code = found[0] if found else first_error(final) or "a refusal"
        raise deviation(
            what,
            expected + policy.status_rule,
            final,
            sent,
            cause=policy.status_cause.format(where=where(final), status=status, code=code),
            fix=policy.status_fix,
        )
    if not found and error_required:
        raise deviation(
            what,
            expected + policy.missing_rule,
            final,
            sent,
            cause=policy.missing_cause.format(where=where(final)),
            fix=policy.missing_fix,
        )
    if found and not set(found) & legal:
        raise Observation(
            f"{what}: refused with HTTP {status} and error={', '.join(found)}; the catalog expects "
            f"{' or '.join(sorted(legal))} (a refusal all the same)"
        )
    if not grant_is_the_change:
        note_unattributed(final, policy.dpop_errors, what)
    return final
