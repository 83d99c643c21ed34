"""The protected resource (RFC 9449 §7 and §9): DPoP and Bearer schemes, challenges, RS nonces."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conformance.jose import access_token_hash, b64url_encode, decode_jws
from conformance.reference.context import ServerContext
from conformance.reference.tokens import TokenError
from conformance.reference.verify import INVALID_PROOF, USE_NONCE, ProofError, verify_proof
from conformance.reference.web import MAX_FORM_BYTES, auth_param, internal_error, unsendable

__all__ = ["ResourceServer"]

# RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token68 ]; scheme is a token.
_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([A-Za-z0-9._~+/-]+=*)")
_SCHEMES = frozenset({"bearer", "dpop"})
_MULTIPLE = "Multiple methods used to include access token"
_SPLIT_LINES = frozenset({"authorization-last-line-checked", "authorization-first-line-checked"})


def _several_methods(lines: list[str]) -> bool:
    """More than one Authorization line, or one line carrying two schemes (RFC 6750 §3.1)."""
    if len(lines) > 1:
        return True
    if not lines:
        return False
    line = lines[0]
    words = [w.lower() for w in re.split(r"[\s,]+", line) if w]
    return "," in line or sum(w in _SCHEMES for w in words) > 1


class ResourceServer:
    """The protected resource at /resource."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        # `token-cache-by-ath`: the tokens it verified, by their hash (the ath a proof of them carries)
        self.verified_tokens: dict[str, str] = {}

    # Challenges ---------------------------------------------------------------------------------

    def _dpop(self, error: str | None = None, description: str | None = None) -> str:
        params = []
        if error is not None:
            params.append(auth_param("error", error))
        if description is not None:
            params.append(auth_param("error_description", description))
        if "challenge-algs" not in self.ctx.defects:
            params.append(auth_param("algs", self.ctx.algs))
        return "DPoP " + ", ".join(params) if params else "DPoP"

    def _deny(self, status: int, challenge: str, error: str | None = None) -> Response:
        body = {"error": error} if error else {}
        return JSONResponse(
            body, status_code=status, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        )

    def _dpop_error(self, error: str, description: str, status: int = 401) -> Response:
        return self._deny(status, self._dpop(error, description), error)

    def _no_credentials(self) -> Response:
        # §7.2 / RFC 6750 §3.1: no credentials → challenge without error information.
        defects = self.ctx.defects
        status = 400 if "challenge-400" in defects else 401
        if "challenge-missing" in defects:
            return JSONResponse({}, status_code=401, headers={"Cache-Control": "no-store"})  # the bug: no challenge
        if "challenge-other-scheme" in defects:
            return self._deny(401, 'Basic realm="reference"')  # the bug: a challenge for credentials it never takes
        if "challenge-scheme" in defects:
            # A resource that takes both schemes and says so of Bearer only: legal, if unhelpful (§7.1 "can")
            return self._deny(status, "Bearer")
        error = "invalid_token" if "challenge-error" in defects else None
        return self._deny(status, f"{self._dpop(error)}, Bearer")

    def _bad_token(self, description: str) -> Response:
        """The access token itself is unusable (malformed, not ours, expired): invalid_token (§7.1)."""
        if "bad-token-no-error" in self.ctx.defects:
            # the bug: the framework's JSON body says invalid_token, the challenge (what clients read) says nothing
            return self._deny(401, self._dpop(None, description), "invalid_token")
        return self._dpop_error("invalid_token", description)

    def _bearer_error(self, description: str) -> Response:
        challenge = f'Bearer error="invalid_token", {auth_param("error_description", description)}'
        return self._deny(401, f"{challenge}, {self._dpop()}", "invalid_token")

    def _multiple_methods(self) -> Response:
        if "multiple-auth-methods" in self.ctx.defects:
            challenge = f'DPoP error="invalid_token", {auth_param("error_description", _MULTIPLE)}'
            return self._deny(401, challenge, "invalid_token")
        challenge = f'DPoP error="invalid_request", {auth_param("error_description", _MULTIPLE)}'
        return self._deny(400, challenge, "invalid_request")

    # Endpoint -----------------------------------------------------------------------------------

    def _granted(self, request: Request, claims: dict[str, Any]) -> Response:
        body = {
            "resource": "protected",
            "method": request.method,
            "client_id": claims.get("client_id"),
            "sub": claims.get("sub"),
        }
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
        self.ctx.add_fresh_nonce(response, "rs")
        return response

    def _scheme(self, scheme: str) -> str | None:
        """The canonical scheme name, or None when it is neither DPoP nor Bearer."""
        for name in ("DPoP", "Bearer"):
            if scheme == name or ("scheme-case" not in self.ctx.defects and scheme.lower() == name.lower()):
                return name
        return None

    async def _other_tokens(self, request: Request) -> list[tuple[str, str]]:
        """Access tokens sent by RFC 6750's other methods: the access_token query parameter (§2.3) and a
        form-encoded body member (§2.2), as (method, token)."""
        if "bearer-header-only" in self.ctx.defects:
            return []  # RFC 6750 §2.2 and §2.3 are MAYs: this resource reads the Authorization header only
        found = [("query", token) for token in request.query_params.getlist("access_token")]
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if request.method == "POST" and content_type == "application/x-www-form-urlencoded":
            body = await request.body()
            if len(body) <= MAX_FORM_BYTES:
                form = parse_qs(body.decode("utf-8", errors="replace"))
                found += [("body", token) for token in form.get("access_token", [])]
        return found

    async def resource(self, request: Request) -> Response:
        """GET/POST /resource."""
        lines = request.headers.getlist("authorization")
        others = await self._other_tokens(request)
        if others and "token-two-places" in self.ctx.defects:
            others = [] if lines else others  # the bug: the other methods are not looked at beside the header
        if others and (lines or len(others) > 1):
            return self._multiple_methods()  # RFC 6750 §3.1: more than one method for including an access token
        if others and not lines:
            method, token = others[0]
            # RFC 6750 §2.2/§2.3 carry Bearer tokens; `bearer-query`/`bearer-body`: the cnf is ignored there
            return self._bearer(request, token, ignore_cnf=f"bearer-{method}" in self.ctx.defects)
        proxied = False
        if not lines and "proxy-authorization" in self.ctx.defects:
            # §7.1 forbids the DPoP scheme in Proxy-Authorization; this defect reads it anyway.
            lines = request.headers.getlist("proxy-authorization")
            proxied = bool(lines)
        if len(lines) > 1 and self.ctx.defects & _SPLIT_LINES:
            return self._split_lines(request, lines)
        if _several_methods(lines):
            return self._multiple_methods()
        if not lines:
            return self._no_credentials()
        if lines[0].strip() == "DPoP" and "token-cache-by-ath" in self.ctx.defects:
            cached = self._token_by_ath(request)
            if cached is not None:  # the bug: the proof's ath names a token it verified before
                return self._dpop_request(request, cached)
        credentials = self._credentials(lines[0])
        if credentials is None:
            return self._dpop_error("invalid_request", "Malformed Authorization header", 400)
        written, token = credentials
        scheme = self._scheme(written)
        if scheme is None or (proxied and scheme != "DPoP"):
            # An unknown scheme carries no credentials this server understands.
            return self._no_credentials()
        if scheme == "Bearer":
            return self._bearer(request, token)
        # `ath-lowercase-scheme`: a parser branch for "dpop" that forgets the ath check
        return self._dpop_request(
            request, token, check_ath=not (written == "dpop" and "ath-lowercase-scheme" in self.ctx.defects)
        )

    def _credentials(self, line: str) -> tuple[str, str] | None:
        """(scheme as written, token) of an Authorization value, or None when it is not `scheme 1*SP token68`."""
        defects = self.ctx.defects
        if "authorization-lenient-split" in defects:
            words = line.split()  # splits on any white space and ignores what follows the token
            return (words[0], words[1]) if len(words) >= 2 else None
        match = _CREDENTIALS.fullmatch(line.strip())
        if match is None or ("scheme-single-space" in defects and "  " in line.strip()):
            # (`scheme-single-space`: the split-on-one-space parser that refuses `DPoP  <token>`)
            return None
        return match.group(1), match.group(2)

    def _split_lines(self, request: Request, lines: list[str]) -> Response:
        """`authorization-last-line-checked` (`-first-`): a middleware checks the proof against the last (first)
        Authorization line, and only when that line is DPoP; the application takes the token of the first (last)
        DPoP line, trusting the middleware."""
        last = "authorization-last-line-checked" in self.ctx.defects
        checked = self._credentials(lines[-1] if last else lines[0])
        if checked is not None and self._scheme(checked[0]) == "DPoP":
            return self._dpop_request(request, checked[1])
        read = [self._credentials(line) for line in lines]
        dpop_lines = [found for found in read if found is not None and self._scheme(found[0]) == "DPoP"]
        used = (dpop_lines[0] if last else dpop_lines[-1]) if dpop_lines else None
        if used is None:
            return self._no_credentials()
        try:
            claims = self.ctx.issuer.verify(used[1])
        except TokenError as exc:
            return self._bad_token(str(exc))
        return self._granted(request, claims)

    def _token_by_ath(self, request: Request) -> str | None:
        """`token-cache-by-ath`: the token whose hash is the proof's ath, if it was verified here before."""
        proofs = request.headers.getlist("dpop")
        try:
            ath = decode_jws(proofs[0].strip()).payload.get("ath") if len(proofs) == 1 else None
        except (ValueError, RecursionError):
            return None
        return self.verified_tokens.get(ath) if isinstance(ath, str) else None

    def _bearer(self, request: Request, token: str, *, ignore_cnf: bool = False) -> Response:
        try:
            claims = self.ctx.issuer.verify(token)
        except TokenError as exc:
            return self._bearer_error(str(exc))
        # §7.2: a DPoP-aware RS must not accept a bound token as a bearer token.
        if "cnf" in claims and "bearer-downgrade" not in self.ctx.defects and not ignore_cnf:
            return self._bearer_error("DPoP-bound token presented as a bearer token")
        return self._granted(request, claims)

    def _dpop_request(self, request: Request, token: str, *, check_ath: bool = True) -> Response:
        ctx = self.ctx
        try:
            claims = ctx.issuer.verify(token)
        except TokenError as exc:
            return self._bad_token(str(exc))
        if "token-cache-by-ath" in ctx.defects:
            self.verified_tokens[access_token_hash(token)] = token
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if not isinstance(jkt, str):
            return self._dpop_error("invalid_token", "access token is not DPoP-bound")
        proofs = request.headers.getlist("dpop")
        if not proofs:
            if "proof-optional" in ctx.defects:
                return self._granted(request, claims)
            return self._dpop_error(INVALID_PROOF, "DPoP proof required")
        try:
            proof = verify_proof(
                proofs,
                method=request.method,
                url=ctx.request_url(request),
                settings=ctx.settings,
                nonce_check=ctx.nonce_check("rs"),
                access_token=token,
                replay=ctx.replay,
                check_ath=check_ath,
                memo=ctx.memo,
            )
        except ProofError as exc:
            return self._proof_error(exc)
        # proof.jkt is None only under `jwk-optional`, which then skips the binding check too.
        if proof.jkt is not None and not self._bound_to(proof.jwk or {}, proof.jkt, jkt):
            return self._dpop_error("invalid_token", "Invalid DPoP key binding")
        return self._granted(request, claims)

    def _bound_to(self, jwk: dict[str, Any], proof_jkt: str, jkt: str) -> bool:
        """§4.3 check 12, §6: the proof key is the one the token is bound to (and the defects that bend it)."""
        defects = self.ctx.defects
        if "key-binding" in defects:
            return True
        if "key-binding-ec-only" in defects and jwk.get("kty") != "EC":
            return True  # the bug: the binding is only compared for the key type the code was written for
        if "key-binding-by-kid" in defects and jwk.get("kid") == jkt:
            return True  # the bug: a kid naming the bound key stands for the key
        if "rs-jkt-all-members" in defects:  # the bug: the thumbprint over the jwk as it came, every member in
            canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode("utf-8")
            return b64url_encode(hashlib.sha256(canonical).digest()) == jkt
        return proof_jkt == jkt

    def _proof_error(self, exc: ProofError) -> Response:
        defects = self.ctx.defects
        if exc.status == 500 or unsendable(exc.description, defects):
            return internal_error()
        if exc.error != USE_NONCE:
            return self._dpop_error(exc.error, exc.description, exc.status or 401)
        # §9: the RS nonce challenge is a 401 carrying a fresh DPoP-Nonce.
        # `nonce-named-invalid-proof`: the demand named as a refused proof, the nonce handed out all the same
        code = INVALID_PROOF if "nonce-named-invalid-proof" in defects else exc.error
        response = self._dpop_error(code, exc.description, 400 if "rs-nonce-status" in defects else 401)
        if "rs-nonce-header" not in defects:
            response.headers["DPoP-Nonce"] = self.ctx.nonces.issue("rs")
        if "nonce-no-store" in defects:
            # A cached challenge would hand the same nonce to every later client.
            del response.headers["cache-control"]
        return response
