"""Client authentication at the token and introspection endpoints.

Supported: client_secret_basic and client_secret_post (RFC 6749 §2.3.1) for the confidential client,
private_key_jwt (RFC 7523 §2.2, OIDC Core §9) for the JWT client, and `none` for the public client.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from conformance.jose import decode_jws
from conformance.reference.context import ASSERTION_MAX_LIFETIME, ServerContext
from conformance.reference.keys import SignatureError, verify_signature
from conformance.reference.replay import ReplayResult

__all__ = [
    "JWT_BEARER_ASSERTION",
    "AuthenticatedClient",
    "ClientAuthError",
    "authenticate_client",
    "basic_credentials",
]

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AuthenticatedClient:
    """The client a request was authenticated as. kind is "confidential", "jwt" or "public"."""

    client_id: str
    kind: str
    method: str


class ClientAuthError(Exception):
    """Client authentication failed. `basic` is True when HTTP Basic was attempted (→ a challenge)."""

    def __init__(self, error: str, description: str, *, basic: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.basic = basic

    @property
    def status(self) -> int:
        """401 for invalid_client (RFC 6749 §5.2), 400 otherwise."""
        return 401 if self.error == "invalid_client" else 400


def _invalid_client(description: str, *, basic: bool = False) -> ClientAuthError:
    return ClientAuthError("invalid_client", description, basic=basic)


def basic_credentials(lines: list[str]) -> tuple[str, str] | None:
    """Decode `Authorization: Basic` credentials as RFC 6749 §2.3.1 writes them; None when no Basic line is present.

    Raises ClientAuthError when the line is malformed or there is more than one Authorization line.
    """
    basic = [line for line in lines if line.strip()[:6].lower() == "basic "]
    if not basic:
        return None
    if len(basic) > 1 or len(lines) > 1:
        raise ClientAuthError("invalid_request", "more than one Authorization header", basic=True)
    encoded = basic[0].strip()[6:].strip()
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise _invalid_client("malformed Basic credentials", basic=True) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("malformed Basic credentials", basic=True)
    # RFC 6749 §2.3.1: both halves are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _check_secret(ctx: ServerContext, client_id: str, secret: str, *, basic: bool) -> None:
    settings = ctx.settings
    id_ok = hmac.compare_digest(client_id.encode("utf-8"), settings.client_id.encode("utf-8"))
    secret_ok = hmac.compare_digest(secret.encode("utf-8"), settings.client_secret.encode("utf-8"))
    if not (id_ok and secret_ok):
        raise _invalid_client("client authentication failed", basic=basic)


def _audience_ok(aud: Any, accepted: set[str]) -> bool:
    if isinstance(aud, str):
        return aud in accepted
    return isinstance(aud, list) and any(isinstance(a, str) and a in accepted for a in aud)


def _verify_assertion(ctx: ServerContext, assertion: str, endpoint_url: str) -> None:
    """Verify a private_key_jwt client assertion for the JWT client (RFC 7523 §3)."""
    settings = ctx.settings
    if not settings.jwt_client_jwks:
        raise _invalid_client("private_key_jwt is not configured")
    try:
        jws = decode_jws(assertion)
    except (ValueError, RecursionError) as exc:
        raise _invalid_client("malformed client assertion") from exc
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in settings.signing_algs:
        raise _invalid_client("client assertion alg is not accepted")
    kid = jws.header.get("kid")
    candidates = [k for k in settings.jwt_client_jwks if kid is None or k.get("kid") in (None, kid)]
    for jwk in candidates:
        try:
            verify_signature(alg, jwk, jws.signing_input, jws.signature)
            break
        except SignatureError:
            continue
    else:
        raise _invalid_client("client assertion signature does not verify")
    claims = jws.payload
    if claims.get("iss") != settings.jwt_client_id or claims.get("sub") != settings.jwt_client_id:
        raise _invalid_client("client assertion iss and sub must be the client_id")
    if not _audience_ok(claims.get("aud"), {ctx.base_url, ctx.endpoint("/token"), endpoint_url}):
        raise _invalid_client("client assertion aud must be the token endpoint or the issuer")
    exp = claims.get("exp")
    now = time.time()
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
        raise _invalid_client("client assertion exp must be a number")
    if exp <= now:
        raise _invalid_client("client assertion expired")
    if exp > now + ASSERTION_MAX_LIFETIME:
        raise _invalid_client("client assertion exp is too far in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 512:
        raise _invalid_client("client assertion jti must be a non-empty string")
    result = ctx.assertion_replay.add(jti, settings.jwt_client_id)
    if result is ReplayResult.REPLAYED:
        raise _invalid_client("client assertion jti already used")
    if result is ReplayResult.FULL:
        raise _invalid_client("client assertion cache full, retry later")


def authenticate_client(
    ctx: ServerContext, form: dict[str, str], authorization: list[str], endpoint_url: str
) -> AuthenticatedClient:
    """Authenticate the client of a token or introspection request; raise ClientAuthError.

    Exactly one method may be used (RFC 6749 §2.3). A form client_id must agree with the
    authenticated one.
    """
    settings = ctx.settings
    basic = basic_credentials(authorization)
    methods = [
        name
        for name, used in (
            ("client_secret_basic", basic is not None),
            ("client_secret_post", "client_secret" in form),
            ("private_key_jwt", "client_assertion" in form or "client_assertion_type" in form),
        )
        if used
    ]
    if len(methods) > 1:
        raise ClientAuthError("invalid_request", "more than one client authentication method", basic=basic is not None)
    form_client_id = form.get("client_id")
    if basic is not None:
        client_id, secret = basic
        if form_client_id is not None and form_client_id != client_id:
            raise _invalid_client("client_id does not match the Basic credentials", basic=True)
        _check_secret(ctx, client_id, secret, basic=True)
        return AuthenticatedClient(settings.client_id, "confidential", "client_secret_basic")
    if "client_secret" in form:
        if form_client_id is None:
            raise _invalid_client("client_id is required with client_secret")
        _check_secret(ctx, form_client_id, form["client_secret"], basic=False)
        return AuthenticatedClient(settings.client_id, "confidential", "client_secret_post")
    if methods:
        if form.get("client_assertion_type") != JWT_BEARER_ASSERTION or "client_assertion" not in form:
            raise _invalid_client(f"client_assertion_type must be {JWT_BEARER_ASSERTION}")
        if form_client_id is not None and form_client_id != settings.jwt_client_id:
            raise _invalid_client("client_id does not match the client assertion")
        _verify_assertion(ctx, form["client_assertion"], endpoint_url)
        return AuthenticatedClient(settings.jwt_client_id, "jwt", "private_key_jwt")
    if form_client_id is None:
        raise _invalid_client("client authentication required")
    if form_client_id == settings.public_client_id:
        return AuthenticatedClient(settings.public_client_id, "public", "none")
    if form_client_id in (settings.client_id, settings.jwt_client_id):
        raise _invalid_client("this client must authenticate")
    raise _invalid_client("unknown client")
