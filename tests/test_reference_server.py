"""The embedded reference server, exercised over real loopback HTTP.

Proofs are built here with jwcrypto (and by hand for the malformed ones), never with the suite's own
proof code, so a bug there cannot hide a bug in the server or the other way round.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwk, jws

from conformance.jose import access_token_hash, b64url_decode, b64url_encode, decode_jws, json_b64, thumbprint
from conformance.reference import DEFECTS, LENIENCIES, Defect, RunningServer, ServerSettings, create_app

NQCHAR_NONCE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
PKCE_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PKCE_CHALLENGE = b64url_encode(hashlib.sha256(PKCE_VERIFIER.encode("ascii")).digest())


# Keys and proofs ---------------------------------------------------------------------------------


class Key:
    """A client key pair that signs DPoP proofs with jwcrypto."""

    def __init__(self, key: jwk.JWK, alg: str, public: dict[str, Any] | None = None) -> None:
        self.key = key
        self.alg = alg
        self.public: dict[str, Any] = public or json.loads(key.export_public())
        self.jkt = thumbprint(self.public)

    @classmethod
    def ec(cls) -> Key:
        return cls(jwk.JWK.generate(kty="EC", crv="P-256"), "ES256")

    def proof(
        self,
        htm: str,
        htu: str,
        *,
        nonce: str | None = None,
        token: str | None = None,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        sign_as: str | None = None,
    ) -> str:
        body: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": int(time.time())}
        if nonce is not None:
            body["nonce"] = nonce
        if token is not None:
            body["ath"] = access_token_hash(token)
        body.update(claims or {})
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public}
        protected.update(header or {})
        for name in drop:
            body.pop(name, None)
            protected.pop(name, None)
        payload = json.dumps(body).encode("utf-8")
        if sign_as is not None:
            # JWSCore signs with `sign_as` whatever the header's alg says; jws.JWS refuses a mismatch.
            parts = jws.JWSCore(sign_as, self.key, json.dumps(protected), payload).sign()
            return f"{parts['protected']}.{b64url_encode(payload)}.{parts['signature']}"
        signed = jws.JWS(payload)
        signed.add_signature(self.key, alg=protected["alg"], protected=json.dumps(protected))
        return str(signed.serialize(compact=True))


def flattened(compact: str) -> str:
    """The JWS JSON serialization, flattened syntax (RFC 7515 §7.2.2), of a compact JWS."""
    protected, payload, signature = compact.split(".")
    return json.dumps({"protected": protected, "payload": payload, "signature": signature})


def general(compact: str) -> str:
    """The JWS JSON serialization, general syntax with one signature (RFC 7515 §7.2.1)."""
    protected, payload, signature = compact.split(".")
    return json.dumps({"payload": payload, "signatures": [{"protected": protected, "signature": signature}]})


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{json_b64(header)}.{json_b64(claims)}.{b64url_encode(signature)}"


# Servers and clients -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[..., RunningServer]]:
    """Start servers on demand (one per distinct settings) and stop them all, in parallel, at the end."""
    started: dict[str, RunningServer] = {}

    def get(
        nonce: str = "none", defects: tuple[str, ...] = (), leniencies: tuple[str, ...] = (), **options: Any
    ) -> RunningServer:
        key = json.dumps([nonce, sorted(defects), sorted(leniencies), sorted(options.items())], default=str)
        if key not in started:
            settings = ServerSettings(
                nonce=nonce, defects=frozenset(defects), leniencies=frozenset(leniencies), **options
            )
            started[key] = RunningServer(settings).start()
        return started[key]

    yield get
    stoppers = [threading.Thread(target=server.stop) for server in started.values()]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()


@pytest.fixture(scope="module")
def clean(serve: Callable[..., RunningServer]) -> RunningServer:
    return serve()


class Client:
    """A DPoP client for one server: remembers nonces and retries once on use_dpop_nonce."""

    def __init__(self, server: RunningServer, key: Key | None = None) -> None:
        self.server = server
        self.base = server.base_url
        self.key = key or Key.ec()
        self.http = httpx.Client(timeout=5.0)
        self.as_nonce: str | None = None
        self.rs_nonce: str | None = None
        self.challenged = 0

    def close(self) -> None:
        self.http.close()

    def basic(self) -> tuple[str, str]:
        return self.server.settings.client_id, self.server.settings.client_secret

    def token(
        self, data: dict[str, str] | None = None, *, public: bool = False, key: Key | None = None
    ) -> httpx.Response:
        form = dict(data or {"grant_type": "client_credentials"})
        auth = None
        if public:
            form["client_id"] = self.server.settings.public_client_id
        else:
            auth = self.basic()
        signer = key or self.key
        for _ in range(2):
            proof = signer.proof("POST", self.base + "/token", nonce=self.as_nonce)
            response = self.http.post(self.base + "/token", data=form, auth=auth, headers={"DPoP": proof})
            self.as_nonce = response.headers.get("dpop-nonce", self.as_nonce)
            if response.status_code == 400 and response.json().get("error") == "use_dpop_nonce":
                self.challenged += 1
                continue
            return response
        return response

    def par(
        self,
        extra: dict[str, str] | None = None,
        *,
        key: Key | None = None,
        with_proof: bool = True,
        htu: str | None = None,
    ) -> httpx.Response:
        """Push an authorization request of the public client, with a proof unless told otherwise."""
        settings = self.server.settings
        form = {
            "response_type": "code",
            "client_id": settings.public_client_id,
            "redirect_uri": settings.redirect_uri,
            "code_challenge": PKCE_CHALLENGE,
            "code_challenge_method": "S256",
            "state": "st-123",
            "scope": "read",
            **(extra or {}),
        }
        signer = key or self.key
        for _ in range(2):
            headers = {}
            if with_proof:
                headers["DPoP"] = signer.proof("POST", htu or self.base + "/par", nonce=self.as_nonce)
            response = self.http.post(self.base + "/par", data=form, headers=headers)
            self.as_nonce = response.headers.get("dpop-nonce", self.as_nonce)
            if response.status_code == 400 and response.json().get("error") == "use_dpop_nonce":
                self.challenged += 1
                continue
            return response
        return response

    def access_token(self) -> str:
        response = self.token()
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def resource(self, token: str, *, key: Key | None = None, method: str = "GET") -> httpx.Response:
        signer = key or self.key
        for _ in range(2):
            proof = signer.proof(method, self.base + "/resource", nonce=self.rs_nonce, token=token)
            headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
            response = self.http.request(method, self.base + "/resource", headers=headers)
            self.rs_nonce = response.headers.get("dpop-nonce", self.rs_nonce)
            if response.status_code == 401 and 'error="use_dpop_nonce"' in response.headers["www-authenticate"]:
                self.challenged += 1
                continue
            return response
        return response


@pytest.fixture()
def client(clean: RunningServer) -> Iterator[Client]:
    c = Client(clean)
    yield c
    c.close()


def authorization_code(client: Client, *, dpop_jkt: str | None, client_id: str | None = None) -> str:
    """Run /authorize → consent → redirect and return the code."""
    settings = client.server.settings
    params = {
        "response_type": "code",
        "client_id": client_id or settings.public_client_id,
        "redirect_uri": settings.redirect_uri,
        "code_challenge": PKCE_CHALLENGE,
        "code_challenge_method": "S256",
        "state": "st-123",
        "scope": "read",
    }
    if dpop_jkt is not None:
        params["dpop_jkt"] = dpop_jkt
    return follow_authorize(client, params)


def pushed_code(client: Client, request_uri: str, *, client_id: str | None = None) -> str:
    """Run /authorize with a request_uri from /par and return the code."""
    params = {"client_id": client_id or client.server.settings.public_client_id, "request_uri": request_uri}
    return follow_authorize(client, params)


def follow_authorize(client: Client, params: dict[str, str]) -> str:
    """GET /authorize, follow the consent hop back to the redirect URI and return the code."""
    settings = client.server.settings
    hop = client.http.get(client.base + "/authorize", params=params)
    assert hop.status_code == 302, hop.text
    assert hop.headers["location"].startswith(client.base + "/authorize/consent?tx=")
    back = client.http.get(hop.headers["location"])
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(settings.redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-123"]
    assert query["iss"] == [client.base]
    return query["code"][0]


def redeem(code: str, *, verifier: str = PKCE_VERIFIER) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": verifier,
    }


# Happy paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["none", "as", "rs", "both"])
def test_client_credentials_then_resource_in_each_nonce_mode(serve: Callable[..., RunningServer], mode: str) -> None:
    client = Client(serve(nonce=mode))
    try:
        response = client.token()
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "DPoP"
        assert body["scope"] == "read"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        assert ("dpop-nonce" in response.headers) == (mode in ("as", "both"))
        claims = decode_jws(body["access_token"]).payload
        assert claims["cnf"] == {"jkt": client.key.jkt}
        granted = client.resource(body["access_token"])
        assert granted.status_code == 200, granted.headers
        assert granted.json() == {
            "resource": "protected",
            "method": "GET",
            "client_id": "conformance-client",
            "sub": "conformance-client",
        }
        assert ("dpop-nonce" in granted.headers) == (mode in ("rs", "both"))
        assert client.challenged == {"none": 0, "as": 1, "rs": 1, "both": 2}[mode]
        for nonce in filter(None, (client.as_nonce, client.rs_nonce)):
            assert NQCHAR_NONCE.fullmatch(nonce)
    finally:
        client.close()


def test_metadata_jwks_and_introspection(client: Client) -> None:
    meta = client.http.get(client.base + "/.well-known/oauth-authorization-server").json()
    assert meta == client.http.get(client.base + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == client.base
    assert meta["token_endpoint"] == client.base + "/token"
    assert meta["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["pushed_authorization_request_endpoint"] == client.base + "/par"
    assert meta["require_pushed_authorization_requests"] is False
    keys = client.http.get(meta["jwks_uri"]).json()["keys"]
    token = client.access_token()
    assert decode_jws(token).header == {"typ": "at+jwt", "alg": "ES256", "kid": keys[0]["kid"]}
    answer = client.http.post(client.base + "/introspect", data={"token": token}, auth=client.basic())
    assert answer.status_code == 200
    body = answer.json()
    assert body["active"] is True and body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": client.key.jkt}
    garbage = client.http.post(client.base + "/introspect", data={"token": "x.y.z"}, auth=client.basic())
    assert garbage.json() == {"active": False}


@pytest.mark.parametrize(
    ("alg", "make"),
    [
        ("ES384", lambda: jwk.JWK.generate(kty="EC", crv="P-384")),
        ("ES512", lambda: jwk.JWK.generate(kty="EC", crv="P-521")),
        ("PS256", lambda: jwk.JWK.generate(kty="RSA", size=2048)),
        ("EdDSA", lambda: jwk.JWK.generate(kty="OKP", crv="Ed25519")),
    ],
)
def test_every_advertised_alg_is_accepted(clean: RunningServer, alg: str, make: Callable[[], jwk.JWK]) -> None:
    client = Client(clean, Key(make(), alg))
    try:
        token = client.access_token()
        assert client.resource(token).status_code == 200
    finally:
        client.close()


def test_private_key_jwt_client(serve: Callable[..., RunningServer]) -> None:
    signer = jwk.JWK.generate(kty="EC", crv="P-256", kid="assertion-key")
    server = serve(jwt_client_jwks=(json.loads(signer.export_public()),))
    client = Client(server)

    def assertion(**extra: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": "conformance-jwt-client",
            "sub": "conformance-jwt-client",
            "aud": client.base + "/token",
            "exp": now + 60,
            "iat": now,
            "jti": uuid.uuid4().hex,
            **extra,
        }
        token = jws.JWS(json.dumps(claims).encode())
        token.add_signature(signer, alg="ES256", protected=json.dumps({"alg": "ES256", "kid": "assertion-key"}))
        return str(token.serialize(compact=True))

    def request(value: str) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": value,
        }
        proof = client.key.proof("POST", client.base + "/token")
        return client.http.post(client.base + "/token", data=form, headers={"DPoP": proof})

    try:
        first = assertion()
        ok = request(first)
        assert ok.status_code == 200, ok.text
        assert decode_jws(ok.json()["access_token"]).payload["client_id"] == "conformance-jwt-client"
        assert request(first).status_code == 401  # assertion jti replay
        assert request(assertion(aud="http://elsewhere.example/token")).json()["error"] == "invalid_client"
        assert request(assertion(exp=int(time.time()) - 5)).status_code == 401
    finally:
        client.close()


# Replay ------------------------------------------------------------------------------------------


def test_same_proof_from_twenty_concurrent_clients_is_accepted_once(client: Client) -> None:
    token = client.access_token()
    proof = client.key.proof("GET", client.base + "/resource", token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(timeout=5.0) as http:
            barrier.wait()
            status = http.get(client.base + "/resource", headers=headers).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [401] * 19


def test_replayed_proof_is_refused_at_the_token_endpoint(client: Client) -> None:
    proof = client.key.proof("POST", client.base + "/token")
    form = {"grant_type": "client_credentials"}
    first = client.http.post(client.base + "/token", data=form, auth=client.basic(), headers={"DPoP": proof})
    again = client.http.post(client.base + "/token", data=form, auth=client.basic(), headers={"DPoP": proof})
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_dpop_proof", "error_description": "jti already used"}
    assert again.headers["cache-control"] == "no-store"


def test_replay_cache_is_bounded_and_refuses_when_full(serve: Callable[..., RunningServer]) -> None:
    client = Client(serve(replay_cache_size=3))
    try:
        assert [client.token().status_code for _ in range(3)] == [200, 200, 200]
        full = client.token()
        assert full.status_code == 400
        assert full.json() == {
            "error": "invalid_dpop_proof",
            "error_description": "replay cache full, retry later",
        }
    finally:
        client.close()


# Nonces ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("defects", "crossed"), [((), False), (("nonce-cross-server",), True)])
def test_nonces_are_scoped_to_the_side_that_issued_them(
    serve: Callable[..., RunningServer], defects: tuple[str, ...], crossed: bool
) -> None:
    client = Client(serve(nonce="both", defects=defects))
    try:
        token = client.access_token()
        assert client.resource(token).status_code == 200
        as_nonce, rs_nonce = client.as_nonce, client.rs_nonce
        assert as_nonce and rs_nonce
        proof = client.key.proof("GET", client.base + "/resource", nonce=as_nonce, token=token)
        at_rs = client.http.get(client.base + "/resource", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        proof = client.key.proof("POST", client.base + "/token", nonce=rs_nonce)
        at_as = client.http.post(
            client.base + "/token",
            data={"grant_type": "client_credentials"},
            auth=client.basic(),
            headers={"DPoP": proof},
        )
        if crossed:
            assert (at_rs.status_code, at_as.status_code) == (200, 200)
        else:
            assert at_rs.status_code == 401 and 'error="use_dpop_nonce"' in at_rs.headers["www-authenticate"]
            assert at_rs.headers["dpop-nonce"]
            assert at_as.status_code == 400 and at_as.json()["error"] == "use_dpop_nonce"
            assert at_as.headers["cache-control"] == "no-store"
    finally:
        client.close()


# htu ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("defects", "status"), [((), 400), (("htu-forwarded",), 200)])
def test_forwarded_headers_cannot_spoof_the_server_url(
    serve: Callable[..., RunningServer], defects: tuple[str, ...], status: int
) -> None:
    client = Client(serve(defects=defects))
    try:
        proof = client.key.proof("POST", "https://evil.example/token")
        headers = {"DPoP": proof, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
        response = client.http.post(
            client.base + "/token",
            data={"grant_type": "client_credentials"},
            auth=client.basic(),
            headers=headers,
        )
        assert response.status_code == status, response.text
    finally:
        client.close()


def test_htu_is_compared_after_normalisation_and_without_query(client: Client) -> None:
    port = client.base.rsplit(":", 1)[1]
    for htu in (
        f"HTTP://127.0.0.1:{port}/./token",
        f"http://127.0.0.1:{port}/%74oken#frag",
        f"http://127.0.0.1:{port}/x/../token?ignored=1",
    ):
        proof = client.key.proof("POST", htu)
        response = client.http.post(
            client.base + "/token?q=1",
            data={"grant_type": "client_credentials"},
            auth=client.basic(),
            headers={"DPoP": proof},
        )
        assert response.status_code == 200, (htu, response.text)
    for htu in (
        f"http://127.0.0.1:{port}/Token",
        f"https://127.0.0.1:{port}/token",
        "http://127.0.0.1:1/token",
    ):
        proof = client.key.proof("POST", htu)
        response = client.http.post(
            client.base + "/token",
            data={"grant_type": "client_credentials"},
            auth=client.basic(),
            headers={"DPoP": proof},
        )
        assert response.status_code == 400, htu


# Authorization code, PKCE, dpop_jkt and refresh tokens -------------------------------------------


def test_authorization_code_with_pkce_and_dpop_jkt(client: Client) -> None:
    other = Key.ec()
    code = authorization_code(client, dpop_jkt=client.key.jkt)
    refused = client.token(redeem(code), public=True, key=other)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # The code was consumed by the failed attempt: codes are single-use.
    assert client.token(redeem(code), public=True).json()["error"] == "invalid_grant"
    wrong_verifier = client.token(redeem(authorization_code(client, dpop_jkt=None), verifier="x" * 43), public=True)
    assert wrong_verifier.json()["error"] == "invalid_grant"
    granted = client.token(redeem(authorization_code(client, dpop_jkt=client.key.jkt)), public=True)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert body["token_type"] == "DPoP" and body["refresh_token"]
    assert decode_jws(body["access_token"]).payload["sub"] == "conformance-user"


def test_authorization_endpoint_errors(client: Client) -> None:
    settings = client.server.settings
    base = {
        "response_type": "code",
        "client_id": settings.public_client_id,
        "redirect_uri": settings.redirect_uri,
        "code_challenge": PKCE_CHALLENGE,
        "code_challenge_method": "S256",
        "state": "s",
    }
    bad_redirect = client.http.get(client.base + "/authorize", params={**base, "redirect_uri": "http://evil/cb"})
    assert bad_redirect.status_code == 400 and "location" not in bad_redirect.headers
    assert client.http.get(client.base + "/authorize", params={**base, "client_id": "nobody"}).status_code == 400
    plain = client.http.get(client.base + "/authorize", params={**base, "code_challenge_method": "plain"})
    assert plain.status_code == 302
    query = parse_qs(urlsplit(plain.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["s"]


def test_public_refresh_token_is_bound_to_the_proof_key(client: Client) -> None:
    other = Key.ec()
    first = client.token(redeem(authorization_code(client, dpop_jkt=None)), public=True).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    stolen = client.token(refresh, public=True, key=other)
    assert stolen.status_code == 400
    assert stolen.json() == {
        "error": "invalid_grant",
        "error_description": "refresh token is bound to another DPoP key",
    }
    rotated = client.token(refresh, public=True)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    assert decode_jws(rotated.json()["access_token"]).payload["cnf"]["jkt"] == client.key.jkt
    assert client.token(refresh, public=True).json()["error"] == "invalid_grant"  # rotated away


def test_confidential_refresh_token_is_not_bound(client: Client) -> None:
    other = Key.ec()
    code = authorization_code(client, dpop_jkt=None, client_id=client.server.settings.client_id)
    first = client.token(redeem(code)).json()
    moved = client.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, key=other)
    assert moved.status_code == 200, moved.text
    assert decode_jws(moved.json()["access_token"]).payload["cnf"]["jkt"] == other.jkt


# Pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1) ----------------------------

REQUEST_URI = re.compile(r"urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{20,}")


def test_par_binds_the_code_to_the_proof_key(client: Client) -> None:
    pushed = client.par()
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert REQUEST_URI.fullmatch(body["request_uri"]) and body["expires_in"] == 60
    assert pushed.headers["cache-control"] == "no-store"
    refused = client.token(redeem(pushed_code(client, body["request_uri"])), public=True, key=Key.ec())
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    granted = client.token(redeem(pushed_code(client, client.par().json()["request_uri"])), public=True)
    assert granted.status_code == 200, granted.text
    assert decode_jws(granted.json()["access_token"]).payload["cnf"] == {"jkt": client.key.jkt}
    # Without a proof nothing is bound; a matching dpop_jkt next to the proof is fine.
    unbound = client.token(redeem(pushed_code(client, client.par(with_proof=False).json()["request_uri"])), public=True)
    assert unbound.status_code == 200, unbound.text
    assert client.par({"dpop_jkt": client.key.jkt}).status_code == 201


def test_par_refuses_bad_proofs_and_a_dpop_jkt_mismatch(client: Client) -> None:
    wrong_htu = client.par(htu=client.base + "/token")
    assert (wrong_htu.status_code, wrong_htu.json()["error"]) == (400, "invalid_dpop_proof")
    assert wrong_htu.headers["cache-control"] == "no-store"
    mismatch = client.par({"dpop_jkt": Key.ec().jkt})
    assert mismatch.status_code == 400
    assert mismatch.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "dpop_jkt does not match the DPoP proof key",
    }
    replayed = client.key.proof("POST", client.base + "/par")
    form = {"client_id": "conformance-spa", "response_type": "code", "redirect_uri": "http://127.0.0.1:8765/callback"}
    form |= {"code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"}
    assert client.http.post(client.base + "/par", data=form, headers={"DPoP": replayed}).status_code == 201
    again = client.http.post(client.base + "/par", data=form, headers={"DPoP": replayed})
    assert again.json() == {"error": "invalid_dpop_proof", "error_description": "jti already used"}
    bad_redirect = client.par({"redirect_uri": "http://evil.example/cb"})
    assert (bad_redirect.status_code, bad_redirect.json()["error"]) == (400, "invalid_request")
    plain = client.par({"code_challenge_method": "plain"})
    assert (plain.status_code, plain.json()["error"]) == (400, "invalid_request")
    secret = client.http.post(client.base + "/par", data={**form, "client_id": "conformance-client"})
    assert (secret.status_code, secret.json()["error"]) == (401, "invalid_client")
    confidential = client.http.post(
        client.base + "/par", data={**form, "client_id": "conformance-client"}, auth=client.basic()
    )
    assert confidential.status_code == 201, confidential.text


def test_request_uri_is_single_use_and_tied_to_its_client(client: Client) -> None:
    request_uri = client.par().json()["request_uri"]
    other_client = client.http.get(
        client.base + "/authorize", params={"client_id": "conformance-client", "request_uri": request_uri}
    )
    assert other_client.status_code == 400 and "location" not in other_client.headers
    request_uri = client.par().json()["request_uri"]
    assert pushed_code(client, request_uri)
    again = client.http.get(
        client.base + "/authorize", params={"client_id": "conformance-spa", "request_uri": request_uri}
    )
    assert again.status_code == 400 and "location" not in again.headers
    unknown = client.http.get(
        client.base + "/authorize", params={"client_id": "conformance-spa", "request_uri": "urn:x:nothing"}
    )
    assert unknown.status_code == 400


def test_par_demands_the_as_nonce(serve: Callable[..., RunningServer]) -> None:
    client = Client(serve(nonce="as"))
    try:
        pushed = client.par()
        assert pushed.status_code == 201, pushed.text
        assert client.challenged == 1
        assert NQCHAR_NONCE.fullmatch(pushed.headers["dpop-nonce"])
    finally:
        client.close()


# Token endpoint errors ---------------------------------------------------------------------------


def test_token_endpoint_errors(client: Client) -> None:
    url = client.base + "/token"
    form = {"grant_type": "client_credentials"}
    no_proof = client.http.post(url, data=form, auth=client.basic())
    assert (no_proof.status_code, no_proof.json()["error"]) == (400, "invalid_request")
    assert no_proof.json()["error_description"] == "DPoP proof required"
    bad_secret = client.http.post(
        url, data=form, auth=("conformance-client", "wrong"), headers={"DPoP": client.key.proof("POST", url)}
    )
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")
    assert bad_secret.headers["www-authenticate"] == 'Basic realm="reference"'
    unknown = client.token({"grant_type": "password"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")
    two = client.http.post(
        url,
        data=form,
        auth=client.basic(),
        headers=[("DPoP", client.key.proof("POST", url)), ("DPoP", client.key.proof("POST", url))],
    )
    assert (two.status_code, two.json()["error"]) == (400, "invalid_dpop_proof")


MALFORMED_PROOFS = [
    "",
    "abc",
    "a.b",
    "a.b.c.d.e",
    "eyJhbGciOiJFUzI1NiJ9.e30.@@@",
    unsigned({"typ": "dpop+jwt"}, {})[:-1] + "=",
    json_b64([1]) + "." + json_b64({}) + ".",
    b64url_encode(b"{not json") + "." + json_b64({}) + ".",
    b64url_encode(b"[" * 5000) + "." + json_b64({}) + ".",
    b64url_encode(b'{"x": ' + b"9" * 5000 + b"}") + "." + json_b64({}) + ".",
    unsigned(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": 1, "y": []}},
        {"jti": "j", "htm": "POST", "htu": "u", "iat": 1e400},
    ),
    unsigned({"typ": "dpop+jwt", "alg": "ES256", "jwk": "not an object"}, {"jti": ["x"], "iat": "now"}),
]


@pytest.mark.parametrize("value", MALFORMED_PROOFS)
def test_malformed_input_never_causes_a_server_error(client: Client, value: str) -> None:
    token = client.access_token()
    at_as = client.http.post(
        client.base + "/token",
        data={"grant_type": "client_credentials"},
        auth=client.basic(),
        headers={"DPoP": value},
    )
    assert at_as.status_code == 400 and at_as.json()["error"] == "invalid_dpop_proof"
    at_rs = client.http.get(client.base + "/resource", headers={"Authorization": f"DPoP {token}", "DPoP": value})
    assert at_rs.status_code == 401 and 'error="invalid_dpop_proof"' in at_rs.headers["www-authenticate"]
    bad_token = client.http.get(client.base + "/resource", headers={"Authorization": f"DPoP {value or 'x'}"})
    assert bad_token.status_code in (400, 401)
    junk_form = client.http.post(
        client.base + "/token",
        content=b"\xff\xfe=%ff&&=",
        auth=client.basic(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert junk_form.status_code == 400


# Resource server challenges ----------------------------------------------------------------------

# the resource's algs: the AS's (ES256 ES384 ES512 RS256 PS256 EdDSA) but RS256 (settings.rs_algs)
ALGS = 'algs="ES256 ES384 ES512 PS256 EdDSA"'


def test_resource_challenges(client: Client) -> None:
    url = client.base + "/resource"
    token = client.access_token()
    none = client.http.get(url)
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == f"DPoP {ALGS}, Bearer"
    bearer = client.http.get(
        url, headers={"Authorization": f"Bearer {token}", "DPoP": client.key.proof("GET", url, token=token)}
    )
    assert bearer.status_code == 401
    assert bearer.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="DPoP-bound token presented as a bearer token", DPoP {ALGS}'
    )
    both = client.http.get(url, headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"DPoP {token}")])
    assert both.status_code == 400
    assert both.headers["www-authenticate"] == (
        'DPoP error="invalid_request", error_description="Multiple methods used to include access token"'
    )
    missing = client.http.get(url, headers={"Authorization": f"DPoP {token}"})
    assert missing.headers["www-authenticate"] == (
        f'DPoP error="invalid_dpop_proof", error_description="DPoP proof required", {ALGS}'
    )
    swapped = client.resource(token, key=Key.ec())
    assert swapped.status_code == 401
    assert swapped.headers["www-authenticate"] == (
        f'DPoP error="invalid_token", error_description="Invalid DPoP key binding", {ALGS}'
    )
    for scheme in ("dpop", "DPOP", "DPoP "):
        proof = client.key.proof("GET", url, token=token)
        ok = client.http.get(url, headers={"Authorization": f"{scheme} {token}", "DPoP": proof})
        assert ok.status_code == 200, scheme
    no_ath = client.key.proof("GET", url)
    assert client.http.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": no_ath}).status_code == 401


def test_cors(client: Client) -> None:
    for path in ("/resource", "/token", "/par"):
        preflight = client.http.options(
            client.base + path,
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, dpop",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-headers"] == "Authorization, DPoP, Content-Type"
    answer = client.http.get(client.base + "/resource", headers={"Origin": "https://app.example"})
    assert answer.headers["access-control-expose-headers"] == "WWW-Authenticate, DPoP-Nonce"


# Defect switches ---------------------------------------------------------------------------------
# Each probe returns one observable; the clean server and the server with exactly that defect must
# disagree on it. Every defect in DEFECTS has a probe (checked below).

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


def _token_with(client: Client, value: str, *, path: str = "/token", **headers: str) -> httpx.Response:
    return client.http.post(
        client.base + path, data=CLIENT_CREDENTIALS, auth=client.basic(), headers={"DPoP": value, **headers}
    )


def _token_status(client: Client, **proof: Any) -> int:
    return _token_with(client, client.key.proof("POST", client.base + "/token", **proof)).status_code


def _resource_response(
    client: Client, authorization: str = "DPoP {at}", *, key: Key | None = None, **proof: Any
) -> httpx.Response:
    url = client.base + "/resource"
    at = client.access_token()
    value = (key or client.key).proof("GET", url, token=at, **proof)
    headers = {"Authorization": authorization.format(at=at), "DPoP": value}
    return client.http.get(url, headers=headers)


def _resource_status(client: Client, authorization: str = "DPoP {at}", *, key: Key | None = None, **proof: Any) -> int:
    return _resource_response(client, authorization, key=key, **proof).status_code


def _statuses(c: Client, transform: Callable[[str], str] = str, **proof: Any) -> tuple[int, int]:
    """(token endpoint status, resource status) for a proof built with `proof` and then `transform`ed."""
    at_as = _token_with(c, transform(c.key.proof("POST", c.base + "/token", **proof))).status_code
    url = c.base + "/resource"
    at = c.access_token()
    value = transform(c.key.proof("GET", url, token=at, **proof))
    return at_as, c.http.get(url, headers={"Authorization": f"DPoP {at}", "DPoP": value}).status_code


def _par_form(c: Client, **extra: str) -> dict[str, str]:
    return {
        "client_id": c.server.settings.public_client_id,
        "response_type": "code",
        "redirect_uri": c.server.settings.redirect_uri,
        "code_challenge": PKCE_CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


def probe_typ(c: Client) -> int:
    return _token_status(c, header={"typ": "JWT"})


def probe_alg_none(c: Client) -> int:
    claims = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": c.base + "/token", "iat": int(time.time())}
    return _token_with(c, unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": c.key.public}, claims)).status_code


def probe_alg_hs256(c: Client) -> int:
    secret = jwk.JWK.generate(kty="oct", size=256)
    key = Key(secret, "HS256", public=json.loads(secret.export()))
    return _token_with(c, key.proof("POST", c.base + "/token")).status_code


def probe_alg_policy(c: Client) -> tuple[int, int]:
    # An unknown alg, and an advertised alg that does not fit the P-256 key: both signed with ES256.
    unknown = _token_status(c, header={"alg": "ES999"}, sign_as="ES256")
    return unknown, _resource_status(c, header={"alg": "ES384"}, sign_as="ES256")


def probe_signature(c: Client) -> int:
    header, payload, signature = c.key.proof("POST", c.base + "/token").split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return _token_with(c, f"{header}.{payload}.{flipped}").status_code


def probe_jwk_private(c: Client) -> int:
    key = Key(c.key.key, "ES256", public=json.loads(c.key.key.export_private()))
    return _token_with(c, key.proof("POST", c.base + "/token")).status_code


def probe_claim_types(c: Client) -> int:
    return _token_status(c, claims={"iat": str(int(time.time()))})


def probe_missing_claims(c: Client) -> int:
    return _token_status(c, drop=("jti",))


def probe_htm(c: Client) -> int:
    return _token_status(c, claims={"htm": "GET"})


def probe_htm_case(c: Client) -> int:
    return _token_status(c, claims={"htm": "post"})


def probe_htu(c: Client) -> int:
    return _token_status(c, claims={"htu": "http://elsewhere.example/token"})


def probe_htu_normalization(c: Client) -> int:
    return _token_status(c, claims={"htu": c.base.replace("http://", "HTTP://") + "/token"})


def probe_htu_query(c: Client) -> int:
    return _token_with(c, c.key.proof("POST", c.base + "/token"), path="/token?x=1").status_code


def probe_htu_forwarded(c: Client) -> int:
    value = c.key.proof("POST", "https://evil.example/token")
    return _token_with(c, value, **{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}).status_code


def probe_valid_token_request(c: Client) -> int:
    return _token_status(c)


def probe_iat(c: Client) -> int:
    return _token_status(c, claims={"iat": int(time.time()) - 3600})


def probe_replay(c: Client) -> int:
    value = c.key.proof("POST", c.base + "/token")
    _token_with(c, value)
    return _token_with(c, value).status_code


def probe_multiple_proofs(c: Client) -> tuple[int, int, int]:
    url = c.base + "/token"
    headers = [("DPoP", c.key.proof("POST", url)), ("DPoP", c.key.proof("POST", url))]
    lines = c.http.post(url, data=CLIENT_CREDENTIALS, auth=c.basic(), headers=headers).status_code
    return lines, *_statuses(c, lambda value: f"{value}, {c.key.proof('POST', url)}")


def probe_malformed_500(c: Client) -> int:
    return _token_with(c, "not-a-jws").status_code


def probe_nonce_value(c: Client) -> int:
    return _token_status(c, nonce="bogus")


def probe_nonce_cross_server(c: Client) -> int:
    assert c.token().status_code == 200  # collects an AS nonce
    return _resource_status(c, nonce=c.as_nonce)


def probe_nonce_retry(c: Client) -> int:
    return c.token().status_code


def probe_jws_json(c: Client) -> tuple[int, int, int]:
    general_at_as = _token_with(c, general(c.key.proof("POST", c.base + "/token"))).status_code
    return general_at_as, *_statuses(c, flattened)


def probe_jwk_optional(c: Client) -> tuple[int, bool | None, int]:
    without_jwk: dict[str, Any] = {"drop": ("jwk",), "header": {"kid": "client-key"}}
    answer = _token_with(c, c.key.proof("POST", c.base + "/token", **without_jwk))
    bound = "cnf" in decode_jws(answer.json()["access_token"]).payload if answer.status_code == 200 else None
    return answer.status_code, bound, _resource_status(c, **without_jwk)


def probe_unknown_members(c: Client) -> tuple[int, int]:
    return _token_status(c, header={"kid": "client-key"}), _resource_status(c, claims={"client_note": "x"})


def probe_nonce_no_store(c: Client) -> tuple[int, str | None, int, str | None]:
    at_as = _token_with(c, c.key.proof("POST", c.base + "/token"))
    at_rs = _resource_response(c)
    return at_as.status_code, at_as.headers.get("cache-control"), at_rs.status_code, at_rs.headers.get("cache-control")


def probe_nonce_200_unusable(c: Client) -> tuple[int, int]:
    at = c.access_token()  # the last nonce the client holds came with the 200
    at_as = _token_status(c, nonce=c.as_nonce)
    assert c.resource(at).status_code == 200
    return at_as, _resource_status(c, nonce=c.rs_nonce)


def probe_alg_eddsa_rejected(c: Client) -> tuple[bool, bool, int, str]:
    advertised = (
        "EdDSA"
        in c.http.get(c.base + "/.well-known/oauth-authorization-server").json()["dpop_signing_alg_values_supported"]
    )
    in_algs = "EdDSA" in c.http.get(c.base + "/resource").headers["www-authenticate"]
    eddsa = Key(jwk.JWK.generate(kty="OKP", crv="Ed25519"), "EdDSA")
    at_as = _token_with(c, eddsa.proof("POST", c.base + "/token")).status_code
    # At the RS the EdDSA key is not the bound one: a verified proof fails the binding instead.
    at_rs = _resource_response(c, key=eddsa).headers["www-authenticate"].split('"')[1]
    return advertised, in_algs, at_as, at_rs


def probe_iat_no_future(c: Client) -> tuple[int, int]:
    return _statuses(c, claims={"iat": int(time.time()) + 5})


def _with_signature(signature: bytes) -> Callable[[str], str]:
    return lambda proof: proof.rsplit(".", 1)[0] + "." + b64url_encode(signature)


def probe_empty_signature(c: Client) -> tuple[int, int]:
    return _statuses(c, _with_signature(b""))


def probe_zero_signature(c: Client) -> tuple[int, int]:
    return _statuses(c, _with_signature(bytes(64)))


def probe_crit_skips_signature(c: Client) -> tuple[int, int]:
    """A crit header (which jwcrypto would refuse to sign) and a signature that verifies nothing."""

    def with_crit(proof: str) -> str:
        head, payload, _ = proof.split(".")
        header = json.loads(b64url_decode(head)) | {"crit": ["x-conformance"], "x-conformance": 1}
        return f"{b64url_encode(json.dumps(header).encode())}.{payload}.{b64url_encode(bytes(range(64)))}"

    return _statuses(c, with_crit)


def probe_iat_numeric_string(c: Client) -> tuple[int, int]:
    return _statuses(c, claims={"iat": str(int(time.time()))})


def probe_exp_nbf_ignored(c: Client) -> tuple[int, ...]:
    """A proof whose exp passed 10 s ago, and one whose nbf is a minute ahead, at both endpoints."""
    now = int(time.time())
    return _statuses(c, claims={"exp": now - 10}) + _statuses(c, claims={"nbf": now + 60})


def probe_iat_integer_only(c: Client) -> tuple[int, int]:
    """A fractional iat (a valid NumericDate)."""
    return _statuses(c, claims={"iat": time.time()})


def probe_rsa_small_keys(c: Client) -> tuple[int, bool | None, int | None]:
    """A 1024-bit RSA proof key: (token status, cnf.jkt is its thumbprint, resource status)."""
    c.key = Key(jwk.JWK.generate(kty="RSA", size=1024), "RS256")
    answer = c.token()
    if answer.status_code != 200:
        return answer.status_code, None, None
    at = answer.json()["access_token"]
    return 200, decode_jws(at).payload["cnf"]["jkt"] == c.key.jkt, c.resource(at).status_code


def probe_iat_window_wide(c: Client) -> tuple[int, int, int]:
    """Proofs 10 minutes old at both endpoints, and one 40 minutes old at the token endpoint."""
    now = int(time.time())
    return *_statuses(c, claims={"iat": now - 600}), _token_status(c, claims={"iat": now - 2400})


def probe_replay_forgets(c: Client) -> tuple[int, int]:
    """A token request proof replayed at once, and again 2.5 s later."""
    value = c.key.proof("POST", c.base + "/token")
    _token_with(c, value)
    at_once = _token_with(c, value).status_code
    time.sleep(2.5)
    return at_once, _token_with(c, value).status_code


def probe_replay_with_query(c: Client) -> tuple[int, ...]:
    """One proof sent to /token?a=1, /token?a=2 and /token?a=1 again."""
    value = c.key.proof("POST", c.base + "/token")
    return tuple(_token_with(c, value, path=f"/token?a={n}").status_code for n in (1, 2, 1))


def probe_replay_par(c: Client) -> tuple[int, int, int]:
    """One proof sent twice to /par, and (for contrast) a replay at /token."""
    value = c.key.proof("POST", c.base + "/par")
    first, again = (c.http.post(c.base + "/par", data=_par_form(c), headers={"DPoP": value}) for _ in range(2))
    return first.status_code, again.status_code, probe_replay(c)


def probe_replay_refresh(c: Client) -> tuple[int, int, int]:
    """One proof used for two refreshes in a row, and (for contrast) a replay of a client_credentials proof."""
    token = c.token(redeem(authorization_code(c, dpop_jkt=None)), public=True).json()["refresh_token"]
    value, statuses = c.key.proof("POST", c.base + "/token"), []
    for _ in range(2):
        form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": c.server.settings.public_client_id}
        answer = c.http.post(c.base + "/token", data=form, headers={"DPoP": value})
        statuses.append(answer.status_code)
        token = answer.json().get("refresh_token", token)
    return statuses[0], statuses[1], probe_replay(c)


def probe_htu_prefix(c: Client) -> tuple[int, int]:
    """htu values that the request URLs of /token and /resource merely start with."""
    return _token_status(c, claims={"htu": c.base + "/tok"}), _resource_status(c, claims={"htu": c.base + "/res"})


def _forged(nonce: str | None) -> str:
    """The nonce with its last character (the end of its MAC) changed, still canonical base64url."""
    assert nonce
    return nonce[:-1] + ("E" if nonce[-1] == "A" else "A")


def probe_nonce_mac_unchecked(c: Client) -> tuple[int, int, int]:
    """Forged AS and RS nonces (last character changed), and a nonce of the wrong form."""
    c.resource(c.access_token())  # collects an AS and an RS nonce
    forged_as, forged_rs = _forged(c.as_nonce), _forged(c.rs_nonce)
    return _token_status(c, nonce=forged_as), _resource_status(c, nonce=forged_rs), _token_status(c, nonce="bogus")


def probe_scheme_single_space(c: Client) -> int:
    token = c.access_token()
    proof = c.key.proof("GET", c.base + "/resource", token=token)
    return c.http.get(c.base + "/resource", headers={"Authorization": f"DPoP  {token}", "DPoP": proof}).status_code


def probe_token_type(c: Client) -> str:
    return str(c.token().json()["token_type"])


def probe_cnf_jkt(c: Client) -> bool:
    return bool(decode_jws(c.access_token()).payload["cnf"]["jkt"] == c.key.jkt)


def probe_no_store(c: Client) -> str | None:
    return c.token().headers.get("cache-control")


def probe_nonce_header_count(c: Client) -> int:
    return len(_token_with(c, c.key.proof("POST", c.base + "/token")).headers.get_list("dpop-nonce"))


def probe_nonce_syntax(c: Client) -> bool:
    return bool(NQCHAR_NONCE.fullmatch(c.token().headers["dpop-nonce"]))


def probe_refresh_binding(c: Client) -> int:
    first = c.token(redeem(authorization_code(c, dpop_jkt=None)), public=True).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    return c.token(refresh, public=True, key=Key.ec()).status_code


def probe_refresh_proof_optional(c: Client) -> int:
    first = c.token(redeem(authorization_code(c, dpop_jkt=None)), public=True).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": c.server.settings.public_client_id,
    }
    return c.http.post(c.base + "/token", data=refresh).status_code


def probe_dpop_jkt(c: Client) -> int:
    return c.token(redeem(authorization_code(c, dpop_jkt=Key.ec().jkt)), public=True).status_code


def probe_metadata_algs(c: Client) -> bool:
    meta = c.http.get(c.base + "/.well-known/oauth-authorization-server").json()
    return "none" in meta["dpop_signing_alg_values_supported"]


def probe_introspection_cnf(c: Client) -> bool:
    answer = c.http.post(c.base + "/introspect", data={"token": c.access_token()}, auth=c.basic())
    return "cnf" in answer.json()


def probe_refresh_cnf_stale(c: Client) -> bool:
    first = c.token(redeem(authorization_code(c, dpop_jkt=None)), public=True).json()
    refreshed = c.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, public=True)
    return "cnf" in decode_jws(refreshed.json()["access_token"]).payload


def probe_par_proof(c: Client) -> int:
    return c.par(htu="http://elsewhere.example/par").status_code


def probe_par_binding(c: Client) -> int:
    code = pushed_code(c, c.par().json()["request_uri"])
    return c.token(redeem(code), public=True, key=Key.ec()).status_code


def probe_par_dpop_jkt(c: Client) -> int:
    return c.par({"dpop_jkt": Key.ec().jkt}).status_code


def _refresh(c: Client, refresh_token: str, key: Key | None = None) -> httpx.Response:
    return c.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, public=True, key=key)


def _public_refresh_token(c: Client) -> str:
    return str(c.token(redeem(authorization_code(c, dpop_jkt=None)), public=True).json()["refresh_token"])


def probe_cnf_jkt_rsa_members(c: Client) -> tuple[bool, bool]:
    """cnf.jkt is the RFC 7638 thumbprint of an RSA proof key, its jwk without and with an alg member."""
    rsa = jwk.JWK.generate(kty="RSA", size=2048)
    keys = (Key(rsa, "RS256"), Key(rsa, "RS256", public=json.loads(rsa.export_public()) | {"alg": "RS256"}))
    return tuple(decode_jws(c.token(key=k).json()["access_token"]).payload["cnf"]["jkt"] == k.jkt for k in keys)


def probe_refresh_unbound_after_second(c: Client) -> tuple[int, bool, int]:
    """Another key tries the first refresh's refresh token; then is the second's access token bound, and its
    refresh token usable with another key?"""
    first = _refresh(c, _public_refresh_token(c)).json()["refresh_token"]
    stolen_first = _refresh(c, first, key=Key.ec()).status_code
    second = _refresh(c, first).json()
    bound = "cnf" in decode_jws(second["access_token"]).payload
    return stolen_first, bound, _refresh(c, second["refresh_token"], key=Key.ec()).status_code


def probe_refresh_reuse(c: Client) -> tuple[int, int]:
    """One refresh token used twice (the second time after it was rotated out)."""
    token = _public_refresh_token(c)
    return _refresh(c, token).status_code, _refresh(c, token).status_code


def probe_code_proof_optional(c: Client) -> tuple[int, str | None]:
    """A dpop_jkt-bound code redeemed without a DPoP header: (status, token_type)."""
    form = redeem(authorization_code(c, dpop_jkt=c.key.jkt)) | {"client_id": c.server.settings.public_client_id}
    answer = c.http.post(c.base + "/token", data=form)
    return answer.status_code, answer.json().get("token_type")


def probe_dpop_jkt_case(c: Client) -> tuple[int, ...]:
    """Codes bound to the key's thumbprint in swapped case, with other last 3 characters, and to another key."""
    jkt = c.key.jkt
    variants = (jkt.swapcase(), jkt[:40] + ("BBB" if jkt[40:] == "AAA" else "AAA"), Key.ec().jkt)
    return tuple(c.token(redeem(authorization_code(c, dpop_jkt=v)), public=True).status_code for v in variants)


def probe_ath(c: Client) -> int:
    return _resource_status(c, drop=("ath",))


def probe_valid_resource_request(c: Client) -> int:
    return _resource_status(c)


def probe_key_binding(c: Client) -> int:
    return _resource_status(c, key=Key.ec())


def probe_key_binding_ec_only(c: Client) -> tuple[int, int]:
    """Proofs by an RSA key (PS256: the resource takes no RS256) and by another EC key for a token bound to the
    client's EC key."""
    rsa = Key(jwk.JWK.generate(kty="RSA", size=2048), "PS256")
    return _resource_status(c, key=rsa), _resource_status(c, key=Key.ec())


def probe_key_binding_by_kid(c: Client) -> tuple[int, int]:
    """Another key whose jwk kid is the bound key's thumbprint, and the same key with another kid."""
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    named = [Key(other, "ES256", public=json.loads(other.export_public()) | {"kid": k}) for k in (c.key.jkt, "x")]
    return _resource_status(c, key=named[0]), _resource_status(c, key=named[1])


def probe_rs_jkt_all_members(c: Client) -> tuple[int, int]:
    """The bound key's proofs, its jwk as exported and with a kid member added."""
    with_kid = Key(c.key.key, "ES256", public=c.key.public | {"kid": "client-key"})
    return _resource_status(c), _resource_status(c, key=with_kid)


def probe_ath_prefix(c: Client) -> tuple[int, int]:
    """ath with its 21st character changed, and with its 20th."""
    url, at = c.base + "/resource", c.access_token()
    ath = access_token_hash(at)

    def status(i: int) -> int:
        changed = ath[:i] + ("B" if ath[i] == "A" else "A") + ath[i + 1 :]
        value = c.key.proof("GET", url, token=at, claims={"ath": changed})
        return c.http.get(url, headers={"Authorization": f"DPoP {at}", "DPoP": value}).status_code

    return status(20), status(19)


def probe_ath_lowercase_scheme(c: Client) -> tuple[int, int]:
    """A wrong ath under the scheme written dpop, and under DPoP."""
    wrong = {"ath": "x" * 43}
    return _resource_status(c, "dpop {at}", claims=wrong), _resource_status(c, claims=wrong)


def probe_token_elsewhere(c: Client) -> tuple[int, int]:
    """A DPoP-bound token sent alone as the access_token query parameter, and as a form body member."""
    url = c.base + "/resource"
    query = c.http.get(url, params={"access_token": c.access_token()}).status_code
    return query, c.http.post(url, data={"access_token": c.access_token()}).status_code


def probe_token_two_places(c: Client) -> tuple[int, int]:
    """A valid DPoP request that also carries its token as the access_token query parameter, or body member."""
    url, at = c.base + "/resource", c.access_token()

    def headers(method: str) -> dict[str, str]:
        return {"Authorization": f"DPoP {at}", "DPoP": c.key.proof(method, url, token=at)}

    query = c.http.get(url, params={"access_token": at}, headers=headers("GET")).status_code
    return query, c.http.post(url, data={"access_token": at}, headers=headers("POST")).status_code


def probe_bearer_downgrade(c: Client) -> int:
    return _resource_status(c, "Bearer {at}")


def probe_proof_optional(c: Client) -> int:
    at = c.access_token()
    return c.http.get(c.base + "/resource", headers={"Authorization": f"DPoP {at}"}).status_code


def probe_scheme_case(c: Client) -> int:
    return _resource_status(c, "dpop {at}")


def probe_challenge_algs(c: Client) -> bool:
    return "algs=" in c.http.get(c.base + "/resource").headers["www-authenticate"]


def probe_challenge_error(c: Client) -> bool:
    return "error=" in c.http.get(c.base + "/resource").headers["www-authenticate"]


def probe_rs_nonce_header(c: Client) -> bool:
    at = c.access_token()
    value = c.key.proof("GET", c.base + "/resource", token=at)
    answer = c.http.get(c.base + "/resource", headers={"Authorization": f"DPoP {at}", "DPoP": value})
    return "dpop-nonce" in answer.headers


def probe_multiple_auth_methods(c: Client) -> int:
    at = c.access_token()
    lines = [("Authorization", f"Bearer {at}"), ("Authorization", f"DPoP {at}")]
    return c.http.get(c.base + "/resource", headers=lines).status_code


def probe_challenge_scheme(c: Client) -> str:
    return c.http.get(c.base + "/resource").headers["www-authenticate"]


def probe_bad_token_no_error(c: Client) -> str:
    """The first auth-param of the challenge to an unusable access token."""
    url, bad = c.base + "/resource", "not.a.token"
    value = c.key.proof("GET", url, token=bad)
    challenge = c.http.get(url, headers={"Authorization": f"DPoP {bad}", "DPoP": value}).headers["www-authenticate"]
    return challenge.split("=", 1)[0]


def probe_proxy_authorization(c: Client) -> int:
    url, at = c.base + "/resource", c.access_token()
    value = c.key.proof("GET", url, token=at)
    return c.http.get(url, headers={"Proxy-Authorization": f"DPoP {at}", "DPoP": value}).status_code


def probe_cors_headers(c: Client) -> tuple[str, ...]:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    return tuple(
        c.http.options(c.base + path, headers=preflight).headers["access-control-allow-headers"]
        for path in ("/resource", "/token", "/par")
    )


def probe_cors_expose(c: Client) -> tuple[str | None, str | None]:
    origin = {"Origin": "https://app.example"}
    at_rs = c.http.get(c.base + "/resource", headers=origin)
    at_as = c.http.get(c.base + "/jwks", headers=origin)
    return at_rs.headers.get("access-control-expose-headers"), at_as.headers.get("access-control-expose-headers")


# -- the defects of issue 26 (verdicts that must be attributable) --


def probe_replay_500(c: Client) -> tuple[int, int]:
    """One token request proof, sent twice."""
    value = c.key.proof("POST", c.base + "/token")
    return _token_with(c, value).status_code, _token_with(c, value).status_code


def probe_odd_values_500(c: Client) -> tuple[int, int, int]:
    """A look-alike alg outside Latin-1 (signed with ES256), a jti that is an array, an htu with port 99999."""
    htu = urlsplit(c.base)
    return (
        _token_status(c, header={"alg": "\u0415S256"}, sign_as="ES256"),
        _token_status(c, claims={"jti": ["a", "b"]}),
        _token_status(c, claims={"htu": f"http://{htu.hostname}:99999/token"}),
    )


def probe_jkt_cache_by_kid(c: Client) -> tuple[int, int]:
    """The bound key with a kid, then another key with the same kid, at the resource."""
    kid = f"k-{uuid.uuid4().hex[:8]}"
    own = Key(c.key.key, "ES256", public=c.key.public | {"kid": kid})
    other = jwk.JWK.generate(kty="EC", crv="P-256")
    named = Key(other, "ES256", public=json.loads(other.export_public()) | {"kid": kid})
    return _resource_status(c, key=own), _resource_status(c, key=named)


def probe_jti_verified_cache(c: Client) -> tuple[int, int]:
    """A token request, then a proof reusing its jti (a new iat) with a signature that verifies nothing."""
    jti = uuid.uuid4().hex
    first = _token_status(c, claims={"jti": jti})
    again = c.key.proof("POST", c.base + "/token", claims={"jti": jti, "iat": int(time.time()) - 1})
    head, payload, _ = again.split(".")
    broken = f"{head}.{payload}.{b64url_encode(bytes(64))}"
    return first, _token_with(c, broken).status_code


def probe_nonce_verified_cache(c: Client) -> tuple[int, int]:
    """A token request with the AS's nonce, then a proof carrying that nonce with a broken signature."""
    first = c.token().status_code
    used = c.as_nonce
    c.token()  # the nonce the next proof would carry changes; the old one stays valid for a while
    head, payload, _ = c.key.proof("POST", c.base + "/token", nonce=used).split(".")
    return first, _token_with(c, f"{head}.{payload}.{b64url_encode(bytes(64))}").status_code


def probe_htu_hostname_only(c: Client) -> tuple[int, int]:
    """htu with userinfo before the host, and with a backslash before the @."""
    parts = urlsplit(c.base)
    return (
        _token_status(c, claims={"htu": f"{parts.scheme}://attacker@{parts.netloc}/token"}),
        _token_status(c, claims={"htu": f"{parts.scheme}://attacker.example\\@{parts.netloc}/token"}),
    )


def probe_htu_from_host(c: Client) -> int:
    """A token request with Host: attacker.example:<port> and an htu naming it."""
    host = f"attacker.example:{urlsplit(c.base).port}"
    value = c.key.proof("POST", f"http://{host}/token")
    return _token_with(c, value, Host=host).status_code


def probe_challenge_missing(c: Client) -> str | None:
    return c.http.get(c.base + "/resource").headers.get("www-authenticate")


def _two_lines(c: Client, dpop_first: bool) -> int:
    """Two Authorization lines, DPoP first or Bearer first, with a proof whose ath hashes another token."""
    url, at = c.base + "/resource", c.access_token()
    value = c.key.proof("GET", url, token="another-token")
    dpop, other = ("Authorization", f"DPoP {at}"), ("Authorization", "Bearer not-a-token")
    lines = [dpop, other] if dpop_first else [other, dpop]
    return c.http.get(url, headers=[*lines, ("DPoP", value)]).status_code


def probe_authorization_last_line_checked(c: Client) -> int:
    return _two_lines(c, dpop_first=True)


def probe_authorization_first_line_checked(c: Client) -> int:
    return _two_lines(c, dpop_first=False)


def probe_token_cache_by_ath(c: Client) -> tuple[int, int]:
    """A valid resource request, then `Authorization: DPoP` with no token and a proof whose ath names the token."""
    url, at = c.base + "/resource", c.access_token()
    first = c.resource(at).status_code
    value = c.key.proof("GET", url, token=at)
    return first, c.http.get(url, headers={"Authorization": "DPoP", "DPoP": value}).status_code


def probe_rs_algs_unenforced(c: Client) -> tuple[int, int]:
    """An RS256 key: a token bound to it, then a resource request with a proof from it."""
    c.key = Key(jwk.JWK.generate(kty="RSA", size=2048), "RS256")
    at = c.access_token()
    return 200, c.resource(at).status_code


DEFECT_PROBES: list[tuple[str, str, Callable[[Client], Any], Any, Any]] = [
    # (defect, nonce mode, probe, result on the clean server, result with the defect)
    ("multiple-proofs", "none", probe_multiple_proofs, (400, 400, 401), (200, 200, 200)),
    ("malformed-500", "none", probe_malformed_500, 400, 500),
    ("missing-claims", "none", probe_missing_claims, 400, 200),
    ("claim-types", "none", probe_claim_types, 400, 200),
    ("typ", "none", probe_typ, 400, 200),
    ("alg-none", "none", probe_alg_none, 400, 200),
    ("alg-hs256", "none", probe_alg_hs256, 400, 200),
    ("alg-policy", "none", probe_alg_policy, (400, 401), (200, 200)),
    ("signature", "none", probe_signature, 400, 200),
    ("jwk-private", "none", probe_jwk_private, 400, 200),
    ("htm", "none", probe_htm, 400, 200),
    ("htm-case", "none", probe_htm_case, 400, 200),
    ("htu", "none", probe_htu, 400, 200),
    ("htu-normalization", "none", probe_htu_normalization, 200, 400),
    ("htu-query", "none", probe_htu_query, 200, 400),
    ("htu-forwarded", "none", probe_htu_forwarded, 400, 200),
    ("htu-https-assumed", "none", probe_valid_token_request, 200, 400),
    ("iat", "none", probe_iat, 400, 200),
    ("replay", "none", probe_replay, 400, 200),
    ("nonce-value", "as", probe_nonce_value, 400, 200),
    ("nonce-cross-server", "both", probe_nonce_cross_server, 401, 200),
    ("nonce-optional", "as", probe_valid_token_request, 400, 200),
    ("nonce-rejects-own", "as", probe_nonce_retry, 200, 400),
    ("jws-json", "none", probe_jws_json, (400, 400, 401), (200, 200, 200)),
    ("jwk-optional", "none", probe_jwk_optional, (400, None, 401), (200, False, 200)),
    ("unknown-members", "none", probe_unknown_members, (200, 200), (400, 401)),
    ("nonce-no-store", "both", probe_nonce_no_store, (400, "no-store", 401, "no-store"), (400, None, 401, None)),
    ("nonce-200-unusable", "both", probe_nonce_200_unusable, (200, 200), (400, 401)),
    (
        "as-alg-eddsa-rejected",
        "none",
        probe_alg_eddsa_rejected,
        (True, True, 200, "invalid_token"),
        (True, True, 400, "invalid_token"),
    ),
    (
        "rs-alg-eddsa-rejected",
        "none",
        probe_alg_eddsa_rejected,
        (True, True, 200, "invalid_token"),
        (True, True, 200, "invalid_dpop_proof"),
    ),
    ("iat-no-future", "none", probe_iat_no_future, (200, 200), (400, 401)),
    ("empty-signature", "none", probe_empty_signature, (400, 401), (200, 200)),
    ("zero-signature", "none", probe_zero_signature, (400, 401), (200, 200)),
    ("crit-skips-signature", "none", probe_crit_skips_signature, (400, 401), (200, 200)),
    ("iat-numeric-string", "none", probe_iat_numeric_string, (400, 401), (200, 200)),
    ("iat-integer-only", "none", probe_iat_integer_only, (200, 200), (400, 401)),
    ("iat-window-wide", "none", probe_iat_window_wide, (400, 401, 400), (200, 200, 400)),
    ("replay-forgets", "none", probe_replay_forgets, (400, 400), (400, 200)),
    ("replay-with-query", "none", probe_replay_with_query, (200, 400, 400), (200, 200, 400)),
    ("replay-par", "none", probe_replay_par, (201, 400, 400), (201, 201, 400)),
    ("replay-refresh", "none", probe_replay_refresh, (200, 400, 400), (200, 200, 400)),
    ("htu-prefix", "none", probe_htu_prefix, (400, 401), (200, 200)),
    ("nonce-mac-unchecked", "both", probe_nonce_mac_unchecked, (400, 401, 400), (200, 200, 400)),
    ("token-type", "none", probe_token_type, "DPoP", "Bearer"),
    ("cnf-jkt", "none", probe_cnf_jkt, True, False),
    ("no-store", "none", probe_no_store, "no-store", None),
    ("as-nonce-status", "as", probe_valid_token_request, 400, 401),
    ("nonce-header-count", "as", probe_nonce_header_count, 1, 2),
    ("nonce-syntax", "as", probe_nonce_syntax, True, False),
    ("refresh-binding", "none", probe_refresh_binding, 400, 200),
    ("refresh-proof-optional", "none", probe_refresh_proof_optional, 400, 200),
    ("dpop-jkt", "none", probe_dpop_jkt, 400, 200),
    ("metadata-algs", "none", probe_metadata_algs, False, True),
    ("introspection-cnf", "none", probe_introspection_cnf, True, False),
    ("refresh-cnf-stale", "none", probe_refresh_cnf_stale, True, False),
    ("par-proof", "none", probe_par_proof, 400, 201),
    ("par-binding", "none", probe_par_binding, 400, 200),
    ("par-dpop-jkt", "none", probe_par_dpop_jkt, 400, 201),
    ("cnf-jkt-rsa-members", "none", probe_cnf_jkt_rsa_members, (True, True), (True, False)),
    ("refresh-unbound-after-second", "none", probe_refresh_unbound_after_second, (400, True, 400), (400, False, 200)),
    ("refresh-reuse", "none", probe_refresh_reuse, (200, 400), (200, 200)),
    ("code-proof-optional", "none", probe_code_proof_optional, (400, None), (200, "Bearer")),
    ("dpop-jkt-case", "none", probe_dpop_jkt_case, (400, 400, 400), (200, 200, 400)),
    ("replay-500", "none", probe_replay_500, (200, 400), (200, 500)),
    ("odd-values-500", "none", probe_odd_values_500, (400, 400, 400), (500, 500, 500)),
    ("jkt-cache-by-kid", "none", probe_jkt_cache_by_kid, (200, 401), (200, 200)),
    ("jti-verified-cache", "none", probe_jti_verified_cache, (200, 400), (200, 200)),
    ("nonce-verified-cache", "as", probe_nonce_verified_cache, (200, 400), (200, 200)),
    ("htu-hostname-only", "none", probe_htu_hostname_only, (400, 400), (200, 200)),
    ("htu-from-host", "none", probe_htu_from_host, 400, 200),
    ("ath", "none", probe_ath, 401, 200),
    ("ath-hex", "none", probe_valid_resource_request, 200, 401),
    ("key-binding", "none", probe_key_binding, 401, 200),
    ("key-binding-ec-only", "none", probe_key_binding_ec_only, (401, 401), (200, 401)),
    ("key-binding-by-kid", "none", probe_key_binding_by_kid, (401, 401), (200, 401)),
    ("rs-jkt-all-members", "none", probe_rs_jkt_all_members, (200, 200), (200, 401)),
    ("ath-prefix", "none", probe_ath_prefix, (401, 401), (200, 401)),
    ("ath-lowercase-scheme", "none", probe_ath_lowercase_scheme, (401, 401), (200, 401)),
    ("bearer-query", "none", probe_token_elsewhere, (401, 401), (200, 401)),
    ("bearer-body", "none", probe_token_elsewhere, (401, 401), (401, 200)),
    ("token-two-places", "none", probe_token_two_places, (400, 400), (200, 200)),
    ("bearer-downgrade", "none", probe_bearer_downgrade, 401, 200),
    ("proof-optional", "none", probe_proof_optional, 401, 200),
    ("scheme-case", "none", probe_scheme_case, 200, 401),
    ("scheme-single-space", "none", probe_scheme_single_space, 200, 400),
    ("challenge-algs", "none", probe_challenge_algs, True, False),
    ("challenge-error", "none", probe_challenge_error, False, True),
    ("rs-nonce-status", "rs", probe_valid_resource_request, 401, 400),
    ("rs-nonce-header", "rs", probe_rs_nonce_header, True, False),
    ("multiple-auth-methods", "none", probe_multiple_auth_methods, 400, 401),
    ("challenge-missing", "none", probe_challenge_missing, f"DPoP {ALGS}, Bearer", None),
    ("challenge-other-scheme", "none", probe_challenge_missing, f"DPoP {ALGS}, Bearer", 'Basic realm="reference"'),
    ("bad-token-no-error", "none", probe_bad_token_no_error, "DPoP error", "DPoP error_description"),
    ("proxy-authorization", "none", probe_proxy_authorization, 401, 200),
    (
        "cors-headers",
        "none",
        probe_cors_headers,
        ("Authorization, DPoP, Content-Type",) * 3,
        ("Authorization, Content-Type",) * 3,
    ),
    ("cors-expose", "none", probe_cors_expose, ("WWW-Authenticate, DPoP-Nonce",) * 2, (None, None)),
    ("authorization-last-line-checked", "none", probe_authorization_last_line_checked, 400, 200),
    ("authorization-first-line-checked", "none", probe_authorization_first_line_checked, 400, 200),
    ("token-cache-by-ath", "none", probe_token_cache_by_ath, (200, 400), (200, 200)),
    ("rs-algs-unenforced", "none", probe_rs_algs_unenforced, (200, 401), (200, 200)),
]


@pytest.mark.parametrize(("defects", "status"), [((), 400), (("alg-policy",), 200)])
def test_alg_policy_skips_the_allow_list_but_still_refuses_none_and_hmac(
    serve: Callable[..., RunningServer], defects: tuple[str, ...], status: int
) -> None:
    client = Client(serve(defects=defects, signing_algs=("ES256",)))
    try:
        rsa = Key(jwk.JWK.generate(kty="RSA", size=2048), "RS256")
        assert _token_with(client, rsa.proof("POST", client.base + "/token")).status_code == status
        assert (probe_alg_none(client), probe_alg_hs256(client)) == (400, 400)
        # A key with no algorithm of its own (secp256k1) has nothing to fall back to.
        k1 = Key(jwk.JWK.generate(kty="EC", crv="secp256k1"), "ES256K")
        assert _token_with(client, k1.proof("POST", client.base + "/token")).status_code == 400
    finally:
        client.close()


def test_jws_json_defect_still_refuses_malformed_json_without_a_server_error(
    serve: Callable[..., RunningServer],
) -> None:
    client = Client(serve(defects=("jws-json",)))
    try:
        protected, payload, signature = client.key.proof("POST", client.base + "/token").split(".")
        two = {"protected": protected, "signature": signature}
        for value in (
            "{",
            "[" * 5000,
            '{"protected": 1, "payload": "e30", "signature": ""}',
            json.dumps({"payload": payload, "signatures": [two, two]}),
            json.dumps({"payload": payload, "signatures": [two], "signature": signature}),
            json.dumps({"payload": payload, "signatures": ["x"]}),
            '{"a":' * 2000 + "1" + "}" * 2000,
        ):
            answer = _token_with(client, value)
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_dpop_proof"), value[:40]
    finally:
        client.close()


def test_defect_catalog_is_complete_and_well_formed() -> None:
    assert [entry[0] for entry in DEFECT_PROBES] == list(DEFECTS)
    assert all(
        isinstance(d, Defect) and d.name == name and d.actor in ("AS", "RS", "both") and d.description
        for name, d in DEFECTS.items()
    )
    assert ServerSettings(defects=frozenset(DEFECTS)).defects == frozenset(DEFECTS)


def test_unknown_defect_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown defect 'no-such-defect'; known defects: multiple-proofs, ") as info:
        ServerSettings(defects=frozenset({"no-such-defect"}))
    assert ", ".join(DEFECTS) in str(info.value)
    with pytest.raises(ValueError, match="nonce mode"):
        ServerSettings(nonce="sometimes")


# Lifecycle and target file -----------------------------------------------------------------------


def test_server_stops_cleanly_and_writes_its_target_file(tmp_path: Path) -> None:
    server = RunningServer(ServerSettings(client_secret='s"e\\cret'))
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        port = int(server.base_url.rsplit(":", 1)[1])
        assert httpx.get(server.base_url + "/jwks").status_code == 200
        path = server.write_target_file(tmp_path / "reference.toml")
        text = path.read_text(encoding="utf-8")
    assert text == server.target_toml()
    assert text.startswith(
        "# Target file written by `dpop-conformance serve` for the embedded reference server.\n"
        'name = "reference"\n\n[authorization_server]\n'
        f'issuer = "http://127.0.0.1:{port}"\n'
    )
    assert 'secret = "s\\"e\\\\cret"\n' in text
    assert text.endswith(
        '[public_client]\nid = "conformance-spa"\nredirect_uri = "http://127.0.0.1:8765/callback"\n'
        'login = "auto"\nscope = "read"\n'
    )
    assert f'\npar_endpoint = "http://127.0.0.1:{port}/par"\n\n[resource_server]\n' in text
    assert not server.running
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    server.stop()  # a second stop is harmless


def test_only_loopback_hosts_are_allowed() -> None:
    for host in ("0.0.0.0", "192.0.2.1", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            RunningServer(host=host)
    assert create_app(ServerSettings(), "http://127.0.0.1:1") is not None


# Leniency switches -------------------------------------------------------------------------------
# Legal behaviour of real libraries and servers: each changes one observable, as a defect does, and the
# suite judges what it changes as a warning or info at most (tests/kill_matrix.py).


def probe_b64_padding(c: Client) -> int:
    """A proof whose signature segment has = padding (an ES256 signature is 64 bytes: 86 characters)."""
    head, payload, signature = c.key.proof("POST", c.base + "/token").split(".")
    return _token_with(c, f"{head}.{payload}.{signature}==").status_code


def probe_b64_foreign_characters(c: Client) -> int:
    head, payload, signature = c.key.proof("POST", c.base + "/token").split(".")
    return _token_with(c, f"{head}.{payload}.{signature[:10]}*{signature[10:]}").status_code


def probe_b64_standard_alphabet(c: Client) -> int:
    """A proof whose signature segment is written in the standard alphabet (signed again until it has - or _)."""
    for _ in range(50):
        head, payload, signature = c.key.proof("POST", c.base + "/token").split(".")
        if "-" in signature or "_" in signature:
            standard = signature.replace("-", "+").replace("_", "/")
            return _token_with(c, f"{head}.{payload}.{standard}").status_code
    raise AssertionError("no signature with - or _ in 50 tries")


def probe_jwk_odd_member(c: Client) -> int:
    odd = Key(c.key.key, "ES256")
    odd.public = odd.public | {"crv": None}  # the key material unchanged; its thumbprint no longer computes
    return _token_with(c, odd.proof("POST", c.base + "/token")).status_code


def probe_htu_whatwg(c: Client) -> tuple[int, int]:
    """htu with the host spelt 127.1, and with a backslash for the slash before the path."""
    port = urlsplit(c.base).port
    return (
        _token_status(c, claims={"htu": f"http://127.1:{port}/token"}),
        _token_status(c, claims={"htu": f"http://127.0.0.1:{port}\\token"}),
    )


def probe_jti_any_type(c: Client) -> int:
    return _token_status(c, claims={"jti": 12345 + int(time.time() * 1000)})


def probe_close_after_error(c: Client) -> bytes | None:
    """What a connection still gives after an error answer on it: b"" (closed) or None (still open, silent)."""
    host, port = urlsplit(c.base).hostname or "", urlsplit(c.base).port or 80
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(f"GET /resource HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        time.sleep(0.3)
        sock.recv(65536)  # the 401
        sock.settimeout(0.5)
        try:
            return sock.recv(1)
        except TimeoutError:
            return None


def probe_as_proof_401(c: Client) -> tuple[int, bool]:
    """A proof with typ JWT: (status, whether a DPoP challenge names its error)."""
    answer = _token_with(c, c.key.proof("POST", c.base + "/token", header={"typ": "JWT"}))
    return answer.status_code, 'error="invalid_dpop_proof"' in answer.headers.get("www-authenticate", "")


def probe_nonce_named_invalid_proof(c: Client) -> tuple[int, str, bool]:
    """A token request without the nonce the AS demands: (status, error, whether a DPoP-Nonce came)."""
    answer = _token_with(c, c.key.proof("POST", c.base + "/token"))
    return answer.status_code, answer.json().get("error"), "dpop-nonce" in answer.headers


def probe_challenge_400(c: Client) -> int:
    return c.http.get(c.base + "/resource").status_code


def probe_bearer_header_only(c: Client) -> bool:
    """Whether the answer to a token in the query alone names an error (it read the token) or not."""
    answer = c.http.get(c.base + "/resource", params={"access_token": c.access_token()})
    return "error=" in answer.headers.get("www-authenticate", "")


def probe_authorization_lenient_split(c: Client) -> tuple[int, int]:
    """Authorization: DPoP <token> with trailing text, and with a tab after DPoP."""
    return _resource_status(c, "DPoP {at} more"), _resource_status(c, "DPoP\t{at}")


def _b64_false_proof(key: Key, htm: str, htu: str, token: str | None = None) -> str:
    """A proof with b64 false and crit [b64], its payload segment base64url and signed as sent (by hand: jwcrypto
    would sign the unencoded payload, which a compact JWS cannot carry when it holds a dot)."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public, "b64": False, "crit": ["b64"]}
    claims: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": int(time.time())}
    if token is not None:
        claims["ath"] = access_token_hash(token)
    head = f"{json_b64(header)}.{json_b64(claims)}"
    der = key.key.get_op_key("sign").sign(head.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{head}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def probe_b64_unencoded(c: Client) -> tuple[int, int]:
    """A proof with b64 false and crit [b64], at the token endpoint and at the resource."""
    at_as = _token_with(c, _b64_false_proof(c.key, "POST", c.base + "/token")).status_code
    url, at = c.base + "/resource", c.access_token()
    value = _b64_false_proof(c.key, "GET", url, at)
    return at_as, c.http.get(url, headers={"Authorization": f"DPoP {at}", "DPoP": value}).status_code


def probe_lossy_store(c: Client) -> list[bool]:
    """What the store's lookups lose while more than one request is in flight (five lookups, two in flight)."""
    from conformance.reference.context import ServerContext

    context = ServerContext(settings=c.server.settings, base_url=c.base)
    context.in_flight = 2
    return [context.lost() for _ in range(5)]


LENIENCY_PROBES: list[tuple[str, str, Callable[[Client], Any], Any, Any]] = [
    ("b64-padding", "none", probe_b64_padding, 400, 200),
    ("b64-foreign-characters", "none", probe_b64_foreign_characters, 400, 200),
    ("b64-standard-alphabet", "none", probe_b64_standard_alphabet, 400, 200),
    ("jwk-odd-member", "none", probe_jwk_odd_member, 400, 200),
    ("htu-whatwg", "none", probe_htu_whatwg, (400, 400), (200, 200)),
    ("jti-any-type", "none", probe_jti_any_type, 400, 200),
    ("close-after-error", "none", probe_close_after_error, None, b""),
    ("as-proof-401", "none", probe_as_proof_401, (400, False), (401, True)),
    (
        "nonce-named-invalid-proof",
        "as",
        probe_nonce_named_invalid_proof,
        (400, "use_dpop_nonce", True),
        (400, "invalid_dpop_proof", True),
    ),
    ("exp-nbf-ignored", "none", probe_exp_nbf_ignored, (400, 401, 400, 401), (200, 200, 200, 200)),
    ("rsa-small-keys", "none", probe_rsa_small_keys, (400, None, None), (200, True, 401)),
    ("challenge-scheme", "none", probe_challenge_scheme, f"DPoP {ALGS}, Bearer", "Bearer"),
    ("challenge-400", "none", probe_challenge_400, 401, 400),
    ("lossy-store", "none", probe_lossy_store, [False] * 5, [False, False, False, False, True]),
    ("bearer-header-only", "none", probe_bearer_header_only, True, False),
    ("authorization-lenient-split", "none", probe_authorization_lenient_split, (400, 400), (200, 200)),
    ("b64-unencoded", "none", probe_b64_unencoded, (400, 401), (200, 200)),
]


SWITCH_PROBES = [("defects", *entry) for entry in DEFECT_PROBES] + [("leniencies", *entry) for entry in LENIENCY_PROBES]


@pytest.mark.parametrize(
    ("kind", "switch", "mode", "probe", "clean_result", "switched_result"),
    SWITCH_PROBES,
    ids=[f"{entry[0][:-1]}:{entry[1]}" for entry in SWITCH_PROBES],
)
def test_switch_changes_behaviour(
    serve: Callable[..., RunningServer],
    kind: str,
    switch: str,
    mode: str,
    probe: Callable[[Client], Any],
    clean_result: Any,
    switched_result: Any,
) -> None:
    """Each defect or leniency changes its one observable: the clean server and the switched one disagree."""
    for switches, expected in (((), clean_result), ((switch,), switched_result)):
        client = Client(serve(nonce=mode, **{kind: switches}))
        try:
            assert probe(client) == expected, switches
        finally:
            client.close()


def test_leniency_catalog_is_complete() -> None:
    assert [entry[0] for entry in LENIENCY_PROBES] == list(LENIENCIES)
