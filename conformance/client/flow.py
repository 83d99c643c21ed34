"""The DPoP client flow: token requests, server nonces, resource calls, authorization-code login.

`DPoPClient` plays an RFC 9449 client against the target. Each request gets a fresh proof built for
it; a `use_dpop_nonce` challenge (AS: 400 JSON error; RS: 401 `WWW-Authenticate: DPoP
error="use_dpop_nonce"`) is answered by exactly one retry carrying the `DPoP-Nonce` value and a new
`jti`. The latest nonce seen from each server, on any response, is remembered and sent next time.
Every exchange is recorded as evidence; secrets are registered with the redactor as they appear.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shlex
import ssl
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import httpx

from conformance.client.evidence import Exchange, Redactor
from conformance.client.keys import DPoPKey
from conformance.client.proof import new_proof
from conformance.client.request import Request
from conformance.client.transport import Transport, origin_of
from conformance.jose import b64url_encode, json_b64

__all__ = [
    "AuthorizationRequest",
    "ClientAuth",
    "DPoPClient",
    "FlowError",
    "Sent",
    "TokenSet",
    "demands_nonce",
    "dpop_challenge",
    "is_nonce_challenge",
    "parse_challenges",
]


class FlowError(Exception):
    """A step of the DPoP flow could not be carried out; the message says which and why."""

    def __init__(self, message: str, exchanges: Sequence[Exchange] = ()) -> None:
        super().__init__(message)
        self.exchanges = list(exchanges)


@dataclass
class Sent:
    """A request as sent, with the nonce retry if there was one: `final` is what counts."""

    exchanges: list[Exchange]

    @property
    def final(self) -> Exchange:
        """The last exchange (the retry, when there was a nonce challenge)."""
        return self.exchanges[-1]

    @property
    def challenged(self) -> bool:
        """True when the first answer was a nonce challenge and the request was sent again."""
        return len(self.exchanges) > 1


@dataclass
class TokenSet:
    """A token response of the AS."""

    access_token: str
    token_type: str
    expires_in: Any = None
    refresh_token: str | None = None
    scope: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthorizationRequest:
    """The parameters of one authorization request, with its PKCE verifier and state."""

    params: dict[str, str]
    verifier: str = field(repr=False)
    state: str


@dataclass(frozen=True)
class ClientAuth:
    """How a client authenticates at the token endpoint."""

    client_id: str
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    secret: str | None = None
    assertion_key: DPoPKey | None = None


# --- WWW-Authenticate parsing ----------------------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_challenges(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a `WWW-Authenticate` value into (scheme, params) pairs (RFC 9110 §11.6.1).

    Tolerant: parameter names are lower-cased, quoted values unescaped, stray characters skipped.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        match = _TOKEN.match(value, i)
        if not match:
            i += 1
            continue
        name, i = match.group(0), match.end()
        k = i
        while k < n and value[k] in " \t":
            k += 1
        if not challenges or k >= n or value[k] != "=":
            challenges.append((name, {}))
            continue
        k += 1
        while k < n and value[k] in " \t":
            k += 1
        if k < n and value[k] == '"':
            chars: list[str] = []
            k += 1
            while k < n and value[k] != '"':
                if value[k] == "\\" and k + 1 < n:
                    k += 1
                chars.append(value[k])
                k += 1
            param_value, i = "".join(chars), k + 1
        else:
            end = k
            while end < n and value[end] not in ", \t":
                end += 1
            param_value, i = value[k:end], end
        challenges[-1][1][name.lower()] = param_value
    return challenges


def dpop_challenge(exchange: Exchange) -> dict[str, str] | None:
    """The parameters of the `DPoP` challenge in the response, if any (scheme compared case-insensitively)."""
    for value in exchange.headers("WWW-Authenticate"):
        for scheme, params in parse_challenges(value):
            if scheme.lower() == "dpop":
                return params
    return None


def is_nonce_challenge(exchange: Exchange) -> bool:
    """True when the response asks for a server nonce: a 4xx naming use_dpop_nonce, read by content.

    The code may come in the JSON body (§8: AS 400) or in a challenge (§9: RS 401 `WWW-Authenticate: DPoP`),
    and real servers use either at either server, with either status: a status that departs from the RFC is
    judged by the challenge cases, and must not stop the flow.
    """
    if exchange.status is None or not 400 <= exchange.status < 500:
        return False
    return _names_error(exchange, "use_dpop_nonce", any_scheme=True)


def demands_nonce(exchange: Exchange, sent_nonce: str | None) -> bool:
    """True when a request whose proof carried no nonce is refused with invalid_dpop_proof and handed a nonce
    (a DPoP-Nonce header): a nonce demand under another code, as pydpop's middleware makes it. The one retry with
    that nonce is what a client would do; a refusal for another reason is refused again, and judged as such."""
    if sent_nonce is not None or exchange.status not in (400, 401) or not exchange.header("DPoP-Nonce"):
        return False
    return _names_error(exchange, "invalid_dpop_proof", any_scheme=False)


def _names_error(exchange: Exchange, code: str, *, any_scheme: bool) -> bool:
    """Whether the answer names the error `code`: in its JSON body, or in a challenge (any scheme's, or the DPoP
    scheme's only)."""
    if exchange.json_object().get("error") == code:
        return True
    return any(
        params.get("error") == code
        for value in exchange.headers("WWW-Authenticate")
        for scheme, params in parse_challenges(value)
        if any_scheme or scheme.lower() == "dpop"
    )


# --- the client -------------------------------------------------------------------------------


class DPoPClient:
    """Sends DPoP requests, handles server nonces, and records every exchange."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        redactor: Redactor | None = None,
        http: httpx.Client | None = None,
        verify: ssl.SSLContext | bool | None = None,
    ) -> None:
        self.transport = Transport(timeout=timeout, redactor=redactor, verify=verify, http=http)
        self.redactor = self.transport.redactor
        self.nonces: dict[str, str] = {}

    @property
    def log(self) -> list[Exchange]:
        """The exchanges recorded since the log was last reset (the plugin resets it for each case)."""
        return self.transport.log

    @log.setter
    def log(self, value: list[Exchange]) -> None:
        self.transport.log = value

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.transport.close()

    # --- nonces --------------------------------------------------------------------------------
    def nonce_for(self, role: str, url: str) -> str | None:
        """The latest nonce this server (role and origin) handed out, if any."""
        return self.nonces.get(f"{role} {origin_of(url)}")

    def remember_nonce(self, role: str, url: str, exchange: Exchange) -> None:
        """Keep the `DPoP-Nonce` of a response (any status) for the next request to that server."""
        value = exchange.header("DPoP-Nonce")
        if value:
            self.nonces[f"{role} {origin_of(url)}"] = value

    # --- raw exchange ----------------------------------------------------------------------------
    def exchange(
        self,
        label: str,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: str | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> Exchange:
        """Send one request exactly as given (no redirects followed) and record it (see Transport.send)."""
        return self.transport.send(label, method, url, headers, body, http=http)

    def send_with_proof(
        self,
        request: Request,
        role: str,
        method: str,
        url: str,
        *,
        proof: Callable[[str | None], str | list[str] | None],
        headers: Callable[[], list[tuple[str, str]]] | None = None,
        body: Callable[[], str | None] | None = None,
    ) -> Sent:
        """Send a request carrying proof(s) from `proof(nonce)`; on a nonce challenge retry once.

        `request.use_known_nonce` False sends the first proof without the nonce the server handed out last (for
        this request only: the remembered nonce stays for the others, which may be in flight meanwhile);
        `request.retry_on_nonce` False answers no challenge.

        `proof` returns one compact proof, several (each sent as its own header line) or None (no
        DPoP header). `headers` and `body` are called once per attempt, so per-attempt values such as
        client assertions are fresh too.
        """
        exchanges: list[Exchange] = []
        nonce = self.nonce_for(role, url) if request.use_known_nonce else None
        for attempt in (1, 2):
            proofs = proof(nonce)
            all_headers = list(headers() if headers else [])
            if isinstance(proofs, str):
                all_headers.append((request.dpop_header_name, proofs))
            elif proofs:
                all_headers += [(request.dpop_header_name, p) for p in proofs]
            suffix = " (retry with the server's nonce)" if attempt == 2 else ""
            ex = self.exchange(request.label + suffix, method, url, all_headers, body() if body else None)
            exchanges.append(ex)
            self.remember_nonce(role, url, ex)
            fresh = ex.header("DPoP-Nonce")
            if (
                attempt == 1
                and request.retry_on_nonce
                and fresh
                and (is_nonce_challenge(ex) or demands_nonce(ex, nonce))
            ):
                nonce = fresh
                continue
            break
        return Sent(exchanges)

    # --- token endpoint -------------------------------------------------------------------------
    def token_request(self, token_endpoint: str, grant: dict[str, str], auth: ClientAuth, request: Request) -> Sent:
        """POST a grant to the token endpoint, with the client's credentials and the request's proof."""
        return self.form_post(token_endpoint, grant, auth, request)

    def form_post(self, endpoint: str, form: dict[str, str], auth: ClientAuth, request: Request) -> Sent:
        """POST a form with client authentication and the request's proof to an AS endpoint (token, PAR)."""

        def proof(nonce: str | None) -> str | list[str] | None:
            key = request.key
            return request.header_values(new_proof(key, "POST", endpoint, nonce=nonce) if key else None)

        def headers() -> list[tuple[str, str]]:
            return [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
                *self.client_auth_headers(auth),
                *request.extra_headers,
            ]

        def body() -> str:
            return urlencode({**form, **self.client_auth_form(auth, endpoint)})

        return self.send_with_proof(request, "AS", "POST", endpoint, proof=proof, headers=headers, body=body)

    def tokens_from(self, sent: Sent) -> TokenSet:
        """Read a successful token response, or raise FlowError saying what was wrong with it."""
        ex = sent.final
        if ex.error:
            raise FlowError(f"the token endpoint did not answer: {ex.error}", sent.exchanges)
        data = ex.json_object()
        if ex.status != 200:
            detail = data.get("error_description") or data.get("error") or ex.response_body[:200]
            raise FlowError(f"the token request failed with HTTP {ex.status}: {detail}", sent.exchanges)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise FlowError("the token response (HTTP 200) has no access_token", sent.exchanges)
        self.redactor.add(token, "access_token", learned=True)
        refresh = data.get("refresh_token")
        if isinstance(refresh, str):
            self.redactor.add(refresh, "refresh_token", learned=True)
        for name in ("id_token",):
            value = data.get(name)
            if isinstance(value, str):
                self.redactor.add(value, name, learned=True)
        return TokenSet(
            token,
            str(data.get("token_type", "")),
            data.get("expires_in"),
            refresh if isinstance(refresh, str) else None,
            data.get("scope") if isinstance(data.get("scope"), str) else None,
            data,
        )

    def client_auth_headers(self, auth: ClientAuth) -> list[tuple[str, str]]:
        """The Authorization header of client_secret_basic (RFC 6749 §2.3.1); nothing for other methods."""
        if auth.method != "client_secret_basic":
            return []
        assert auth.secret is not None
        # both parts are form-urlencoded before base64 (RFC 6749 §2.3.1)
        pair = f"{quote(auth.client_id, safe='')}:{quote(auth.secret, safe='')}"
        encoded = base64.b64encode(pair.encode()).decode("ascii")
        self.redactor.add(encoded, "client_credentials")
        return [("Authorization", f"Basic {encoded}")]

    def client_auth_form(self, auth: ClientAuth, audience: str) -> dict[str, str]:
        """The form parameters of client_secret_post, private_key_jwt (a fresh assertion) or none."""
        if auth.method == "client_secret_post":
            return {"client_id": auth.client_id, "client_secret": auth.secret or ""}
        if auth.method == "private_key_jwt":
            assert auth.assertion_key is not None
            assertion = client_assertion(auth.client_id, audience, auth.assertion_key)
            self.redactor.add(assertion, "client_assertion")
            return {
                "client_id": auth.client_id,
                "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            }
        if auth.method == "none":
            return {"client_id": auth.client_id}
        return {}

    def introspect(self, endpoint: str, token: str, auth: ClientAuth) -> Exchange:
        """RFC 7662 introspection of `token`, authenticated as `auth` (no DPoP proof: §6.2)."""
        self.redactor.add(token, "access_token")
        headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            *self.client_auth_headers(auth),
        ]
        form = {"token": token, "token_type_hint": "access_token", **self.client_auth_form(auth, endpoint)}
        return self.exchange("token introspection", "POST", endpoint, headers, urlencode(form))

    # --- resource server ------------------------------------------------------------------------
    def resource_request(
        self, url: str, access_token: str, request: Request, *, method: str = "GET", body: str | None = None
    ) -> Sent:
        """Call the resource with `Authorization: <scheme> <token>` and the request's proof, carrying `ath`.

        An empty `request.scheme` sends no Authorization header.
        """
        self.redactor.add(access_token, "access_token")

        def proof(nonce: str | None) -> str | list[str] | None:
            key = request.key
            draft = new_proof(key, method, url, nonce=nonce, access_token=access_token) if key else None
            return request.header_values(draft)

        def headers() -> list[tuple[str, str]]:
            result = [("Accept", "application/json")]
            if request.scheme:
                result.append(("Authorization", f"{request.scheme} {access_token}"))
            if body is not None:
                result.append(("Content-Type", "application/json"))
            return result + list(request.extra_headers)

        return self.send_with_proof(
            request, "RS", method, url, proof=proof, headers=headers, body=(lambda: body) if body is not None else None
        )

    # --- discovery --------------------------------------------------------------------------------
    def discover(self, issuer: str) -> dict[str, Any]:
        """Fetch RFC 8414 metadata (falling back to OpenID discovery); FlowError when neither answers."""
        base = issuer.rstrip("/")
        parts = urlsplit(issuer)
        candidates = [
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path.rstrip('/')}",
            f"{base}/.well-known/openid-configuration",
        ]
        tried: list[Exchange] = []
        for url in candidates:
            ex = self.exchange("authorization server metadata", "GET", url, [("Accept", "application/json")])
            tried.append(ex)
            if ex.status == 200 and ex.json_object():
                return ex.json_object()
        unreachable = [ex.error for ex in tried if ex.error]
        if len(unreachable) == len(tried):
            raise FlowError(f"the issuer {issuer} did not answer its metadata requests ({unreachable[0]})", tried)
        answers = ", ".join(f"HTTP {ex.status}" for ex in tried)
        raise FlowError(f"no authorization server metadata at {' or '.join(candidates)} ({answers})", tried)

    # --- authorization code -----------------------------------------------------------------------
    def authorization_request(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        scope: str | None = None,
        dpop_jkt: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> AuthorizationRequest:
        """A fresh authorization request with PKCE (S256) and a random state."""
        verifier = b64url_encode(secrets.token_bytes(32))
        self.redactor.add(verifier, "code_verifier")
        challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
        state = b64url_encode(secrets.token_bytes(12))
        params = {
            **(extra or {}),
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
        }
        if scope:
            params["scope"] = scope
        if dpop_jkt:
            params["dpop_jkt"] = dpop_jkt
        return AuthorizationRequest(params, verifier, state)

    def authorize(
        self,
        authorization_endpoint: str,
        client_id: str,
        redirect_uri: str,
        *,
        scope: str | None = None,
        dpop_jkt: str | None = None,
        login: str = "auto",
        login_command: str | None = None,
        command_timeout: float = 120.0,
        command_cwd: str | None = None,
        extra: dict[str, str] | None = None,
        request: AuthorizationRequest | None = None,
        request_uri: str | None = None,
    ) -> tuple[str, str]:
        """Obtain an authorization code with PKCE (S256); returns (code, code_verifier).

        `auto` follows the authorization endpoint's redirects with no person until one points at the
        redirect URI, and takes the code from it without requesting it. `command` runs the user's
        command with DPOP_AUTHORIZATION_URL set and reads the final redirect URL from its stdout.
        With `request_uri` (from a pushed `request`), only client_id and request_uri are sent.
        """
        if request is None:
            request = self.authorization_request(client_id, redirect_uri, scope=scope, dpop_jkt=dpop_jkt, extra=extra)
        params = {"client_id": client_id, "request_uri": request_uri} if request_uri else request.params
        separator = "&" if urlsplit(authorization_endpoint).query else "?"
        url = f"{authorization_endpoint}{separator}{urlencode(params)}"
        final = (
            self._login_auto(url, redirect_uri)
            if login == "auto"
            else self._login_command(url, redirect_uri, login_command or "", command_timeout, command_cwd)
        )
        query = parse_qs(urlsplit(final).query)
        if "error" in query:
            raise FlowError(
                f"the authorization endpoint redirected with error={query['error'][0]}"
                + (f" ({query['error_description'][0]})" if "error_description" in query else ""),
                self.log[-1:],
            )
        if query.get("state", [None])[0] != request.state:
            raise FlowError("the redirect to the redirect_uri did not carry the state the suite sent")
        code = query.get("code", [None])[0]
        if not code:
            raise FlowError("the redirect to the redirect_uri carried no code")
        self.redactor.add(code, "authorization_code", learned=True)
        return code, request.verifier

    def _login_auto(self, url: str, redirect_uri: str, max_hops: int = 10) -> str:
        # A login of its own, with its own cookie jar: the hops may need the session cookies they set.
        with self.transport.new_http_client() as login:
            return self._follow_login(login, url, redirect_uri, max_hops)

    def _follow_login(self, login: httpx.Client, url: str, redirect_uri: str, max_hops: int) -> str:
        hops: list[Exchange] = []
        for _ in range(max_hops):
            ex = self.exchange("authorization request (auto login)", "GET", url, [("Accept", "text/html")], http=login)
            hops.append(ex)
            if ex.error:
                raise FlowError(f"the authorization endpoint did not answer: {ex.error}", hops)
            location = ex.header("Location")
            if ex.status not in (301, 302, 303, 307, 308) or not location:
                raise FlowError(
                    f'login = "auto" needs an authorization endpoint that redirects with no person; it answered '
                    f'HTTP {ex.status} instead. Use login = "command" with a headless-browser login_command',
                    hops,
                )
            url = urljoin(url, location)
            if url.split("?", 1)[0] == redirect_uri.split("?", 1)[0]:
                return url
        raise FlowError(f"no redirect to the redirect_uri after {max_hops} hops", hops)

    def _login_command(self, url: str, redirect_uri: str, command: str, timeout: float, cwd: str | None) -> str:
        env = dict(os.environ, DPOP_AUTHORIZATION_URL=url, DPOP_REDIRECT_URI=redirect_uri)
        try:
            done = subprocess.run(
                shlex.split(command), env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
            )
        except FileNotFoundError:
            raise FlowError(f"login_command not found: {shlex.split(command)[0]!r}") from None
        except subprocess.TimeoutExpired:
            raise FlowError(f"login_command did not finish within {timeout:g} s") from None
        if done.returncode != 0:
            raise FlowError(
                f"login_command exited with status {done.returncode}: "
                f"{self.redactor.redact(done.stderr.strip()[-300:])}"
            )
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if not lines or not lines[-1].startswith(redirect_uri.split("?", 1)[0]):
            raise FlowError(
                "login_command must print the final redirect URL (starting with the redirect_uri) "
                "as its last line of output"
            )
        return lines[-1]


def client_assertion(client_id: str, audience: str, key: DPoPKey) -> str:
    """A private_key_jwt client assertion (RFC 7523 §3) signed by the client's key."""
    now = int(time.time())
    header = {"alg": key.alg, "typ": "JWT"}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": b64url_encode(secrets.token_bytes(16)),
    }
    head = f"{json_b64(header)}.{json_b64(claims)}"
    return f"{head}.{b64url_encode(key.sign(head.encode('ascii')))}"
