"""Validation of authorization request parameters, shared by /authorize and /par (RFC 9126)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Set

from conformance.reference.settings import ServerSettings
from conformance.reference.tokens import PendingAuthorization

__all__ = ["REQUEST_URI_PREFIX", "OAuthError", "resolve_scope", "validate_authorization_request"]

# RFC 9126 §2.2: request_uri values are URNs of this form.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"

_B64URL_43 = re.compile(r"[A-Za-z0-9_-]{43}")


class OAuthError(Exception):
    """An OAuth error code and description.

    `user_facing` marks errors about the client or its redirect URI: the authorization endpoint shows
    those to the user instead of redirecting (RFC 6749 §4.1.2.1).
    """

    def __init__(self, error: str, description: str, *, user_facing: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.user_facing = user_facing


def resolve_scope(requested: str | None, allowed: str) -> str:
    """The granted scope: all of `allowed` by default, else the requested subset of it."""
    allowed_values = allowed.split()
    if requested is None:
        return " ".join(allowed_values)
    wanted = list(dict.fromkeys(requested.split()))
    if not wanted:
        return " ".join(allowed_values)
    if not all(value in allowed_values for value in wanted):
        raise OAuthError("invalid_scope", "requested scope is not allowed")
    return " ".join(wanted)


def validate_authorization_request(
    params: Mapping[str, str],
    repeated: Set[str],
    *,
    client_id: str,
    settings: ServerSettings,
) -> PendingAuthorization:
    """Check the parameters of an authorization request for the already identified `client_id`.

    `repeated` names parameters that occurred more than once. Raises OAuthError; user-facing when
    the redirect URI is missing, repeated or not the registered one.
    """
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None or "redirect_uri" in repeated or redirect_uri != settings.redirect_uri:
        raise OAuthError("invalid_request", "redirect_uri is not registered", user_facing=True)
    if repeated:
        raise OAuthError("invalid_request", f"repeated parameter {sorted(repeated)[0]}")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    challenge = params.get("code_challenge")
    if challenge is None:
        raise OAuthError("invalid_request", "code_challenge is required")
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if not _B64URL_43.fullmatch(challenge):
        raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters")
    dpop_jkt = params.get("dpop_jkt")
    if dpop_jkt is not None and not _B64URL_43.fullmatch(dpop_jkt):
        raise OAuthError("invalid_request", "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
    return PendingAuthorization(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        scope=resolve_scope(params.get("scope"), settings.scope),
        state=params.get("state"),
        dpop_jkt=dpop_jkt,
    )
