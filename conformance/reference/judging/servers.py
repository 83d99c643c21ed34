"""The judging AS and RS: the reference server's parts, behaving per scenario and recording every request.

Client conformance runs a client's command against two servers the suite plays itself, on two loopback origins
(so each server's nonce is right only where it came from). They are built from the reference server: its token
issuer (TokenIssuer), its proof verification (verify_proof, every §4.3 check, no defect) and its replay cache.
What they add is behaviour the scenario chooses (conformance/reference/judging/scenarios.py: which server demands
nonces and how, how a challenge is written, what token_type says, which algorithms are advertised, the clock) and
a record of every request with the answer it got, which conformance/judge/client_checks.py judges afterwards.

A proof the servers refuse is refused as a strict server would (invalid_dpop_proof): a client that sends one
does not get further, and the checks it never reached are skipped, never passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.jose import b64url_encode
from conformance.reference.clients import ClientAuthError, basic_credentials
from conformance.reference.judging.scenarios import SCENARIOS, Scenario
from conformance.reference.nonces import NonceVerdict
from conformance.reference.replay import ReplayCache
from conformance.reference.settings import ServerSettings
from conformance.reference.tokens import BoundedStore, TokenError, TokenIssuer
from conformance.reference.verify import USE_NONCE, ProofError, VerifiedProof, verify_proof

__all__ = ["PUBLIC_CLIENT_ID", "Bench", "Recorded", "RecordedAnswer", "nqchar_nonce"]

PUBLIC_CLIENT_ID = "dpop-public-client"
_TOKEN_TTL = 300
#: what the judging servers verify: every asymmetric algorithm the reference server can (not only the advertised)
_ACCEPTED_ALGS = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")
_IAT_WINDOW = 60
#: every character NQCHAR allows but letters and digits (%x21 / %x23-5B / %x5D-7E: no quote, no backslash)
_NQCHAR_PUNCTUATION = "".join(c for c in string.punctuation if c not in '"\\')


def nqchar_nonce() -> str:
    """A nonce with every NQCHAR punctuation character in it, around random letters (RFC 9449 §8.1)."""
    return secrets.token_hex(4) + _NQCHAR_PUNCTUATION + secrets.token_hex(4)


@dataclass(frozen=True)
class RecordedAnswer:
    """What a judging server answered."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Recorded:
    """One request a judging server received (the same fields as the judge's ReceivedRequest)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    received_at: float
    server: str
    scenario: str
    answer: RecordedAnswer | None


class _Nonces:
    """One server's nonce policy in a scenario (NONCE_MODES)."""

    def __init__(self, mode: str, prefix: str, nqchar: bool) -> None:
        self.mode, self.prefix, self.nqchar = mode, prefix, nqchar
        self.current: str | None = None

    def _new(self) -> str:
        return nqchar_nonce() if self.nqchar else f"{self.prefix}-{secrets.token_urlsafe(12)}"

    def check(self, value: str | None) -> NonceVerdict:
        """The verdict on a proof's nonce claim (verify_proof's nonce_check)."""
        if value is None or value == "":
            return NonceVerdict.MISSING
        if self.mode in ("forever", "same-again") or value != self.current:
            return NonceVerdict.INVALID
        return NonceVerdict.OK

    def challenge(self, sent: object) -> str:
        """The nonce a use_dpop_nonce challenge carries."""
        if self.mode == "forever" or self.current is None:
            self.current = self._new()
        if self.mode == "same-again" and isinstance(sent, str):
            self.current = sent  # the bug a client must survive: "use this nonce", naming the one it just sent
        return self.current

    def on_success(self) -> str | None:
        """The new nonce a 2xx answer carries (mode rotate), the old one refused from then on."""
        if self.mode != "rotate":
            return None
        self.current = self._new()
        return self.current


@dataclass
class _Code:
    redirect_uri: str
    challenge: str
    dpop_jkt: str | None
    scope: str


@dataclass
class Bench:
    """The two judging servers' shared state: the scenario, keys, stores, and the record of requests.

    One Bench serves one run of a command at a time; `reset` switches it to the next scenario (new nonces, new
    stores, an empty record) between runs.
    """

    client_id: str = "dpop-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    scope: str = "read"
    as_url: str = ""
    rs_url: str = ""
    scenario: Scenario = SCENARIOS[0]
    records: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.reset(self.scenario)

    def reset(self, scenario: Scenario) -> None:
        """Serve `scenario` from the next request on, with fresh nonces, tokens and stores and an empty record."""
        with self._lock:
            self.scenario = scenario
            self.records = []
            self.issuer = TokenIssuer(self.as_url or "http://127.0.0.1", _TOKEN_TTL, clock=self.now)
            self.nonces = {
                "AS": _Nonces(scenario.as_nonce, "as", scenario.nqchar_nonces),
                "RS": _Nonces(scenario.rs_nonce, "rs", scenario.nqchar_nonces),
            }
            window = _IAT_WINDOW + abs(scenario.clock_offset)
            # the clock-offset scenario measures which clock the client follows, so either is accepted; likewise
            # every asymmetric alg is accepted whatever the metadata advertised (§5.1 binds no client to it, so
            # uncommon-alg records the client's choice as info instead of ending its run)
            self.settings = ServerSettings(
                signing_algs=_ACCEPTED_ALGS, iat_past=window, iat_future=window, client_secret=self.client_secret
            )
            self.replay = ReplayCache(10_000, 2 * window + 5)
            self.codes: BoundedStore[_Code] = BoundedStore(60, 1000)
            self.refresh_tokens: dict[str, tuple[str, str | None]] = {}  # token → (client id, jkt or None)

    def now(self) -> float:
        """The servers' clock: the real one plus the scenario's offset."""
        return time.time() + self.scenario.clock_offset

    @property
    def token_endpoint(self) -> str:
        """The token endpoint's URL."""
        return self.as_url + "/token"

    @property
    def authorization_endpoint(self) -> str:
        """The authorization endpoint's URL."""
        return self.as_url + "/authorize"

    @property
    def resource_url(self) -> str:
        """The resource's URL as handed to the client (with the scenario's query, if any)."""
        query = self.scenario.resource_query
        return self.rs_url + "/resource" + (f"?{query}" if query else "")

    def taken(self) -> list[Recorded]:
        """The requests recorded so far in this scenario."""
        with self._lock:
            return list(self.records)

    # The two apps ------------------------------------------------------------------------------------------------

    def as_app(self, base_url: str) -> Starlette:
        """The authorization server at `base_url`: metadata, authorize (no login), token."""
        self.as_url = base_url.rstrip("/")
        self.issuer.issuer = self.as_url
        routes = [
            Route("/.well-known/oauth-authorization-server", self._recorded("AS", self._metadata), methods=["GET"]),
            Route("/authorize", self._recorded("AS", self._authorize), methods=["GET"]),
            Route("/token", self._recorded("AS", self._token), methods=["POST"]),
        ]
        return Starlette(routes=routes)

    def rs_app(self, base_url: str) -> Starlette:
        """The protected resource at `base_url` + /resource."""
        self.rs_url = base_url.rstrip("/")
        return Starlette(routes=[Route("/resource", self._recorded("RS", self._resource), methods=["GET", "POST"])])

    def _recorded(
        self, server: str, handler: Callable[[Request, bytes], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint `handler` serves, recording the request and its answer (in the order they arrive)."""

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            received_at = time.time()
            response = await handler(request, body)
            response.headers["Date"] = formatdate(self.now(), usegmt=True)
            raw_path = request.scope.get("raw_path") or request.url.path.encode()
            query = request.scope.get("query_string", b"")
            base = self.as_url if server == "AS" else self.rs_url
            url = base + raw_path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
            headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
            answer = RecordedAnswer(
                response.status_code,
                tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers),
                bytes(response.body),
            )
            with self._lock:
                self.records.append(
                    Recorded(request.method, url, headers, body, received_at, server, self.scenario.id, answer)
                )
            return response

        return endpoint

    # AS ----------------------------------------------------------------------------------------------------------

    async def _metadata(self, request: Request, body: bytes) -> Response:
        document = {
            "issuer": self.as_url,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": list(self.scenario.algs),
        }
        return JSONResponse(document)

    async def _authorize(self, request: Request, body: bytes) -> Response:
        """Approves at once (no login): a code for the public client, bound to dpop_jkt when given (§10)."""
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        host = urlsplit(redirect_uri).hostname or ""
        if (
            q.get("client_id") != PUBLIC_CLIENT_ID
            or not redirect_uri.startswith("http://")
            or host not in ("127.0.0.1", "localhost", "[::1]", "::1")
        ):
            return _error("invalid_request", "unknown client_id, or a redirect_uri that is not loopback http")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return _error("invalid_request", "response_type code with an S256 code_challenge is required")
        code = self.codes.put(_Code(redirect_uri, q["code_challenge"], q.get("dpop_jkt"), q.get("scope") or self.scope))
        reply = {"code": code, "iss": self.as_url, **({"state": q["state"]} if "state" in q else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(status_code=302, headers={"Location": redirect_uri + separator + urlencode(reply)})

    def _client(self, request: Request, form: dict[str, str]) -> tuple[str, bool] | Response:
        """(client id, confidential?) of a token request, or the error answer."""
        lines = request.headers.getlist("authorization")
        if lines:
            # RFC 6749 §2.3.1: id and secret are each form-urlencoded before Base64 (the reference server's decoding)
            try:
                credentials = basic_credentials(lines)
            except ClientAuthError:
                credentials = None
            client_id, secret = credentials or ("", "")
            if credentials is not None and hmac.compare_digest(
                f"{client_id}:{secret}".encode(), f"{self.client_id}:{self.client_secret}".encode()
            ):
                return self.client_id, True
            return _error("invalid_client", "client authentication failed", 401)
        if form.get("client_id") == PUBLIC_CLIENT_ID:
            return PUBLIC_CLIENT_ID, False
        return _error("invalid_client", "client authentication is required", 401)

    def _verify(self, request: Request, server: str, token: str | None) -> VerifiedProof | Response:
        base = self.as_url if server == "AS" else self.rs_url
        raw_path = (request.scope.get("raw_path") or b"").decode("latin-1") or request.url.path
        query = request.scope.get("query_string", b"").decode("latin-1")
        nonces = self.nonces[server]
        try:
            return verify_proof(
                request.headers.getlist("dpop"),
                method=request.method,
                url=base + raw_path + (f"?{query}" if query else ""),
                settings=self.settings,
                nonce_check=None if nonces.mode == "none" else nonces.check,
                access_token=token,
                replay=self.replay,
                now=self.now(),
            )
        except ProofError as exc:
            if exc.error != USE_NONCE:
                return self._refusal(server, "invalid_dpop_proof", exc.description)
            sent = _claims_nonce(request.headers.getlist("dpop"))
            return self._refusal(server, USE_NONCE, exc.description, nonce=nonces.challenge(sent))

    def _refusal(self, server: str, error: str, description: str, *, nonce: str | None = None) -> Response:
        headers = {"DPoP-Nonce": nonce} if nonce else {}
        if server == "AS":
            return _error(error, description, 400, headers)
        return self._challenge(error, description, headers)

    def _challenge(self, error: str, description: str, headers: dict[str, str]) -> Response:
        """A 401 from the resource, its DPoP challenge written as the scenario says."""
        style = self.scenario.challenge
        algs = " ".join(alg for alg in self.scenario.algs if alg != "RS256") or " ".join(self.scenario.algs)
        params = f'error="{error}", error_description="{description}", algs="{algs}"'
        if style == "unquoted":
            params = f'error={error}, algs="{algs}"'
        challenges = {
            "standard": [f"DPoP {params}"],
            "lowercase": [f"dpop {params}"],
            "unquoted": [f"DPoP {params}"],
            "second": [f'Bearer realm="judging", DPoP {params}'],
            "split": ['Bearer realm="judging"', f"DPoP {params}"],
        }[style if error == USE_NONCE else "standard"]
        response = JSONResponse({"error": error}, status_code=401, headers={"Cache-Control": "no-store", **headers})
        for challenge in challenges:
            response.headers.append("WWW-Authenticate", challenge)
        return response

    async def _token(self, request: Request, body: bytes) -> Response:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client = self._client(request, form)
        if isinstance(client, Response):
            return client
        client_id, confidential = client
        if not request.headers.getlist("dpop"):
            return _error("invalid_dpop_proof", "DPoP proof required")
        proof = self._verify(request, "AS", None)
        if isinstance(proof, Response):
            return proof
        grant = form.get("grant_type")
        scope = self.scope
        if grant == "client_credentials" and confidential:
            pass
        elif grant == "authorization_code" and not confidential:
            code = self.codes.pop(form.get("code", ""))
            verifier = form.get("code_verifier", "")
            computed = b64url_encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if code is None or code.redirect_uri != form.get("redirect_uri") or computed != code.challenge:
                return _error("invalid_grant", "authorization code is invalid, used, or its PKCE check failed")
            if code.dpop_jkt is not None and code.dpop_jkt != proof.jkt:
                return _error("invalid_grant", "DPoP proof key does not match dpop_jkt")
            scope = code.scope
        elif grant == "refresh_token":
            held = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if held is None or held[0] != client_id:
                return _error("invalid_grant", "refresh token is invalid or used")
            if not confidential and held[1] != proof.jkt:  # §5: a public client's refresh token is bound
                return _error("invalid_grant", "refresh token is bound to another DPoP key")
        else:
            return _error("unauthorized_client", f"grant_type {grant!r} is not allowed for this client")
        bound = self.scenario.token_type.lower() == "dpop"
        token, _ = self.issuer.issue(sub=client_id, client_id=client_id, scope=scope, jkt=proof.jkt if bound else None)
        answer: dict[str, object] = {
            "access_token": token,
            "token_type": self.scenario.token_type,
            "expires_in": _TOKEN_TTL,
            "scope": scope,
        }
        if self.scenario.refresh:
            refresh = secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = (client_id, proof.jkt)
            answer["refresh_token"] = refresh
        headers = {"Cache-Control": "no-store"}
        fresh = self.nonces["AS"].on_success()
        if fresh:
            headers["DPoP-Nonce"] = fresh
        return JSONResponse(answer, headers=headers)

    # RS ----------------------------------------------------------------------------------------------------------

    async def _resource(self, request: Request, body: bytes) -> Response:
        lines = request.headers.getlist("authorization")
        if len(lines) != 1:
            return self._challenge("invalid_request", "one Authorization header is required", {})
        scheme, _, token = lines[0].strip().partition(" ")
        token = token.strip()
        try:
            claims = self.issuer.verify(token)
        except TokenError as exc:
            return self._challenge("invalid_token", str(exc), {})
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if scheme.lower() == "bearer":
            if jkt is not None:  # §7.2: a bound token is refused as a bearer token
                return self._challenge("invalid_token", "DPoP-bound token presented as a bearer token", {})
            return self._granted(request, body)
        if scheme.lower() != "dpop":
            return self._challenge("invalid_request", "unknown authentication scheme", {})
        if not request.headers.getlist("dpop"):
            return self._challenge("invalid_dpop_proof", "DPoP proof required", {})
        proof = self._verify(request, "RS", token)
        if isinstance(proof, Response):
            return proof
        if jkt is not None and proof.jkt != jkt:
            return self._challenge("invalid_token", "Invalid DPoP key binding", {})
        return self._granted(request, body)

    def _granted(self, request: Request, body: bytes) -> Response:
        headers = {"Cache-Control": "no-store"}
        fresh = self.nonces["RS"].on_success()
        if fresh:
            headers["DPoP-Nonce"] = fresh
        return JSONResponse({"resource": "protected", "method": request.method, "received": len(body)}, headers=headers)


def _claims_nonce(values: list[str]) -> object:
    """The nonce claim of the first proof, read without checking anything (to name it in a challenge)."""
    try:
        payload = values[0].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("nonce")
    except (IndexError, ValueError, AttributeError):
        return None


def _error(error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
