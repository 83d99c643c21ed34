"""The DPoP client flow against the real reference server: grants, client auth, nonces, login, evidence."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.client.evidence import Redactor, render_exchanges
from conformance.client.flow import ClientAuth, DPoPClient, FlowError, is_nonce_challenge, parse_challenges
from conformance.client.keys import DPoPKey, generate_key
from conformance.client.request import Request
from conformance.jose import peek_claims
from conformance.reference import RunningServer


@pytest.fixture
def client() -> Iterator[DPoPClient]:
    dpop_client = DPoPClient(timeout=5.0)
    yield dpop_client
    dpop_client.close()


def confidential(server: RunningServer, method: str, jwt_key: DPoPKey | None = None) -> ClientAuth:
    if method == "private_key_jwt":
        return ClientAuth(server.settings.jwt_client_id, method, assertion_key=jwt_key)
    return ClientAuth(server.settings.client_id, method, server.settings.client_secret)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
def test_client_credentials_with_each_client_authentication(
    server: RunningServer, client: DPoPClient, method: str, jwt_client_key: DPoPKey
) -> None:
    key = generate_key("ES256")
    sent = client.token_request(
        f"{server.base_url}/token",
        {"grant_type": "client_credentials"},
        confidential(server, method, jwt_client_key),
        Request(label="token request", key=key),
    )
    tokens = client.tokens_from(sent)
    assert tokens.token_type == "DPoP"
    claims = peek_claims(tokens.access_token)
    assert claims is not None and claims["cnf"]["jkt"] == key.thumbprint()
    if server.settings.nonce == "both":
        assert sent.challenged and is_nonce_challenge(sent.exchanges[0])
        proof_claims = peek_claims(sent.exchanges[1].proofs[0])
        first_claims = peek_claims(sent.exchanges[0].proofs[0])
        assert proof_claims and first_claims
        assert proof_claims["nonce"] == sent.exchanges[0].header("DPoP-Nonce")
        assert proof_claims["jti"] != first_claims["jti"]  # the retry is a new proof
    else:
        assert not sent.challenged


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"])
def test_every_proof_algorithm_is_accepted_end_to_end(server: RunningServer, client: DPoPClient, alg: str) -> None:
    """Every algorithm the AS advertises binds a token; the resource takes those it advertises (not RS256)."""
    key = generate_key(alg)
    sent = client.token_request(
        f"{server.base_url}/token",
        {"grant_type": "client_credentials"},
        confidential(server, "client_secret_basic"),
        Request(label="token request", key=key),
    )
    tokens = client.tokens_from(sent)
    resource = client.resource_request(
        f"{server.base_url}/resource", tokens.access_token, Request(label="resource request", key=key)
    )
    assert resource.final.status == (200 if alg in server.settings.rs_algs else 401)


def test_nonce_is_remembered_and_used_next_time(server: RunningServer, client: DPoPClient) -> None:
    if server.settings.nonce == "none":
        pytest.skip("needs nonces")
    key = generate_key("ES256")
    auth = confidential(server, "client_secret_basic")
    client.tokens_from(
        client.token_request(
            f"{server.base_url}/token",
            {"grant_type": "client_credentials"},
            auth,
            Request(label="token request", key=key),
        )
    )
    second = client.token_request(
        f"{server.base_url}/token", {"grant_type": "client_credentials"}, auth, Request(label="token request", key=key)
    )
    assert not second.challenged and second.final.status == 200
    tokens = client.tokens_from(second)
    first_rs = client.resource_request(
        f"{server.base_url}/resource", tokens.access_token, Request(label="resource request", key=key)
    )
    assert first_rs.challenged and first_rs.final.status == 200
    second_rs = client.resource_request(
        f"{server.base_url}/resource", tokens.access_token, Request(label="resource request", key=key)
    )
    assert not second_rs.challenged and second_rs.final.status == 200


def test_authorization_code_with_pkce_dpop_jkt_and_bound_refresh(server: RunningServer, client: DPoPClient) -> None:
    key = generate_key("ES256")
    settings = server.settings
    code, verifier = client.authorize(
        f"{server.base_url}/authorize",
        settings.public_client_id,
        settings.redirect_uri,
        scope="read",
        dpop_jkt=key.thumbprint(),
    )
    public = ClientAuth(settings.public_client_id, "none")
    grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.redirect_uri,
        "code_verifier": verifier,
    }
    tokens = client.tokens_from(
        client.token_request(f"{server.base_url}/token", grant, public, Request(label="token request", key=key))
    )
    assert tokens.refresh_token
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    other = client.token_request(
        f"{server.base_url}/token", refresh, public, Request(label="token request", key=generate_key("ES256"))
    )
    assert other.final.status == 400  # the public client's refresh token is bound to `key`
    renewed = client.tokens_from(
        client.token_request(f"{server.base_url}/token", refresh, public, Request(label="token request", key=key))
    )
    claims = peek_claims(renewed.access_token)
    assert claims is not None and claims["cnf"]["jkt"] == key.thumbprint()


def test_dpop_jkt_mismatch_at_code_redemption_is_refused(server: RunningServer, client: DPoPClient) -> None:
    key, other = generate_key("ES256"), generate_key("ES256")
    settings = server.settings
    code, verifier = client.authorize(
        f"{server.base_url}/authorize", settings.public_client_id, settings.redirect_uri, dpop_jkt=key.thumbprint()
    )
    grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.redirect_uri,
        "code_verifier": verifier,
    }
    sent = client.token_request(
        f"{server.base_url}/token",
        grant,
        ClientAuth(settings.public_client_id, "none"),
        Request(label="token request", key=other),
    )
    assert sent.final.status == 400 and sent.final.json_object()["error"] == "invalid_grant"


def test_login_command_receives_the_url_and_returns_the_redirect(
    server: RunningServer, client: DPoPClient, tmp_path: Path
) -> None:
    script = tmp_path / "login.py"
    script.write_text(
        "import os, httpx\n"
        "url = os.environ['DPOP_AUTHORIZATION_URL']\n"
        "for _ in range(5):\n"
        "    r = httpx.get(url)\n"
        "    url = str(r.url.join(r.headers['location']))\n"
        "    if url.startswith(os.environ['DPOP_REDIRECT_URI']):\n"
        "        break\n"
        "print('logged in')\n"
        "print(url)\n"
    )
    settings = server.settings
    code, _ = client.authorize(
        f"{server.base_url}/authorize",
        settings.public_client_id,
        settings.redirect_uri,
        login="command",
        login_command=f"{sys.executable} {script}",
    )
    assert code


def test_login_command_failures_are_clear(server: RunningServer, client: DPoPClient) -> None:
    settings = server.settings
    with pytest.raises(FlowError, match="must print the final redirect URL"):
        client.authorize(
            f"{server.base_url}/authorize",
            settings.public_client_id,
            settings.redirect_uri,
            login="command",
            login_command=f"{sys.executable} -c pass",
        )
    with pytest.raises(FlowError, match="not found"):
        client.authorize(
            f"{server.base_url}/authorize",
            settings.public_client_id,
            settings.redirect_uri,
            login="command",
            login_command="/nonexistent/login-helper",
        )


def test_api_calls_follow_no_redirects(server: RunningServer, client: DPoPClient) -> None:
    ex = client.exchange("authorize", "GET", f"{server.base_url}/authorize?client_id=x")
    assert ex.status in (302, 400) and len(client.log) == 1


def test_evidence_redacts_every_secret(server: RunningServer, jwt_client_key: DPoPKey) -> None:
    redactor = Redactor()
    redactor.add(server.settings.client_secret, "client_secret")
    client = DPoPClient(timeout=5.0, redactor=redactor)
    key = generate_key("ES256")
    settings = server.settings
    tokens = client.tokens_from(
        client.token_request(
            f"{server.base_url}/token",
            {"grant_type": "client_credentials"},
            confidential(server, "client_secret_post"),
            Request(label="token request", key=key),
        )
    )
    client.tokens_from(
        client.token_request(
            f"{server.base_url}/token",
            {"grant_type": "client_credentials"},
            confidential(server, "private_key_jwt", jwt_client_key),
            Request(label="token request", key=key),
        )
    )
    code, verifier = client.authorize(f"{server.base_url}/authorize", settings.public_client_id, settings.redirect_uri)
    public = client.tokens_from(
        client.token_request(
            f"{server.base_url}/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": settings.redirect_uri,
            },
            ClientAuth(settings.public_client_id, "none"),
            Request(label="token request", key=key),
        )
    )
    client.resource_request(
        f"{server.base_url}/resource", tokens.access_token, Request(label="resource request", key=key)
    )
    text = render_exchanges(client.log, redactor)
    for secret in (
        settings.client_secret,
        tokens.access_token,
        public.access_token,
        public.refresh_token or "x" * 9,
        code,
        verifier,
    ):
        assert secret not in text
    assert "<redacted:access_token>" in text and "<redacted:client_secret>" in text
    assert "<redacted:authorization_code>" in text and "<redacted:refresh_token>" in text
    client.close()


def test_a_hanging_server_gives_a_timeout_not_a_hang() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # and never answer
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client = DPoPClient(timeout=0.5)
    try:
        start = time.monotonic()
        ex = client.exchange("hang", "GET", f"http://127.0.0.1:{listener.getsockname()[1]}/token")
        assert time.monotonic() - start < 3
        assert ex.status is None and ex.error is not None and "timeout" in ex.error
    finally:
        stop.set()
        thread.join()
        client.close()
        for conn in accepted:
            conn.close()
        listener.close()


def test_refused_connection_is_an_error_not_an_exception() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = DPoPClient(timeout=2.0)
    ex = client.exchange("closed port", "GET", f"http://127.0.0.1:{port}/")
    assert ex.status is None and ex.error and "Connect" in ex.error
    with pytest.raises(FlowError, match="did not answer"):
        from conformance.client.flow import Sent

        client.tokens_from(Sent([ex]))
    client.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
            [
                (
                    "DPoP",
                    {"error": "use_dpop_nonce", "error_description": "Resource server requires nonce in DPoP proof"},
                )
            ],
        ),
        (
            'Bearer error="invalid_token", DPoP algs="ES256 PS256"',
            [("Bearer", {"error": "invalid_token"}), ("DPoP", {"algs": "ES256 PS256"})],
        ),
        ("dpop algs=ES256, Basic", [("dpop", {"algs": "ES256"}), ("Basic", {})]),
        (
            'DPoP error_description="a \\"quoted\\" word, and a comma"',
            [("DPoP", {"error_description": 'a "quoted" word, and a comma'})],
        ),
    ],
)
def test_parse_challenges(value: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert parse_challenges(value) == expected
