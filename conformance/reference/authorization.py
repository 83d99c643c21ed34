"""Authorization-server endpoints: metadata, JWKS, authorize (+ consent hop), token, introspection."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import replace
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from conformance.jose import b64url_encode
from conformance.reference.authz_request import (
    REQUEST_URI_PREFIX,
    OAuthError,
    resolve_scope,
    validate_authorization_request,
)
from conformance.reference.clients import AuthenticatedClient, ClientAuthError, authenticate_client
from conformance.reference.context import PAR_TTL, ServerContext
from conformance.reference.tokens import AuthorizationCode, PendingAuthorization, RefreshGrant
from conformance.reference.verify import (
    INVALID_PROOF,
    USE_NONCE,
    ProofError,
    VerifiedProof,
    unverified_jkt,
    verify_proof,
)
from conformance.reference.web import (
    NO_STORE,
    FormError,
    auth_param,
    internal_error,
    oauth_error,
    read_form,
    unsendable,
)

__all__ = ["AuthorizationServer"]

_GRANTS = ("authorization_code", "client_credentials", "refresh_token")
# Which grants each kind of client may use; public clients cannot keep a secret for client_credentials.
_CLIENT_GRANTS = {
    "confidential": frozenset(_GRANTS),
    "jwt": frozenset(_GRANTS),
    "public": frozenset({"authorization_code", "refresh_token"}),
}
_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# The resource owner behind every authorization code: login is automatic on this test server.
_USER = "conformance-user"


def _with_params(uri: str, params: dict[str, str]) -> str:
    """Append query parameters to a redirect URI that may already carry a query."""
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _user_error(description: str) -> Response:
    """An error shown to the user instead of redirecting to an untrusted redirect URI."""
    return PlainTextResponse(f"invalid_request: {description}", status_code=400, headers=NO_STORE)


def _redirect(location: str) -> Response:
    # Built by hand: RedirectResponse would re-quote the already encoded query.
    return Response(status_code=302, headers={"Location": location, **NO_STORE})


class AuthorizationServer:
    """The AS endpoints of one reference-server instance."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    # Metadata -----------------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        """RFC 8414 authorization server metadata (also served as openid-configuration)."""
        ctx = self.ctx
        algs = list(ctx.settings.signing_algs)
        if "metadata-algs" in ctx.defects:
            algs += ["none", "HS256"]
        document = {
            "issuer": ctx.base_url,
            "authorization_endpoint": ctx.endpoint("/authorize"),
            "token_endpoint": ctx.endpoint("/token"),
            "introspection_endpoint": ctx.endpoint("/introspect"),
            **({"pushed_authorization_request_endpoint": ctx.endpoint("/par")} if ctx.settings.par else {}),
            "require_pushed_authorization_requests": False,
            "jwks_uri": ctx.endpoint("/jwks"),
            "response_types_supported": ["code"],
            "grant_types_supported": list(_GRANTS),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": algs,
            "authorization_response_iss_parameter_supported": True,
        }
        return JSONResponse(document)

    async def jwks(self, request: Request) -> Response:
        """The AS public signing key."""
        return JSONResponse(self.ctx.issuer.jwks())

    # Authorization endpoint ---------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """Validate an authorization request and hop to the automatic consent step.

        With `request_uri` (RFC 9126 §4) the pushed parameters are used instead of the query's.
        """
        ctx = self.ctx
        settings = ctx.settings
        params: dict[str, str] = {}
        repeated: set[str] = set()
        for name, value in request.query_params.multi_items():
            if name in params:
                repeated.add(name)
            elif value:
                params[name] = value
        client_id = params.get("client_id")
        if "request_uri" in params or "request_uri" in repeated:
            return self._authorize_pushed(client_id, params.get("request_uri"), repeated)
        # Errors about the client or redirect URI are shown to the user, never redirected (§4.1.2.1).
        known_clients = (settings.client_id, settings.public_client_id)
        if client_id is None or "client_id" in repeated or client_id not in known_clients:
            return _user_error("unknown or missing client_id")
        try:
            pending = validate_authorization_request(params, repeated, client_id=client_id, settings=settings)
        except OAuthError as exc:
            if exc.user_facing:
                return _user_error(exc.description)
            reply = {"error": exc.error, "error_description": exc.description, "iss": ctx.base_url}
            state = params.get("state")
            if state is not None:
                reply["state"] = state
            return _redirect(_with_params(settings.redirect_uri, reply))
        return self._to_consent(pending)

    def _authorize_pushed(self, client_id: str | None, request_uri: str | None, repeated: set[str]) -> Response:
        """The authorization request refers to a pushed one: single use, same client (RFC 9126 §4)."""
        if client_id is None or {"client_id", "request_uri"} & repeated:
            return _user_error("client_id and a single request_uri are required")
        pushed = None
        if request_uri is not None and request_uri.startswith(REQUEST_URI_PREFIX):
            # Popped before the client check: a request_uri is spent by its first use, whoever uses it.
            pushed = self.ctx.pushed.pop(request_uri[len(REQUEST_URI_PREFIX) :])
        if pushed is None:
            return _user_error("request_uri is invalid, expired or already used")
        if pushed.client_id != client_id:
            return _user_error("client_id does not match the pushed authorization request")
        return self._to_consent(pushed)

    def _to_consent(self, pending: PendingAuthorization) -> Response:
        tx = self.ctx.pending.put(pending)
        return _redirect(f"{self.ctx.base_url}/authorize/consent?{urlencode({'tx': tx})}")

    async def consent(self, request: Request) -> Response:
        """The automatic consent hop: issue the code and redirect back to the client."""
        ctx = self.ctx
        tx = request.query_params.get("tx")
        pending = ctx.pending.pop(tx) if tx else None
        if pending is None:
            return _user_error("unknown or expired authorization")
        code = ctx.codes.put(
            AuthorizationCode(
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                code_challenge=pending.code_challenge,
                scope=pending.scope,
                dpop_jkt=pending.dpop_jkt,
                sub=_USER,
            )
        )
        reply = {"code": code, "iss": ctx.base_url}
        if pending.state is not None:
            reply["state"] = pending.state
        return _redirect(_with_params(pending.redirect_uri, reply))

    # Token and PAR endpoints --------------------------------------------------------------------

    def _client(self, request: Request, form: dict[str, str], path: str) -> AuthenticatedClient | Response:
        """Authenticate the client of a token or PAR request, or return the error response."""
        ctx = self.ctx
        try:
            return authenticate_client(ctx, form, request.headers.getlist("authorization"), ctx.endpoint(path))
        except ClientAuthError as exc:
            challenge = {"WWW-Authenticate": 'Basic realm="reference"'} if exc.basic else None
            return oauth_error(exc.error, exc.description, exc.status, challenge)

    def _verify(self, request: Request, proofs: list[str], *, replay: bool = True) -> VerifiedProof:
        """The §4.3 checks for a proof sent to this AS (token or PAR endpoint); raises ProofError.

        `replay` False leaves the jti cache out (the `replay-par` and `replay-refresh` defects).
        """
        ctx = self.ctx
        return verify_proof(
            proofs,
            method=request.method,
            url=ctx.request_url(request),
            settings=ctx.settings,
            nonce_check=ctx.nonce_check("as"),
            access_token=None,
            replay=ctx.replay if replay else None,
            memo=ctx.memo,
        )

    def _proof_error(self, exc: ProofError) -> Response:
        defects = self.ctx.defects
        if exc.status == 500 or unsendable(exc.description, defects):
            return internal_error()
        if exc.error != USE_NONCE and "as-proof-401" in defects:
            # as authgent does: a refused proof is a failed authentication, with a challenge naming its error
            challenge = f"DPoP {auth_param('error', exc.error)}, {auth_param('error_description', exc.description)}"
            return oauth_error(exc.error, exc.description, 401, {"WWW-Authenticate": challenge})
        if exc.error != USE_NONCE:
            return oauth_error(exc.error, exc.description, exc.status or 400)
        status = 401 if "as-nonce-status" in defects else 400
        # `nonce-named-invalid-proof`: the demand named as a refused proof, the nonce handed out all the same
        code = INVALID_PROOF if "nonce-named-invalid-proof" in defects else exc.error
        response = oauth_error(code, exc.description, status)
        nonce = self.ctx.nonces.issue("as")
        response.headers["DPoP-Nonce"] = nonce
        if "nonce-header-count" in defects:
            response.headers.append("DPoP-Nonce", nonce)
        if "nonce-no-store" in defects:
            # A cached challenge would hand the same nonce to every later client.
            del response.headers["cache-control"]
        return response

    def _bound_jkt(self, proof: VerifiedProof) -> str | None:
        if proof.jwk is None:
            return None  # only under `jwk-optional`: there is no key to bind to
        if "cnf-jkt" in self.ctx.defects:
            # The classic mistake: hashing the JWK as received instead of its RFC 7638 form.
            return b64url_encode(hashlib.sha256(json.dumps(proof.jwk).encode("utf-8")).digest())
        if "cnf-jkt-rsa-members" in self.ctx.defects and proof.jwk.get("kty") == "RSA" and "alg" in proof.jwk:
            # The RSA branch of a hand-written thumbprint that lets an optional member in.
            members = {k: proof.jwk[k] for k in ("alg", "e", "kty", "n")}
            canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode("utf-8")
            return b64url_encode(hashlib.sha256(canonical).digest())
        return proof.jkt

    def _code_grant(self, form: dict[str, str], client: AuthenticatedClient, proof: VerifiedProof) -> str:
        ctx = self.ctx
        code, redirect_uri, verifier = (form.get(n) for n in ("code", "redirect_uri", "code_verifier"))
        if code is None or redirect_uri is None or verifier is None:
            raise OAuthError("invalid_request", "code, redirect_uri and code_verifier are required")
        # Popped before any other check: a code is single-use even when redemption fails.
        grant = ctx.codes.pop(code)
        if ctx.lost():
            grant = None  # `lossy-store`: a store under concurrent load that loses what it was given
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "authorization code is invalid, expired or already used")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        if not _PKCE_VERIFIER.fullmatch(verifier):
            raise OAuthError("invalid_grant", "code_verifier is malformed")
        computed = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
        if not hmac.compare_digest(computed, grant.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        if grant.dpop_jkt is not None and not self._dpop_jkt_matches(grant.dpop_jkt, proof.jkt):
            raise OAuthError("invalid_grant", "DPoP proof key does not match dpop_jkt")
        return grant.scope

    def _dpop_jkt_matches(self, dpop_jkt: str, jkt: str | None) -> bool:
        defects = self.ctx.defects
        if "dpop-jkt" in defects:
            return True
        if "dpop-jkt-case" in defects and jkt is not None:  # the bug: a loose, case-folding prefix compare
            return dpop_jkt.lower()[:40] == jkt.lower()[:40]
        return dpop_jkt == jkt

    def _unbound_code(self, form: dict[str, str], client: AuthenticatedClient) -> Response:
        """`code-proof-optional`: a code redeemed without a DPoP header gets an unbound Bearer token."""
        ctx = self.ctx
        code, redirect_uri, verifier = (form.get(n) for n in ("code", "redirect_uri", "code_verifier"))
        grant = ctx.codes.pop(code) if code else None
        if grant is None or grant.client_id != client.client_id or redirect_uri != grant.redirect_uri or not verifier:
            return oauth_error("invalid_grant", "authorization code is invalid, expired or already used")
        if not _PKCE_VERIFIER.fullmatch(verifier):  # the defect is the missing proof only, not PKCE
            return oauth_error("invalid_grant", "code_verifier is malformed")
        computed = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
        if not hmac.compare_digest(computed, grant.code_challenge):
            return oauth_error("invalid_grant", "PKCE verification failed")
        access_token, _ = ctx.issuer.issue(sub=_USER, client_id=client.client_id, scope=grant.scope, jkt=None)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": ctx.settings.access_token_ttl}
        return JSONResponse(body, headers=dict(NO_STORE))

    def _unbound_refresh(self, form: dict[str, str], client: AuthenticatedClient) -> Response:
        """`refresh-proof-optional`: a refresh without a proof gets an unbound Bearer token."""
        try:
            scope, sub, _ = self._refresh_grant(form, client, None)
        except OAuthError as exc:
            return oauth_error(exc.error, exc.description)
        ctx = self.ctx
        access_token, _ = ctx.issuer.issue(sub=sub, client_id=client.client_id, scope=scope, jkt=None)
        refresh_token = ctx.refresh_tokens.put(RefreshGrant(client.client_id, scope, sub, None))
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ctx.settings.access_token_ttl,
            "scope": scope,
            "refresh_token": refresh_token,
        }
        return JSONResponse(body, headers=dict(NO_STORE))

    def _refresh_grant(
        self, form: dict[str, str], client: AuthenticatedClient, proof: VerifiedProof | None
    ) -> tuple[str, str, int]:
        ctx = self.ctx
        token = form.get("refresh_token")
        if token is None:
            raise OAuthError("invalid_request", "refresh_token is required")
        grant = ctx.refresh_tokens.get(token)
        if ctx.lost():
            grant = None  # `lossy-store`: a store under concurrent load that loses what it was given
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "refresh token is invalid or expired")
        # RFC 9449 §5: a public client's refresh token only works with the key it was bound to.
        if grant.jkt is not None and proof is not None and grant.jkt != proof.jkt:
            raise OAuthError("invalid_grant", "refresh token is bound to another DPoP key")
        scope = resolve_scope(form.get("scope"), grant.scope)
        # Rotation: the old token dies now; a concurrent second use of it loses this race.
        if "refresh-reuse" not in ctx.defects and ctx.refresh_tokens.pop(token) is None:
            raise OAuthError("invalid_grant", "refresh token is invalid or expired")
        return scope, grant.sub, grant.generation + 1

    async def token(self, request: Request) -> Response:
        """The token endpoint; every grant requires a valid DPoP proof."""
        ctx = self.ctx
        try:
            form = await read_form(request)
        except FormError as exc:
            return oauth_error("invalid_request", str(exc))
        client = self._client(request, form, "/token")
        if isinstance(client, Response):
            return client
        grant_type = form.get("grant_type")
        if grant_type is None:
            return oauth_error("invalid_request", "grant_type is required")
        if grant_type not in _GRANTS:
            return oauth_error("unsupported_grant_type", "grant_type is not supported")
        if grant_type not in _CLIENT_GRANTS[client.kind]:
            return oauth_error("unauthorized_client", "this client may not use this grant_type")
        proofs = request.headers.getlist("dpop")
        if not proofs and grant_type == "refresh_token" and "refresh-proof-optional" in ctx.defects:
            return self._unbound_refresh(form, client)
        if not proofs and grant_type == "authorization_code" and "code-proof-optional" in ctx.defects:
            return self._unbound_code(form, client)
        if not proofs:
            # Every client here is registered with dpop_bound_access_tokens (RFC 9449 §5.2).
            return oauth_error("invalid_request", "DPoP proof required")
        try:
            proof = self._verify(
                request, proofs, replay=not (grant_type == "refresh_token" and "replay-refresh" in ctx.defects)
            )
        except ProofError as exc:
            return self._proof_error(exc)
        generation = 0
        try:
            refresh = grant_type != "client_credentials"
            if grant_type == "client_credentials":
                scope, sub = resolve_scope(form.get("scope"), ctx.settings.scope), client.client_id
            elif grant_type == "authorization_code":
                scope, sub = self._code_grant(form, client, proof), _USER
            else:
                scope, sub, generation = self._refresh_grant(form, client, proof)
        except OAuthError as exc:
            return oauth_error(exc.error, exc.description)
        # `refresh-cnf-stale`: the refresh grant forgets to bind the new access token;
        # `refresh-unbound-after-second`: so does the second refresh of a chain, and the ones after it
        bind = not (grant_type == "refresh_token" and "refresh-cnf-stale" in ctx.defects)
        if generation >= 2 and "refresh-unbound-after-second" in ctx.defects:
            bind = False
        return self._token_response(client, proof, scope, sub, refresh=refresh, bind=bind, generation=generation)

    def _token_response(
        self,
        client: AuthenticatedClient,
        proof: VerifiedProof,
        scope: str,
        sub: str,
        *,
        refresh: bool,
        bind: bool,
        generation: int = 0,
    ) -> Response:
        ctx = self.ctx
        defects = ctx.defects
        jkt = self._bound_jkt(proof) if bind else None
        access_token, _ = ctx.issuer.issue(sub=sub, client_id=client.client_id, scope=scope, jkt=jkt)
        body: dict[str, object] = {
            "access_token": access_token,
            "token_type": "Bearer" if "token-type" in defects else "DPoP",
            "expires_in": ctx.settings.access_token_ttl,
            "scope": scope,
        }
        if refresh:
            # Only public clients' refresh tokens are key-bound (§5); confidential ones may rotate keys.
            bound = client.kind == "public" and "refresh-binding" not in defects and bind
            grant = RefreshGrant(client.client_id, scope, sub, proof.jkt if bound else None, generation)
            body["refresh_token"] = ctx.refresh_tokens.put(grant)
        headers = {"Pragma": "no-cache"} if "no-store" in defects else dict(NO_STORE)
        response = JSONResponse(body, headers=headers)
        ctx.add_fresh_nonce(response, "as")
        return response

    async def par(self, request: Request) -> Response:
        """RFC 9126 pushed authorization requests, with an optional DPoP proof (RFC 9449 §10.1)."""
        ctx = self.ctx
        defects = ctx.defects
        try:
            form = await read_form(request)
        except FormError as exc:
            return oauth_error("invalid_request", str(exc))
        client = self._client(request, form, "/par")
        if isinstance(client, Response):
            return client
        proof_jkt: str | None = None
        proofs = request.headers.getlist("dpop")
        if proofs:
            try:
                # `par-proof` trusts the proof unchecked, but still binds the key it names.
                proof_jkt = (
                    unverified_jkt(proofs)
                    if "par-proof" in defects
                    else self._verify(request, proofs, replay="replay-par" not in defects).jkt
                )
            except ProofError as exc:
                return self._proof_error(exc)
        if "request_uri" in form:
            # RFC 9126 §2.1: a pushed request must not itself refer to a pushed request.
            return oauth_error("invalid_request", "request_uri must not be pushed")
        try:
            pushed = validate_authorization_request(
                form, frozenset(), client_id=client.client_id, settings=ctx.settings
            )
        except OAuthError as exc:
            return oauth_error(exc.error, exc.description)
        if pushed.dpop_jkt is None:
            if proof_jkt is not None and "par-binding" not in defects:
                # §10.1: the proof key binds the code just as a dpop_jkt parameter would.
                pushed = replace(pushed, dpop_jkt=proof_jkt)
        elif proof_jkt is not None and pushed.dpop_jkt != proof_jkt and "par-dpop-jkt" not in defects:
            return oauth_error(INVALID_PROOF, "dpop_jkt does not match the DPoP proof key")
        handle = ctx.pushed.put(pushed)
        body = {"request_uri": REQUEST_URI_PREFIX + handle, "expires_in": PAR_TTL}
        response = JSONResponse(body, status_code=201, headers=dict(NO_STORE))
        ctx.add_fresh_nonce(response, "as")
        return response

    # Introspection ------------------------------------------------------------------------------

    async def introspect(self, request: Request) -> Response:
        """RFC 7662 introspection for the confidential and JWT clients; no DPoP needed (§6.2)."""
        ctx = self.ctx
        try:
            form = await read_form(request)
        except FormError as exc:
            return oauth_error("invalid_request", str(exc))
        try:
            client = authenticate_client(
                ctx, form, request.headers.getlist("authorization"), ctx.endpoint("/introspect")
            )
        except ClientAuthError as exc:
            challenge = {"WWW-Authenticate": 'Basic realm="reference"'} if exc.basic else None
            return oauth_error(exc.error, exc.description, exc.status, challenge)
        if client.kind == "public":
            return oauth_error("invalid_client", "public clients may not introspect", 401)
        token = form.get("token")
        if token is None:
            return oauth_error("invalid_request", "token is required")
        try:
            claims = ctx.issuer.verify(token)
        except ValueError:
            return JSONResponse({"active": False}, headers=dict(NO_STORE))
        body: dict[str, object] = {"active": True, "token_type": "DPoP"}
        for name in ("client_id", "scope", "sub", "exp", "iat"):
            body[name] = claims.get(name)
        cnf = claims.get("cnf")
        if isinstance(cnf, dict) and "introspection-cnf" not in ctx.defects:
            body["cnf"] = {"jkt": cnf.get("jkt")}
        return JSONResponse(body, headers=dict(NO_STORE))
