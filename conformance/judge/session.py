"""The run's shared state, as cases see it: target, DPoP client, keys, endpoints and a bound token.

One `DPoPSession` exists per pytest session (per xdist worker). Cases ask it for what they need; when a
prerequisite cannot be had (no resource server configured, no token obtainable) it raises `skip` or
`CouldNotJudge`, so the case ends `skipped` or `error`, never `failed`.

Cases may use it from several threads at once (conformance/run/scheduler.py): what it fetches once (metadata,
the bound tokens) is fetched under a lock, and a grant that can be used only once at a time (a login, a
refresh token that rotates) is requested by one thread at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.client.evidence import Exchange, Redactor
from conformance.client.flow import (
    AuthorizationRequest,
    ClientAuth,
    DPoPClient,
    FlowError,
    ProofMutation,
    Sent,
    TokenSet,
)
from conformance.client.keys import DPoPKey, generate_key
from conformance.client.origins import foreign, foreign_endpoints, issuer_mismatch
from conformance.client.proof import ProofDraft
from conformance.client.target import PublicClient, Target
from conformance.client.transport import tls_verification
from conformance.jose import peek_claims
from conformance.judge.answers import dpop_error
from conformance.judge.checks import prerequisite_failed, refused_valid, where
from conformance.judge.setup_problems import setup_problem
from conformance.judge.verdicts import CouldNotJudge

__all__ = ["BoundToken", "DPoPSession", "TokenView", "flow_failed"]

# Token errors that say the target file is wrong rather than the server's DPoP handling.
CONFIGURATION_ERRORS = {
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "unsupported_grant_type",
    "invalid_grant",
    "access_denied",
}


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


class DPoPSession:
    """What every case shares within one run."""

    def __init__(self, target: Target, *, redactor: Redactor | None = None) -> None:
        self.target = target
        self.redactor = redactor or Redactor()
        for value, label in target.secrets():
            self.redactor.add(value, label)
        self.client = DPoPClient(
            timeout=target.timeout, redactor=self.redactor, verify=tls_verification(target.ca_file, target.insecure)
        )
        self.key = generate_key(target.dpop_alg)
        self._metadata: dict[str, Any] | None = None
        self._metadata_error: str | None = None
        self._metadata_exchanges: list[Exchange] = []
        self._issuer_mismatch: str | None = None
        self._bound: BoundToken | None = None
        self._bound_error: CouldNotJudge | None = None
        self._bound_to_keys: dict[str, BoundToken] = {}  # thumbprint -> a token bound to that (other) key
        self._refresh_token = target.client.refresh_token if target.client else None
        self._auth: ClientAuth | None = None
        # where (actor, and token) a control just succeeded, with the number of requests sent by then
        self._vouched: dict[tuple[int, str, str], tuple[int, Sent]] = {}  # by thread (Transport.mark)
        # (actor, access token or "") -> the last valid requests the controls had accepted: (when, the request)
        self._accepted: dict[tuple[str, str], list[tuple[float, Sent]]] = {}
        # Locks, each held briefly or by the one thread that fetches what the others then share: the records
        # above; the metadata; the session key's token; another key's token (per thumbprint)
        self._lock = threading.RLock()
        self._metadata_lock = threading.Lock()
        self._bound_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        # a login command or a rotating refresh token serves one token request at a time
        self._grant_lock = threading.RLock()

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    # --- what the target has ---------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any] | None:
        """The AS metadata when the target names an issuer (fetched once), else None."""
        issuer = self.target.authorization_server.issuer if self.target.authorization_server else None
        if issuer and self._metadata is None and self._metadata_error is None:
            with self._metadata_lock:
                if self._metadata is None and self._metadata_error is None:
                    self._fetch_metadata(issuer)
        return self._metadata

    def _fetch_metadata(self, issuer: str) -> None:
        try:
            metadata = self.client.discover(issuer)
        except FlowError as exc:
            self._metadata_error = str(exc)
            self._metadata_exchanges = exc.exchanges
            return
        # RFC 8414 §3.3: the issuer in the metadata must be identical to the one it was fetched for, or an
        # attacker's metadata could name endpoints that collect the client's credentials
        self._issuer_mismatch = issuer_mismatch(issuer, metadata)
        if self._issuer_mismatch:
            self._metadata_error = self._issuer_mismatch
            return
        self._metadata = metadata

    @property
    def issuer_mismatch(self) -> str | None:
        """Why the metadata was refused for naming another issuer (RFC 8414 §3.3), if it was."""
        _ = self.metadata
        return self._issuer_mismatch

    @property
    def metadata_error(self) -> str | None:
        """Why the metadata could not be read, if it could not."""
        return self._metadata_error

    @property
    def metadata_exchanges(self) -> list[Exchange]:
        """The metadata requests that failed, as evidence."""
        return self._metadata_exchanges

    def metadata_exchange(self) -> Exchange:
        """A fresh metadata request (for evidence in a case that judges the metadata)."""
        issuer = self.target.authorization_server.issuer if self.target.authorization_server else None
        assert issuer, "metadata_exchange() needs an issuer"
        parts = urlsplit(issuer)
        url = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path.rstrip('/')}"
        return self.client.exchange("authorization server metadata", "GET", url, [("Accept", "application/json")])

    def _endpoint(self, name: str) -> str | None:
        server = self.target.authorization_server
        configured = getattr(server, name, None) if server else None
        if configured:
            return str(configured)
        discovered = (self.metadata or {}).get(name)
        if not isinstance(discovered, str):
            return None
        if self.foreign_origin(discovered):
            return None  # credentials go only where the target file said (see foreign_endpoints)
        return discovered

    def foreign_origin(self, url: str) -> bool:
        """True for a URL on another origin than the issuer's and than those the target file allows."""
        server = self.target.authorization_server
        return bool(server and server.issuer and foreign(url, server.issuer, server.allowed_origins))

    def foreign_endpoints(self) -> dict[str, str]:
        """The discovered endpoints left unused: on an origin the target file did not allow, and not configured."""
        server = self.target.authorization_server
        if server is None or not server.issuer or self.metadata is None:
            return {}
        found = foreign_endpoints(self.metadata, server.issuer, server.allowed_origins)
        configured = {"pushed_authorization_request_endpoint": "par_endpoint"}
        return {name: url for name, url in found.items() if not getattr(server, configured.get(name, name), None)}

    def endpoint_summary(self) -> dict[str, str | None]:
        """The endpoints in use, configured or discovered (None where there is none), for results.json."""
        rs = self.target.resource_server
        return {
            "token_endpoint": self._endpoint("token_endpoint"),
            "resource_url": rs.url if rs else None,
        }

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL; CouldNotJudge when neither configured nor discoverable."""
        url = self._endpoint("token_endpoint")
        if not url:
            raise CouldNotJudge(
                "no token endpoint: the target file gives none and discovery did not yield one"
                + (f" ({self._metadata_error})" if self._metadata_error else ""),
                exchanges=self._metadata_exchanges,
                cause="no token endpoint: the target file gives none and discovery did not yield one",
                fix="give [authorization_server] token_endpoint in the target file, or an issuer whose metadata "
                "lists it",
            )
        return url

    @property
    def authorization_endpoint(self) -> str:
        """The authorization endpoint URL (for authorization_code)."""
        url = self._endpoint("authorization_endpoint")
        if not url:
            raise CouldNotJudge(
                "no authorization endpoint configured or discoverable",
                cause="no authorization endpoint: the target file gives none and discovery did not yield one",
                fix="give [authorization_server] authorization_endpoint in the target file (the authorization_code "
                "grant and [public_client] log in there)",
            )
        return url

    @property
    def introspection_endpoint(self) -> str | None:
        """The introspection endpoint URL, if the target has one."""
        return self._endpoint("introspection_endpoint")

    @property
    def par_endpoint(self) -> str | None:
        """The pushed authorization request endpoint, configured or discovered, if any."""
        return self._endpoint("par_endpoint") or self._endpoint("pushed_authorization_request_endpoint")

    # --- the public client -------------------------------------------------------------------------
    def require_public_client(self) -> PublicClient:
        """The [public_client], or skip the case when the target has none."""
        self.require_authorization_server()
        if self.target.public_client is None:
            pytest.skip("the target file has no [public_client]: public-client cases do not apply")
        return self.target.public_client

    @property
    def public_auth(self) -> ClientAuth:
        """Client authentication of the public client: none (client_id only)."""
        return ClientAuth(self.require_public_client().id, "none")

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
                    self.authorization_endpoint,
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

    def public_token(self, code: str, verifier: str, key: DPoPKey | None, *, label: str, **kwargs: Any) -> Sent:
        """Redeem a public client's code with a proof from `key` (None: no proof)."""
        pc = self.require_public_client()
        grant = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pc.redirect_uri,
            "code_verifier": verifier,
        }
        return self.client.token_request(self.token_endpoint, grant, self.public_auth, key, label=label, **kwargs)

    def public_tokens(self, key: DPoPKey) -> TokenSet:
        """Log the public client in and redeem the code with `key`: its tokens, or CouldNotJudge."""
        code, verifier = self.public_login()
        return self.tokens_or_error(self.public_token(code, verifier, key, label="public client: code redemption"))

    def public_refresh(self, refresh_token: str, key: DPoPKey | None, *, label: str) -> Sent:
        """A refresh_token grant for the public client, with a proof from `key` (None: no proof)."""
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.client.token_request(self.token_endpoint, grant, self.public_auth, key, label=label)

    def require_resource(self) -> tuple[str, str, str | None]:
        """(url, method, body) of the resource, or skip the case when the target has none."""
        rs = self.target.resource_server
        if rs is None:
            pytest.skip("the target file has no [resource_server]: resource-server cases do not apply")
        return rs.url, rs.method, rs.body

    # --- token requests ----------------------------------------------------------------------------
    @property
    def client_auth(self) -> ClientAuth:
        """How the configured client authenticates (its key was parsed when the target file loaded)."""
        if self._auth is None:
            client = self.target.client
            assert client is not None
            key = client.assertion_key if client.auth_method == "private_key_jwt" else None
            self._auth = ClientAuth(client.id, client.auth_method, client.secret, key)
        return self._auth

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
                    self.authorization_endpoint,
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

    def require_authorization_server(self) -> None:
        """Skip the case when the target has no authorization server (an RS-only target)."""
        if self.target.authorization_server is None or self.target.client is None:
            pytest.skip("the target file has no [authorization_server]: authorization-server cases do not apply")

    def request_token(
        self,
        key: DPoPKey | None = None,
        *,
        without_proof: bool = False,
        mutate: ProofMutation | None = None,
        proofs: Callable[[ProofDraft], list[str]] | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        use_known_nonce: bool = True,
        retry_on_nonce: bool = True,
        label: str = "token request",
    ) -> Sent:
        """One token request with the configured client and grant, and a proof from `key`."""
        self.require_authorization_server()
        key = key or self.key
        client = self.target.client
        # a refresh token that rotates serves one request at a time, and so does a login command
        once = client is not None and (
            client.grant_type == "refresh_token"
            or (client.grant_type == "authorization_code" and client.login != "auto")
        )
        with self._grant_lock if once else contextlib.nullcontext():
            sent = self.client.token_request(
                self.token_endpoint,
                self.grant(key),
                self.client_auth,
                None if without_proof else key,
                mutate=mutate,
                proofs=proofs,
                extra_headers=extra_headers,
                label=label,
                retry_on_nonce=retry_on_nonce,
                use_known_nonce=use_known_nonce,
            )
            self._note_refresh_rotation(sent)
        return sent

    def token_control(self, when: str) -> Sent:
        """A valid token request that must succeed; CouldNotJudge when it does not (see `control`)."""
        return self.controlled(("AS", ""), when, self._token_control)

    def _token_control(self, when: str) -> Sent:
        sent = self.request_token(label=f"control: valid token request {when}")
        if not (sent.final.status == 200 and isinstance(sent.final.json_object().get("access_token"), str)):
            raise prerequisite_failed(
                f"the control token request {when} the altered one",
                sent,
                consequence=", so a refusal of the altered request proves nothing",
            )
        self._remember_accepted(("AS", ""), sent)
        return sent

    #: accepted controls kept per endpoint, one per second at most, for the cases that replay an older proof
    _ACCEPTED_KEPT = 32

    def _remember_accepted(self, where: tuple[str, str], sent: Sent) -> None:
        with self._lock:
            kept = self._accepted.setdefault(where, [])
            now = time.monotonic()
            if kept and now - kept[-1][0] < 1.0:
                return  # one a second: 32 entries span half a minute or more
            kept.append((now, sent))
            del kept[: -self._ACCEPTED_KEPT]

    def accepted_since(
        self, actor: str, token: str = "", *, at_least: float, at_most: float
    ) -> tuple[float, Sent] | None:
        """A valid request a control had accepted between `at_least` and `at_most` seconds ago, the youngest,
        with its age in seconds.

        The replay cases send its proof again: an old proof costs them no wait. `token` is the access token
        the request carried (its proof's ath hashes it); "" for the token endpoint. Each is handed out once:
        a cache that forgets stores a replayed proof again, and the next case's replay of it would then be
        refused for the suite's own replay, not for the server's memory (cases that ran close together, as
        concurrent ones do, would otherwise find the same youngest control).
        """
        now = time.monotonic()
        with self._lock:
            kept = self._accepted.get((actor, token), [])
            fitting = [i for i, (at, _) in enumerate(kept) if at_least <= now - at <= at_most]
            if not fitting:
                return None
            at, sent = kept.pop(fitting[-1])
        return now - at, sent

    def accepted_age(self, actor: str, token: str = "") -> float | None:
        """Seconds since a control last had a valid request accepted there (None: none so far)."""
        with self._lock:
            kept = self._accepted.get((actor, token))
            return time.monotonic() - kept[-1][0] if kept else None

    def controlled(self, where: tuple[str, str], when: str, send: Callable[[str], Sent]) -> Sent:
        """A control that must succeed at `where`, sent by `send(when)`, unless the last request was one.

        The control that closed the previous negative case is the valid request just before this one's
        altered request when nothing was sent since: sending another proves nothing more, and the
        controls were a third of a run's requests.
        """
        transport = self.client.transport
        # per thread: a case running concurrently reuses the control its own thread sent last, when that
        # thread sent nothing since (the others' requests are other cases', and none of them changes state)
        thread, sent_so_far = transport.mark()
        with self._lock:
            vouched = self._vouched.get((thread, *where))
        if when == "before" and vouched is not None and vouched[0] == sent_so_far:
            return vouched[1]
        sent = send(when)
        with self._lock:
            self._vouched[(thread, *where)] = (transport.mark()[1], sent)
        return sent

    def _note_refresh_rotation(self, sent: Sent) -> None:
        new = sent.final.json_object().get("refresh_token") if sent.final.ok else None
        if isinstance(new, str) and new:
            self.redactor.add(new, "refresh_token", learned=True)
            if self.target.client and self.target.client.grant_type == "refresh_token":
                self._refresh_token = new

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
            sent = self.request_token(self.key, label="token request (for the resource-server cases)")
            tokens = self.tokens_or_error(sent)
        except CouldNotJudge as exc:
            self._bound_error = exc
            raise
        self._bound = BoundToken(tokens, self.key, time.monotonic())
        return self._bound

    def bound_token_for(self, key: DPoPKey) -> BoundToken:
        """A token the AS bound to `key` (another key than the session's): one token request per key a run.

        Skips the case when the AS refuses to bind a token to a key of that kind with invalid_dpop_proof
        (it need not support every algorithm); CouldNotJudge for any other refusal.
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
        sent = self.request_token(key, label=f"token request with a proof from another {key.alg} key")
        final = sent.final
        # the AS refuses the key itself: invalid_dpop_proof, in its body or a challenge, with whatever status
        if not final.ok and dpop_error(final, "AS") == "invalid_dpop_proof":
            pytest.skip(f"the authorization server binds no token to this {key.alg} key ({final.as_cause()})")
        bound = BoundToken(self.tokens_or_error(sent), key, time.monotonic())
        self._bound_to_keys[key.thumbprint()] = bound
        return bound

    def keep_bound(self, tokens: TokenSet) -> None:
        """Use these tokens, just issued for the session key, as the bound token (the preflight's)."""
        if self._bound is None and not (self.target.resource_server and self.target.resource_server.access_token):
            self._bound = BoundToken(tokens, self.key, time.monotonic())

    def introspect(self, token: str) -> Exchange | None:
        """Introspect `token` with the configured client, or None when the target has no endpoint."""
        endpoint = self.introspection_endpoint
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

    # --- resource requests ----------------------------------------------------------------------
    def call_resource(
        self,
        token: str,
        key: DPoPKey | None,
        *,
        label: str = "resource request",
        use_known_nonce: bool = True,
        url: str | None = None,
        **kwargs: Any,
    ) -> Sent:
        """Call the configured resource with `token` and a proof from `key` (see DPoPClient)."""
        configured, method, body = self.require_resource()
        url = url or configured
        return self.client.resource_request(
            url, token, key, method=method, body=body, label=label, use_known_nonce=use_known_nonce, **kwargs
        )

    def control(self, bound: BoundToken, when: str) -> Sent:
        """A valid resource request that must succeed; CouldNotJudge when it does not.

        Every negative group runs one before and one after its altered request, so a server that
        refuses everything (or has revoked the token meanwhile) cannot make a negative case pass. The
        one before is the previous case's closing control when nothing was sent since (`controlled`).
        """

        def send(when: str) -> Sent:
            sent = self.call_resource(bound.access_token, bound.key, label=f"control: valid request {when}")
            if not sent.final.ok:
                raise prerequisite_failed(
                    f"the control request {when} the altered one",
                    sent,
                    consequence=", so a refusal of the altered request proves nothing",
                )
            self._remember_accepted(("RS", bound.access_token), sent)
            return sent

        return self.controlled(("RS", bound.access_token), when, send)
