"""Answers that show a broken setup rather than the target's DPoP behaviour: never a verdict on the target.

The client refused (invalid_client and the like, or a 401 at a token endpoint), or the resource asking for
another scope: whatever a case asked, the answer says the target file (or the target's configuration of the
client) is wrong, so the case could not be judged, and the run says what to fix.
"""

from __future__ import annotations

from typing import NamedTuple

from conformance.client.evidence import Exchange

__all__ = ["SETUP_ERRORS", "SetupProblem", "setup_problem"]

#: token-endpoint errors that say the client the target file describes is refused: the setup, not DPoP
SETUP_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"})


class SetupProblem(NamedTuple):
    """An answer that shows a broken setup: what went wrong, and what to change."""

    cause: str
    fix: str

    def __str__(self) -> str:
        return f"{self.cause}: {self.fix}"


def setup_problem(exchange: Exchange) -> SetupProblem | None:
    """Why this answer shows a setup problem rather than the target's DPoP behaviour, or None.

    The client refused (invalid_client and the like, or a 401 at a token endpoint: RFC 6749 §5.2 keeps 401
    for client authentication), or the resource refusing for lack of scope (403): no DPoP verdict can come
    from such an answer, whatever the case asked.
    """
    if exchange.error or exchange.ok:
        return None
    code = exchange.json_object().get("error")
    client = "check [client] id, secret, auth_method, grant_type and scope in the target file"
    if code in SETUP_ERRORS:
        return SetupProblem(f"the client was refused ({exchange.as_cause()})", client)
    is_token_request = exchange.method == "POST" and "grant_type=" in exchange.request_body
    if exchange.status == 401 and is_token_request and code != "use_dpop_nonce":
        return SetupProblem(
            f"the token endpoint refused the client ({exchange.as_cause()})",
            "check [client] id, secret and auth_method in the target file",
        )
    if exchange.status == 403 and "insufficient_scope" in " ".join(exchange.headers("WWW-Authenticate")):
        return SetupProblem(
            f"the resource wants another scope ({exchange.as_cause()})", "check [client] scope in the target file"
        )
    return None
