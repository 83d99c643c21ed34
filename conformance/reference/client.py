"""The reference DPoP client, with defect switches: proof that every client check can fail (issue 30, item 4).

Run as `python -m conformance.reference.client`. It follows client conformance's contract, reading only the
environment: DPOP_ISSUER (RFC 8414 metadata at /.well-known/oauth-authorization-server), DPOP_TOKEN_ENDPOINT,
DPOP_RESOURCE_URL, DPOP_CLIENT_ID, DPOP_CLIENT_SECRET (empty: a public client), DPOP_SCOPE, DPOP_SCENARIO (for logs
only), DPOP_REFRESH=1 (refresh once between the two resource calls), DPOP_GRANT=authorization_code with
DPOP_REDIRECT_URI (the public client's code flow with PKCE and dpop_jkt), DPOP_RESOURCE_METHOD=POST (the post
capability: the resource is called with POST and a JSON body). It obtains a token, calls the resource,
obtains a second token the same way (or by refreshing), calls the resource again, and exits 0 when both calls
succeeded, 1 otherwise.

Clean, it does what RFC 9449 asks of a client: a fresh jti per proof (a nonce retry's included), htu without the
query, ath in base64url, one retry per nonce challenge read from any WWW-Authenticate line in any case, each
server's nonce kept for that server and replaced by one delivered on a 200, iat from the servers' Date clock, one
key throughout. DPOP_CLIENT_DEFECTS (comma-separated names of DEFECTS) switches behaviours off one by one; its own
proofs are built here with `cryptography`, apart from the suite's proof builder, so a bug in one cannot hide in
the other. It never prints a secret: not the client secret, the key, nor a token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conformance.jose import EC_ALGS, b64url_encode, json_b64, thumbprint

__all__ = ["DEFECTS", "DPoPClient", "list_defects", "main"]

#: each switch, with what it breaks (the client checks it must fail are in tests/client_kill_matrix.py)
DEFECTS: dict[str, str] = {
    "jti-reuse-on-retry": "a nonce retry resends the proof's jti",
    "htu-query": "htu carries the request URL's query",
    "ath-hex": "ath is the SHA-256 in hexadecimal",
    "no-nonce-retry": "a use_dpop_nonce challenge is not retried",
    "one-nonce-for-all": "one nonce kept for every server: the resource's goes to the AS and back",
    "ignore-200-nonce": "a nonce delivered on a 2xx is ignored",
    "challenge-first-exact": "a nonce challenge is seen only when first, spelled DPoP, with a quoted error",
    "endless-retry": "nonce challenges are retried without end",
    "bearer-scheme": "the token is sent with the Bearer scheme",
    "private-jwk": "the proof's jwk carries the private key",
    "iat-ms": "iat in milliseconds",
    "new-key-per-request": "a new key for every request",
    "new-key-on-refresh": "a new key for the refresh",
    "typ-jwt": "typ JWT",
    "htm-lowercase": "htm in lower case",
    "short-jti": "a 32-bit jti",
    "alg-ignores-metadata": "always ES256, whatever the AS advertised",
    "ignore-date": "iat from the local clock, whatever the servers' Date says",
    "token-type-exact": "only token_type DPoP, exactly so, is read as a DPoP-bound token",
    "two-dpop-headers": "two DPoP header fields on every request",
    "no-proof-on-refresh": "the refresh request carries no proof",
    "no-jti": "the proof carries no jti",
    "bad-signature": "the signature is made over other bytes than the proof's",
    "alg-hs256": "the proof's header says alg HS256 (a MAC), whatever key signs it",
    "retry-without-nonce": "a nonce challenge is retried, but without the nonce it supplied",
    "nonce-per-token": "every server's nonce is forgotten when a new token is asked for (kept per token)",
}
_PREFERRED_ALGS = ("ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256")
_ENDLESS_LIMIT = 200  # even the endless switch stops somewhere, should the runner's budget not stop it first
_TIMEOUT = 10.0


def list_defects() -> dict[str, str]:
    """The defect switches, by name, with what each breaks."""
    return dict(DEFECTS)


@dataclass
class _Key:
    alg: str
    private: Any

    @classmethod
    def generate(cls, alg: str) -> _Key:
        if alg in EC_ALGS:
            return cls(alg, ec.generate_private_key(EC_ALGS[alg][1]))
        if alg in ("PS256", "RS256"):
            return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return cls(alg, ed25519.Ed25519PrivateKey.generate())

    def jwk(self, *, private: bool = False) -> dict[str, str]:
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            size = EC_ALGS[self.alg][3]
            numbers = key.private_numbers()
            jwk = {
                "kty": "EC",
                "crv": EC_ALGS[self.alg][0],
                "x": b64url_encode(numbers.public_numbers.x.to_bytes(size, "big")),
                "y": b64url_encode(numbers.public_numbers.y.to_bytes(size, "big")),
            }
            if private:
                jwk["d"] = b64url_encode(numbers.private_value.to_bytes(size, "big"))
            return jwk
        if isinstance(key, rsa.RSAPrivateKey):
            pub = key.public_key().public_numbers()
            jwk = {"kty": "RSA", "n": _int64(pub.n), "e": _int64(pub.e)}
            if private:
                jwk["d"] = _int64(key.private_numbers().d)
            return jwk
        raw = key.public_key().public_bytes_raw()
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        if private:
            jwk["d"] = b64url_encode(key.private_bytes_raw())
        return jwk

    def sign(self, data: bytes) -> bytes:
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            _, _, digest, size = EC_ALGS[self.alg]
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            if self.alg == "PS256":
                return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        signature: bytes = key.sign(data)
        return signature


def _int64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _nonce_challenge(response: httpx.Response, defects: frozenset[str]) -> bool:
    """Whether the answer asks for a nonce: 400 use_dpop_nonce (AS), or a 401 DPoP challenge naming it (RS)."""
    if response.status_code == 400:
        try:
            return bool(response.json().get("error") == "use_dpop_nonce")
        except (ValueError, AttributeError):
            return False
    if response.status_code != 401:
        return False
    lines = response.headers.get_list("www-authenticate")
    if "challenge-first-exact" in defects:
        return bool(lines) and lines[0].startswith('DPoP error="use_dpop_nonce"')
    for line in lines:
        # RFC 9110 §11.6.1: one field may carry several challenges, and the scheme is case-insensitive. A naive
        # split on commas is enough here: what matters is a DPoP challenge whose error parameter names the nonce.
        lowered = line.lower()
        at = lowered.find("dpop")
        if at >= 0 and "use_dpop_nonce" in lowered[at:]:
            return True
    return False


@dataclass
class DPoPClient:
    """The reference client: one key, one nonce per origin, the servers' clock, defect switches."""

    defects: frozenset[str] = frozenset()
    alg: str = "ES256"
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=_TIMEOUT, follow_redirects=False))
    nonces: dict[str, str] = field(default_factory=dict)
    offset: float = 0.0

    def __post_init__(self) -> None:
        self.key = _Key.generate(self.alg)

    def _key(self) -> _Key:
        if "new-key-per-request" in self.defects:
            self.key = _Key.generate(self.alg)
        return self.key

    def proof(
        self, method: str, url: str, *, token: str | None = None, jti: str | None = None, nonce: bool = True
    ) -> str:
        """A DPoP proof for one request, with the origin's nonce and the token's ath."""
        d = self.defects
        key = self._key()
        parts = urlsplit(url)
        htu = url if "htu-query" in d else urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        now = time.time() + (0.0 if "ignore-date" in d else self.offset)
        claims: dict[str, Any] = {
            "jti": jti or (secrets.token_hex(4) if "short-jti" in d else b64url_encode(secrets.token_bytes(16))),
            "htm": method.lower() if "htm-lowercase" in d else method,
            "htu": htu,
            "iat": int(now * 1000) if "iat-ms" in d else int(now),
        }
        if "no-jti" in d:
            del claims["jti"]
        value = self.nonces.get("*" if "one-nonce-for-all" in d else _origin(url))
        if value is not None and nonce:
            claims["nonce"] = value
        if token is not None:
            digest = hashlib.sha256(token.encode("ascii")).digest()
            claims["ath"] = digest.hex() if "ath-hex" in d else b64url_encode(digest)
        header = {
            "typ": "JWT" if "typ-jwt" in d else "dpop+jwt",
            "alg": "HS256" if "alg-hs256" in d else key.alg,
            "jwk": key.jwk(private="private-jwk" in d),
        }
        head = f"{json_b64(header)}.{json_b64(claims)}"
        signed = (head + "x") if "bad-signature" in d else head
        return f"{head}.{b64url_encode(key.sign(signed.encode('ascii')))}"

    def remember(self, url: str, response: httpx.Response) -> None:
        """Learn the server's clock offset from its Date, and its nonce (per origin) from DPoP-Nonce."""
        date = response.headers.get("date")
        if date:
            try:
                server = parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                server = time.time()
            # a Date is whole seconds: only an offset beyond rounding and latency is the server's clock
            self.offset = server - time.time() if abs(server - time.time()) > 5 else 0.0
        nonce = response.headers.get("dpop-nonce")
        if nonce and not (response.is_success and "ignore-200-nonce" in self.defects):
            self.nonces["*" if "one-nonce-for-all" in self.defects else _origin(url)] = nonce

    def send(
        self, method: str, url: str, *, token: str | None = None, scheme: str = "DPoP", proof: bool = True, **kw: Any
    ) -> httpx.Response:
        """Send one request with a fresh proof; retry once on a nonce challenge carrying a new nonce."""
        d = self.defects
        jti: str | None = None
        attempts = 0
        while True:
            attempts += 1
            headers: list[tuple[str, str]] = []
            if proof:
                retry_bare = attempts > 1 and "retry-without-nonce" in d
                value = self.proof(method, url, token=token, jti=jti, nonce=not retry_bare)
                headers.append(("DPoP", value))
                if "two-dpop-headers" in d:
                    headers.append(("DPoP", self.proof(method, url, token=token)))
                if "jti-reuse-on-retry" in d:
                    jti = json.loads(base64.urlsafe_b64decode(value.split(".")[1] + "==")).get("jti")
            if token is not None:
                headers.append(("Authorization", f"{scheme} {token}"))
            sent_nonce = self.nonces.get("*" if "one-nonce-for-all" in d else _origin(url))
            response = self.http.request(method, url, headers=headers, **kw)
            self.remember(url, response)
            if not _nonce_challenge(response, d) or "no-nonce-retry" in d:
                return response
            fresh = response.headers.get("dpop-nonce")
            if "endless-retry" in d and attempts < _ENDLESS_LIMIT:
                continue
            # one retry per request, and none when the challenge names the nonce just sent: it cannot succeed
            if attempts > 1 or fresh is None or fresh == sent_nonce:
                return response

    def token(
        self, endpoint: str, form: dict[str, str], auth: tuple[str, str] | None, *, proof: bool = True
    ) -> dict[str, Any]:
        """POST a token request; the answer's JSON (raises RuntimeError on an error answer, without secrets)."""
        kw: dict[str, Any] = {"data": form}
        if auth is not None:
            kw["auth"] = auth
        if "nonce-per-token" in self.defects:
            self.nonces.clear()
        response = self.send("POST", endpoint, proof=proof, **kw)
        if response.status_code != 200:
            raise RuntimeError(f"token request refused: HTTP {response.status_code} {_error_of(response)}")
        answer: dict[str, Any] = response.json()
        return answer

    def resource(self, url: str, answer: dict[str, Any], method: str = "GET") -> bool:
        """Call the resource with a token answer (POST: with a small JSON body); True on a 2xx."""
        token = answer["access_token"]
        token_type = str(answer.get("token_type", ""))
        bound = token_type == "DPoP" if "token-type-exact" in self.defects else token_type.lower() == "dpop"
        scheme = "DPoP" if bound and "bearer-scheme" not in self.defects else "Bearer"
        body: dict[str, Any] = {"json": {"note": "a body, for the post scenario"}} if method == "POST" else {}
        response = self.send(method, url, token=token, scheme=scheme, proof=bound, **body)
        if not response.is_success:
            sys.stderr.write(f"resource refused: HTTP {response.status_code} {_error_of(response)}\n")
        return response.is_success


def _error_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return " ".join(response.headers.get_list("www-authenticate"))[:200]


def _choose_alg(advertised: list[str], defects: frozenset[str]) -> str:
    if "alg-ignores-metadata" in defects:
        return "ES256"
    for alg in _PREFERRED_ALGS:
        if alg in advertised:
            return alg
    raise RuntimeError(f"none of the advertised algorithms is supported: {advertised}")


def _code_flow(client: DPoPClient, env: dict[str, str], metadata: dict[str, Any]) -> dict[str, Any]:
    verifier = b64url_encode(secrets.token_bytes(32))
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    redirect_uri = env.get("DPOP_REDIRECT_URI", "http://127.0.0.1/callback")
    state = secrets.token_urlsafe(8)
    params = {
        "response_type": "code",
        "client_id": env["DPOP_CLIENT_ID"],
        "redirect_uri": redirect_uri,
        "scope": env.get("DPOP_SCOPE", ""),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "dpop_jkt": thumbprint(client.key.jwk()),
    }
    response = client.http.get(metadata["authorization_endpoint"] + "?" + urlencode(params))
    location = response.headers.get("location", "")
    query = parse_qs(urlsplit(location).query)
    if response.status_code != 302 or query.get("state") != [state] or "code" not in query:
        raise RuntimeError(f"authorization refused: HTTP {response.status_code}")
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": env["DPOP_CLIENT_ID"],
    }
    return client.token(env["DPOP_TOKEN_ENDPOINT"], form, None)


def run(env: dict[str, str]) -> int:
    """The contract's flow; 0 when both resource calls succeeded."""
    defects = frozenset(name for name in env.get("DPOP_CLIENT_DEFECTS", "").split(",") if name)
    unknown = defects - DEFECTS.keys()
    if unknown:
        sys.stderr.write(f"unknown defect(s): {', '.join(sorted(unknown))}\n")
        return 2
    issuer = env["DPOP_ISSUER"].rstrip("/")
    with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as http:
        discovered = http.get(issuer + "/.well-known/oauth-authorization-server")
        metadata = discovered.json()
        alg = _choose_alg(list(metadata.get("dpop_signing_alg_values_supported", [])), defects)
        client = DPoPClient(defects=defects, alg=alg, http=http)
        client.remember(issuer, discovered)  # the servers' clock, before the first proof
        secret = env.get("DPOP_CLIENT_SECRET", "")
        auth = (env["DPOP_CLIENT_ID"], secret) if secret else None
        code_flow = env.get("DPOP_GRANT") == "authorization_code"
        method = "POST" if env.get("DPOP_RESOURCE_METHOD", "GET").upper() == "POST" else "GET"
        credentials = {"grant_type": "client_credentials", "scope": env.get("DPOP_SCOPE", "")}

        def obtain() -> dict[str, Any]:
            if code_flow:
                return _code_flow(client, env, metadata)
            return client.token(env["DPOP_TOKEN_ENDPOINT"], credentials, auth)

        try:
            first = obtain()
            ok = client.resource(env["DPOP_RESOURCE_URL"], first, method)
            if env.get("DPOP_REFRESH") == "1" and "refresh_token" in first:
                if "new-key-on-refresh" in defects:
                    client.key = _Key.generate(alg)
                form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
                if auth is None:
                    form["client_id"] = env["DPOP_CLIENT_ID"]
                second = client.token(
                    env["DPOP_TOKEN_ENDPOINT"], form, auth, proof="no-proof-on-refresh" not in defects
                )
            else:
                second = obtain()
            ok = client.resource(env["DPOP_RESOURCE_URL"], second, method) and ok
        except (RuntimeError, httpx.HTTPError, KeyError, ValueError) as exc:
            sys.stderr.write(f"{env.get('DPOP_SCENARIO', '')}: {type(exc).__name__}: {exc}\n")
            return 1
    return 0 if ok else 1


def main() -> None:
    """Entry point of `python -m conformance.reference.client` (`--list-defects` lists the switches)."""
    if sys.argv[1:] == ["--list-defects"]:
        for name, what in DEFECTS.items():
            sys.stdout.write(f"{name}: {what}\n")
        return
    sys.exit(run(dict(os.environ)))


if __name__ == "__main__":
    main()
