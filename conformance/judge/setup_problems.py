"""Answers that show a broken setup rather than the target's DPoP behaviour: never a verdict on the target.

What counts is the answer's content (conformance/judge/answers.py), not its status: a refused proof is
the server's DPoP answer whatever status carries it (a 401 `invalid_dpop_proof` at a token endpoint is a
refusal with a status finding, not a refused client). Only two kinds of answer show the setup:

- one that names the client or its configuration (`invalid_client`, `unauthorized_client`, `invalid_scope`,
  `unsupported_grant_type`), or the resource asking for another scope: no proof draws such an answer, so
  whatever a case sent, the target file (or the target's configuration of the client) is wrong;
- one to a *control*, a valid request the run needs to succeed: there a bare 401 at the token endpoint is the
  client's authentication failing too. To an altered request whose controls succeeded with the same
  credentials, the same answer is the server refusing what the case changed.
"""

from __future__ import annotations

from typing import NamedTuple

from conformance.client.evidence import Exchange
from conformance.judge.answers import DPOP_ERRORS, error_codes

__all__ = ["CONFIGURATION_ERRORS", "SetupProblem", "setup_problem"]

#: errors that name the client the target file describes, its scope or its grant: the setup, whatever was sent
CONFIGURATION_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"})


class SetupProblem(NamedTuple):
    """An answer that shows a broken setup: what went wrong, and what to change."""

    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.cause}: {self.fix}"


def setup_problem(exchange: Exchange, *, control: bool = False) -> SetupProblem | None:
    """Why this answer shows a setup problem rather than the target's DPoP behaviour, or None.

    `control` True for the answer to a valid request the run needed (a control, a prerequisite, the
    preflight): there a 401 to a token request also shows the setup (RFC 6749 §5.2 keeps 401 for client
    authentication). An answer that names a DPoP error never does.
    """
    if exchange.error or exchange.ok:
        return None
    codes = error_codes(exchange)
    if DPOP_ERRORS & set(codes):
        return None  # the server's answer to the proof, whatever its status
    client = "check [client] id, secret, auth_method, grant_type and scope in the target file"
    if CONFIGURATION_ERRORS & set(codes):
        return SetupProblem(f"the client was refused ({exchange.as_cause()})", client)
    is_token_request = exchange.method == "POST" and "grant_type=" in exchange.request_body
    if control and exchange.status == 401 and is_token_request:
        return SetupProblem(
            f"the token endpoint refused the client ({exchange.as_cause()})",
            "check [client] id, secret and auth_method in the target file",
        )
    if exchange.status == 403 and "insufficient_scope" in codes:
        return SetupProblem(
            f"the resource wants another scope ({exchange.as_cause()})", "check [client] scope in the target file"
        )
    return None
