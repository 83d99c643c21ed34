"""Grants and tokens: the configured client's token requests, the public client's logins and codes, PAR, and
the DPoP-bound tokens the resource cases share.

A token request is the configured grant (client_credentials, a refresh token that may rotate, or an
authorization code from a login) with the client's credentials and the request's proof. A grant that can be
used only once at a time (a login command, a rotating refresh token) is requested by one thread at a time; the
session key's bound token, and another key's, are obtained once (and renewed at half their lifetime) under a
lock: cases that start together ask for them together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

from conformance.client.evidence import Exchange, Redactor
from conformance.client.flow import AuthorizationRequest, ClientAuth, DPoPClient, FlowError, Sent, TokenSet
from conformance.client.keys import DPoPKey
from conformance.client.request import Request
from conformance.client.target import PublicClient, Target
from conformance.jose import peek_claims
from conformance.judge.answers import dpop_error
from conformance.judge.checks import flow_failed, where
from conformance.judge.discovery import Discovery
from conformance.judge.verdicts import CouldNotJudge, NotApplicable

__all__ = ["BoundToken", "Grants", "TokenView"]


@dataclass(frozen=True)
class TokenView:
    """What the suite can see of an access token: its claims (JWT or introspection), or why not."""

    claims: dict[str, Any] | None
    source: str  # where the claims come from, or why there are none
    introspection: Exchange | None = None
    introspection_failed: bool = False


@dataclass
class BoundToken:
    """An access token the AS bound to `key`, and when it was obtained."""

    tokens: TokenSet
    key: DPoPKey
    obtained_at: float

    @property
    def access_token(self) -> str:
        """The access token string."""
        return self.tokens.access_token

    def fresh(self) -> bool:
        """True while less than half its lifetime (expires_in) has passed, or when it gives none."""
        lifetime = self.tokens.expires_in
        age = time.monotonic() - self.obtained_at
        return not isinstance(lifetime, int | float) or age < max(float(lifetime) / 2, 1.0)


class Grants:
    """The configured client's and the public client's grants, and the tokens they give."""

    def __init__(
        self, target: Target, client: DPoPClient, discovery: Discovery, key: DPoPKey, redactor: Redactor
    ) -> None:
        self.target = target
        self.client = client
        self.discovery = discovery
        self.key = key  # the session key: what a request without its own key is signed with
        self.redactor = redactor
        self._refresh_token = target.client.refresh_token if target.client else None
        self._auth: ClientAuth | None = None
        self._bound: BoundToken | None = None
        self._bound_error: CouldNotJudge | None = None
        self._bound_to_keys: dict[str, BoundToken] = {}  # thumbprint -> a token bound to that (other) key
        self._lock = threading.Lock()
        self._bound_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        # a login command or a rotating refresh token serves one token request at a time
        self._grant_lock = threading.RLock()

    # --- what the target file has ------------------------------------------------------------------
    def require_authorization_server(self) -> None:
        """NotApplicable when the target has no authorization server (an RS-only target)."""
        if self.target.authorization_server is None or self.target.client is None:
            raise NotApplicable(
                "the target file has no [authorization_server]: authorization-server cases do not apply"
            )

    def require_public_client(self) -> PublicClient:
        """The [public_client], or NotApplicable when the target has none."""
        self.require_authorization_server()
        if self.target.public_client is None:
            raise NotApplicable("the target file has no [public_client]: public-client cases do not apply")
        return self.target.public_client

    def require_repeatable_grant(self) -> None:
        """NotApplicable unless the configured grant can be repeated at will (client_credentials): what a case
        needs that sends the same token request twice."""
        self.require_authorization_server()
        assert self.target.client is not None
        if self.target.client.grant_type != "client_credentials":
            raise NotApplicable(
                "a replay at the token endpoint needs a grant that can be repeated (client_credentials)"
            )

    @property
    def client_auth(self) -> ClientAuth:
        """How the configured client authenticates (its key was parsed when the target file loaded)."""
        if self._auth is None:
            client = self.target.client
            assert client is not None
            key = client.assertion_key if client.auth_method == "private_key_jwt" else None
            self._auth = ClientAuth(client.id, client.auth_method, client.secret, key)
        return self._auth

    @property
    def public_auth(self) -> ClientAuth:
        """Client authentication of the public client: none (client_id only)."""
        return ClientAuth(self.require_public_client().id, "none")

    # --- the configured client -----------------------------------------------------------------------
    def grant(self, key: DPoPKey) -> dict[str, str]:
        """Fresh grant parameters for one token request with the configured grant type."""
        client = self.target.client
        assert client is not None
        if client.grant_type == "client_credentials":
            grant = {"grant_type": "client_credentials"}
        elif client.grant_type == "refresh_token":
            if not self._refresh_token:
                raise CouldNotJudge(
                    "no refresh token left to use (the last one was consumed)",
                    cause="no refresh token left to use: the server rotated the last one out and sent no new one",
                    fix="give a fresh refresh token in the target file ([client] refresh_token or refresh_token_file), "
                    "or use a grant that can be repeated (client_credentials)",
                )
            grant = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        else:
            assert client.redirect_uri is not None
            try:
                code, verifier = self.client.authorize(
                    self.discovery.authorization_endpoint,
                    client.id,
                    client.redirect_uri,
                    scope=client.scope,
                    login=client.login,
                    login_command=client.login_command,
                    command_cwd=self.target.base_dir or None,
                    extra=client.authorization_params,
                )
            except FlowError as exc:
                raise flow_failed(
                    "authorization_code login failed",
                    exc,
                    fix="check [client] redirect_uri, login and login_command in the target file, and that the "
                    "authorization endpoint logs that client in",
                ) from None
            grant = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": client.redirect_uri,
                "code_verifier": verifier,
            }
        if client.scope and client.grant_type != "authorization_code":
            grant["scope"] = client.scope
        return {**client.token_params, **grant}

    def request_token(self, request: Request) -> Sent:
        """One token request with the configured client and grant, and the request's proof (the session key's
        unless the request names another)."""
        self.require_authorization_server()
        request = request.with_key(self.key)
        assert request.key is not None
        client = self.target.client
        # a refresh token that rotates serves one request at a time, and so does a login command
        once = client is not None and (
            client.grant_type == "refresh_token"
            or (client.grant_type == "authorization_code" and client.login != "auto")
        )
        with self._grant_lock if once else contextlib.nullcontext():
            sent = self.client.token_request(
                self.discovery.token_endpoint, self.grant(request.key), self.client_auth, request
            )
            self._note_refresh_rotation(sent)
        return sent

    def _note_refresh_rotation(self, sent: Sent) -> None:
        new = sent.final.json_object().get("refresh_token") if sent.final.ok else None
        if isinstance(new, str) and new:
            self.redactor.add(new, "refresh_token", learned=True)
            if self.target.client and self.target.client.grant_type == "refresh_token":
                self._refresh_token = new

    def tokens_from(self, sent: Sent) -> TokenSet:
        """Read a successful token response, or raise FlowError saying what was wrong with it."""
        return self.client.tokens_from(sent)

    def tokens_or_error(self, sent: Sent) -> TokenSet:
        """The tokens of a successful response; CouldNotJudge naming the cause otherwise."""
        try:
            return self.client.tokens_from(sent)
        except FlowError as exc:
            raise flow_failed(
                "could not obtain an access token",
                exc,
                fix=f"make {where(sent.final)} answer a valid token request with a token response (RFC 6749 §5.1: "
                "access_token, token_type)",
            ) from None

    # --- the public client ---------------------------------------------------------------------------
    def public_login(
        self,
        *,
        dpop_jkt: str | None = None,
        request: AuthorizationRequest | None = None,
        request_uri: str | None = None,
    ) -> tuple[str, str]:
        """Log the public client in (its login mode); returns (code, code_verifier)."""
        pc = self.require_public_client()
        try:
            # a login command (a browser, a person's script) runs once at a time; an auto login has its own
            # client and cookie jar, and runs beside the others
            with self._grant_lock if pc.login != "auto" else contextlib.nullcontext():
                return self.client.authorize(
                    self.discovery.authorization_endpoint,
                    pc.id,
                    pc.redirect_uri,
                    scope=pc.scope,
                    dpop_jkt=dpop_jkt,
                    login=pc.login,
                    login_command=pc.login_command,
                    command_cwd=self.target.base_dir or None,
                    request=request,
                    request_uri=request_uri,
                )
        except FlowError as exc:
            raise flow_failed(
                "the public client's login failed",
                exc,
                fix="check [public_client] in the target file (id, redirect_uri, login, login_command) and that the "
                "authorization endpoint logs that client in",
            ) from None

    def public_token(self, code: str, verifier: str, request: Request) -> Sent:
        """Redeem a public client's code with the request's proof (the request's key; none without one)."""
        pc = self.require_public_client()
        grant = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pc.redirect_uri,
            "code_verifier": verifier,
        }
        return self.client.token_request(self.discovery.token_endpoint, grant, self.public_auth, request)

    def public_tokens(self, key: DPoPKey) -> TokenSet:
        """Log the public client in and redeem the code with `key`: its tokens, or CouldNotJudge."""
        code, verifier = self.public_login()
        request = Request(label="public client: code redemption", key=key)
        return self.tokens_or_error(self.public_token(code, verifier, request))

    def public_refresh(self, refresh_token: str, request: Request) -> Sent:
        """A refresh_token grant for the public client, with the request's proof (none without a key)."""
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.client.token_request(self.discovery.token_endpoint, grant, self.public_auth, request)

    def par_endpoint(self) -> str:
        """The PAR endpoint; NotApplicable without a [public_client] or without a PAR endpoint."""
        self.require_public_client()
        endpoint = self.discovery.par_endpoint
        if not endpoint:
            raise NotApplicable(
                "the target has no PAR endpoint (par_endpoint, or pushed_authorization_request_endpoint)"
            )
        return endpoint

    def push(self, request: Request, *, dpop_jkt: str | None = None) -> tuple[Sent, AuthorizationRequest]:
        """One pushed authorization request of the [public_client], with the request's proof (the session key's
        unless the request names another)."""
        pc = self.require_public_client()
        endpoint = self.par_endpoint()
        authorization = self.client.authorization_request(pc.id, pc.redirect_uri, scope=pc.scope, dpop_jkt=dpop_jkt)
        sent = self.client.form_post(endpoint, authorization.params, self.public_auth, request.with_key(self.key))
        return sent, authorization

    # --- bound tokens ----------------------------------------------------------------------------------
    def bound_token(self) -> BoundToken:
        """A DPoP-bound access token for the session key (obtained once, renewed when half-expired).

        For a target whose [resource_server] gives a pre-issued token, that token and its key.
        """
        bound = self._bound
        if bound is not None and bound.fresh():
            return bound
        with self._bound_lock:  # cases that start together ask for it together: one token request serves them
            return self._bound_token()

    def _bound_token(self) -> BoundToken:
        rs = self.target.resource_server
        if rs is not None and rs.access_token:
            if self._bound is None:
                assert rs.bound_key is not None  # the target file gives the token with its key (target.py)
                self._bound = BoundToken(TokenSet(rs.access_token, "DPoP"), rs.bound_key, time.monotonic())
            return self._bound
        if self._bound_error is not None:
            raise self._bound_error
        if self._bound is not None and self._bound.fresh():
            return self._bound
        try:
            sent = self.request_token(Request(label="token request (for the resource-server cases)", key=self.key))
            tokens = self.tokens_or_error(sent)
        except CouldNotJudge as exc:
            self._bound_error = exc
            raise
        self._bound = BoundToken(tokens, self.key, time.monotonic())
        return self._bound

    def bound_token_for(self, key: DPoPKey) -> BoundToken:
        """A token the AS bound to `key` (another key than the session's): one token request per key a run.

        NotApplicable when the AS refuses to bind a token to a key of that kind with invalid_dpop_proof (it need
        not support every algorithm); CouldNotJudge for any other refusal.
        """
        thumbprint = key.thumbprint()
        if thumbprint == self.key.thumbprint():
            return self.bound_token()
        known = self._bound_to_keys.get(thumbprint)
        if known is not None and known.fresh():
            return self._with_alg(known, key)
        with self._lock:
            lock = self._key_locks.setdefault(thumbprint, threading.Lock())
        with lock:
            return self._bound_token_for(key)

    @staticmethod
    def _with_alg(known: BoundToken, key: DPoPKey) -> BoundToken:
        """The token bound to `key`'s material, with `key` signing: RS256 and PS256 keys of the same material
        (client/keys.py key_for) share one token, and each proof is signed with the algorithm asked for."""
        return known if known.key.alg == key.alg else dataclasses.replace(known, key=key)

    def _bound_token_for(self, key: DPoPKey) -> BoundToken:
        known = self._bound_to_keys.get(key.thumbprint())
        if known is not None and known.fresh():
            return self._with_alg(known, key)
        sent = self.request_token(Request(label=f"token request with a proof from another {key.alg} key", key=key))
        final = sent.final
        # the AS refuses the key itself: invalid_dpop_proof, in its body or a challenge, with whatever status
        if not final.ok and dpop_error(final) == "invalid_dpop_proof":
            raise NotApplicable(f"the authorization server binds no token to this {key.alg} key ({final.as_cause()})")
        bound = BoundToken(self.tokens_or_error(sent), key, time.monotonic())
        self._bound_to_keys[key.thumbprint()] = bound
        return bound

    def keep_bound(self, tokens: TokenSet) -> None:
        """Use these tokens, just issued for the session key, as the bound token (the preflight's)."""
        if self._bound is None and not (self.target.resource_server and self.target.resource_server.access_token):
            self._bound = BoundToken(tokens, self.key, time.monotonic())

    # --- what a token says ----------------------------------------------------------------------------
    def introspect(self, token: str) -> Exchange | None:
        """Introspect `token` with the configured client, or None when the target has no endpoint."""
        endpoint = self.discovery.introspection_endpoint
        return self.client.introspect(endpoint, token, self.client_auth) if endpoint else None

    def token_view(self, token: str) -> TokenView:
        """The token's claims from the JWT itself or, for an opaque token, from introspection."""
        claims = peek_claims(token)
        if claims is not None:
            return TokenView(claims, "the JWT access token")
        introspection = self.introspect(token)
        if introspection is None:
            return TokenView(None, "the token is opaque and the target names no introspection endpoint")
        if not introspection.ok or introspection.json_object().get("active") is not True:
            return TokenView(None, f"introspection of the token failed: {introspection.summary()}", introspection, True)
        return TokenView(introspection.json_object(), "the introspection response", introspection)
