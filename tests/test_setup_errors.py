"""A broken setup is never a verdict on the target: the preflight stops the run, in a few lines, with the fix.

Real servers on loopback: the reference server with a changed secret, client id, grant or scope; a closed
port; an HTTP server that answers HTML; a redirecting one; a proxy that refuses the client half-way through.
Each ends with exit 3, no `failed` case, the cause named in the last lines, and at most 40 lines of output.
Then: relative paths in a target file, `check`, and every option with an impossible value.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client.keys import generate_key
from conformance.reference import RunningServer, ServerSettings

CLI = [sys.executable, "-m", "conformance"]
MAX_LINES = 40


def run(tmp_path: Path, text: str, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any], list[str]]:
    config = tmp_path / "target.toml"
    config.write_text(text)
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "run", "--config", str(config), "--report-dir", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return done.returncode, results, (done.stdout + done.stderr).splitlines()


@pytest.fixture(scope="module")
def reference() -> Iterator[RunningServer]:
    with RunningServer(ServerSettings(nonce="both")) as server:
        yield server


def _assert_setup_failure(status: int, results: dict[str, Any], lines: list[str], *words: str) -> None:
    assert status == 3, "\n".join(lines[-20:])
    assert results["summary"]["failed"] == 0 and results["summary"]["passed"] == 0
    assert results["preflight"]["ok"] is False
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines:\n" + "\n".join(lines)
    tail = "\n".join(lines[-12:])  # the setup failure's lines (its cause and fix wrapped), then the run's facts
    assert "setup failed:" in tail and "fix:" in tail, tail
    # read as one text: the terminal wraps a cause or a fix onto lines of its own
    text = " ".join(line.removeprefix("dpop-conformance:").strip() for line in lines[-12:])
    for word in words:
        assert word in text, f"{word!r} not in the last lines:\n{tail}"
    assert "Traceback" not in "\n".join(lines)
    assert len(results["causes"]) == 1 and results["causes"][0]["count"] == results["summary"]["error"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("secret = ", 'secret = "not-the-secret"\n#'), ("invalid_client", "[client] id, secret")),
        (('id = "conformance-client"', 'id = "nobody"'), ("invalid_client",)),
        (('scope = "read"', 'scope = "write"'), ("invalid_scope", "scope")),
        (
            ('grant_type = "client_credentials"', 'grant_type = "refresh_token"\nrefresh_token = "not-one"'),
            ("refresh_token grant was refused", "invalid_grant"),
        ),
    ],
    ids=["wrong-secret", "wrong-client-id", "wrong-scope", "refused-refresh-token"],
)
def test_a_refused_client_stops_the_run_with_the_fix(
    tmp_path: Path, reference: RunningServer, change: tuple[str, str], words: tuple[str, ...]
) -> None:
    text = reference.target_toml()
    old, new = change
    text = (
        re.sub(rf"^{re.escape(old)}.*$", new, text, count=1, flags=re.M)
        if old.endswith(" = ")
        else text.replace(old, new, 1)
    )
    status, results, lines = run(tmp_path, text)
    _assert_setup_failure(status, results, lines, *words)
    assert sum(results["requests"].values()) <= 3, "the run went on sending after the set-up failed"


def test_a_closed_port_stops_the_run(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the run starts
    text = (
        f'name = "closed"\ntimeout = 2\n[authorization_server]\ntoken_endpoint = "http://127.0.0.1:{port}/token"\n'
        f'[resource_server]\nurl = "http://127.0.0.1:{port}/resource"\n[client]\nid = "c"\nsecret = "a-secret"\n'
    )
    status, results, lines = run(tmp_path, text)
    _assert_setup_failure(status, results, lines, "did not answer", "reachable")


class _Answer(BaseHTTPRequestHandler):
    """HTML for everything (a login page where the token endpoint belongs), or a redirect."""

    mode = "html"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://login.example.com/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<html><body>Please log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.mark.parametrize(("mode", "words"), [("html", ("HTML", "token endpoint")), ("redirect", ("redirected",))])
def test_a_wrong_url_stops_the_run(tmp_path: Path, mode: str, words: tuple[str, ...]) -> None:
    handler = type("Handler", (_Answer,), {"mode": mode})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    text = (
        f'name = "wrong-url"\n[authorization_server]\ntoken_endpoint = "http://127.0.0.1:{port}/token"\n'
        f'[resource_server]\nurl = "http://127.0.0.1:{port}/resource"\n[client]\nid = "c"\nsecret = "a-secret"\n'
    )
    try:
        status, results, lines = run(tmp_path, text)
    finally:
        server.shutdown()
    _assert_setup_failure(status, results, lines, *words)


@pytest.mark.slow
def test_the_resource_refusing_the_token_itself_is_no_verdict(tmp_path: Path, reference: RunningServer) -> None:
    """A resource of another AS (or audience): invalid_token for a fresh token with a valid proof.

    Not a stop of the run: invalid_token is also what a binding failure looks like (RFC 9449 figure 16), so
    the cases run; no case fails for it, and the resource's cases say why in one grouped line.
    """
    with RunningServer(ServerSettings(nonce="none")) as other:
        text = reference.target_toml().replace(f"{reference.base_url}/resource", f"{other.base_url}/resource")
        status, results, lines = run(tmp_path, text, "--", "-m", "not fuzz")
    assert status == 3 and results["summary"]["failed"] == 0, [
        (c["id"], c["message"][:200]) for c in results["cases"] if c["outcome"] == "failed"
    ]
    accepted = next(c for c in results["cases"] if c["id"] == "rs-accepts-dpop-request")
    assert accepted["outcome"] == "error" and "audience" in accepted["message"]
    assert len(lines) <= MAX_LINES, "\n".join(lines)


@pytest.mark.slow
def test_a_valid_proof_refused_as_a_proof_is_the_targets_finding(tmp_path: Path) -> None:
    """Not a setup problem: as-proof-accepted fails; the cases that need a token say why, grouped."""
    done = subprocess.run(
        [*CLI, "run", "--report-dir", str(tmp_path), "--reference-defect", "htu-https-assumed", "--", "-m", "not fuzz"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1
    assert results["preflight"]["ok"] is True
    outcomes = {c["id"]: c["outcome"] for c in results["cases"]}
    assert outcomes["as-proof-accepted"] == "failed"
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    biggest = results["causes"][0]
    assert biggest["count"] > 100 and "invalid_dpop_proof" in biggest["cause"]
    assert any(f"{biggest['count']} cases could not be judged" in line for line in lines)


class _RefusingProxy:
    """Forwards to the reference server until it has passed `allowed` token requests, then answers every token
    request with 401 invalid_client: a client revoked in the middle of a run."""

    def __init__(self, allowed: int) -> None:
        self.upstream = ""
        self.allowed = allowed
        self.lock = threading.Lock()
        proxy = self

        upstream_client = httpx.Client(trust_env=False)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits for a delayed ACK (40 ms)

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/token"):
                    with proxy.lock:
                        proxy.allowed -= 1
                        refuse = proxy.allowed < 0
                    if refuse:
                        payload = b'{"error":"invalid_client","error_description":"client revoked"}'
                        self.send_response(401)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in ("host", "content-length")]
                answer = upstream_client.request(
                    self.command, proxy.upstream + self.path, headers=headers, content=body
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.multi_items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.slow
def test_a_client_refused_in_the_middle_of_a_run_is_never_a_failure(tmp_path: Path) -> None:
    """Anywhere in the run, invalid_client (or a 401 at the token endpoint) makes a case error, with that cause."""
    proxy = _RefusingProxy(allowed=60)
    # the reference server behind the proxy: its issuer, endpoints and htu checks name the proxy's URL
    with RunningServer(ServerSettings(nonce="none"), public_url=proxy.base_url) as upstream:
        proxy.upstream = upstream.listen_url
        status, results, lines = run(tmp_path, upstream.target_toml(), "--", "-m", "not fuzz")
    proxy.server.shutdown()
    outcomes = {c["id"]: c["outcome"] for c in results["cases"]}
    assert results["preflight"]["ok"] is True
    assert sum(1 for c, o in outcomes.items() if o == "passed" and c.startswith("as-")) > 10  # before the revocation
    assert "failed" not in outcomes.values(), [c for c, o in outcomes.items() if o == "failed"]
    assert status == 3
    refused = [g for g in results["causes"] if "invalid_client" in g["cause"]]
    assert len(refused) == 1 and refused[0]["cause"].startswith("the client was refused"), results["causes"]
    assert len(lines) <= MAX_LINES, "\n".join(lines)


def test_paths_in_a_target_file_are_relative_to_it(tmp_path: Path, reference: RunningServer) -> None:
    """Secret, key and CA paths next to the target file work from any working directory."""
    from cryptography.hazmat.primitives import serialization

    settings = reference.settings
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "secret.txt").write_text(settings.client_secret + "\n")
    key = generate_key("ES256")
    (folder / "dpop-key.pem").write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    import certifi

    shutil.copy(certifi.where(), folder / "ca.pem")  # any PEM bundle: loopback is plain HTTP here
    text = reference.target_toml().replace(f'secret = "{settings.client_secret}"', 'secret_file = "secret.txt"')
    text = text.replace('name = "reference"', 'name = "relative"\nca_file = "ca.pem"')
    config = folder / "target.toml"
    config.write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            *CLI,
            "run",
            "--config",
            str(config),
            "--report-dir",
            str(tmp_path / "out"),
            "--",
            "-m",
            "not fuzz",
            "-k",
            "accepts_valid_proof",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    rs_only = (
        f'name = "rs-only"\n[resource_server]\nurl = "{reference.base_url}/resource"\n'
        'access_token_file = "token.txt"\ndpop_key_file = "dpop-key.pem"\n'
    )
    (folder / "token.txt").write_text("a-token-that-the-server-will-refuse")
    (folder / "rs.toml").write_text(rs_only)
    checked = subprocess.run(
        [*CLI, "check", "--config", "targets/rs.toml"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr


def test_check_prints_the_plan_and_sends_nothing(tmp_path: Path) -> None:
    text = (
        'name = "planned"\n[authorization_server]\nissuer = "https://as.example.invalid"\n'
        'token_endpoint = "https://as.example.invalid/token"\n[resource_server]\nurl = "https://api.example.invalid/me"\n'
        '[client]\nid = "c"\nsecret = "${PLAN_SECRET}"\n'
    )
    config = tmp_path / "target.toml"
    config.write_text(text)
    done = subprocess.run(
        [*CLI, "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PLAN_SECRET": "s3cr3t-value"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "is a valid target file" in out
    assert "https://as.example.invalid: " in out and "the client secret (HTTP Basic)" in out
    assert "https://api.example.invalid: access tokens, DPoP proofs" in out
    assert "the target file has no [public_client]" in out
    assert "only where the server demands nonces" in out
    assert "s3cr3t-value" not in out
    bad = subprocess.run([*CLI, "check", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "PLAN_SECRET" in bad.stderr and "Traceback" not in bad.stderr


def test_check_discover_fetches_only_the_metadata(reference: RunningServer, tmp_path: Path) -> None:
    text = "\n".join(
        line
        for line in reference.target_toml().splitlines()
        if not line.startswith(("token_endpoint", "authorization_endpoint", "introspection_endpoint", "par_endpoint"))
    )
    config = tmp_path / "target.toml"
    config.write_text(text)
    done = subprocess.run(
        [*CLI, "check", "--config", str(config), "--discover"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"{reference.base_url}/token (discovered)" in done.stdout
    assert f"{reference.base_url}/par (discovered)" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fuzz-examples", "-1"], "--fuzz-examples -1: give 0 or more"),
        (["--workers", "0"], "--workers 0: give 1 or more"),
        (["--strict", "--fail-on", "must"], "--strict and --fail-on must contradict each other"),
        (["--fuzz-rate", "0"], "--fuzz-rate 0: give a positive number"),
        (["--max-rps", "0"], "--max-rps 0: give a positive number"),
        (["--deadline", "0"], "--deadline 0: give a positive number"),
        (["--max-requests", "-1"], "--max-requests -1: give 1 or more"),
        (["--max-requests", "0"], "--max-requests 0: give 1 or more"),
        (["--fuzz-seed", "x"], "not a seed"),
        (["--reference-port", "70000"], "--reference-port 70000 is not a port number"),
        (["--baseline", "missing.json"], "--baseline missing.json: no such file"),
        (["--ca-file", "missing.pem"], "--ca-file missing.pem: no such file"),
        (["--", "-k", "nothing_matches_this"], "no case selected"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v).strip("-"),
)
def test_an_impossible_option_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [*CLI, "run", "--report-dir", str(tmp_path), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout[-1000:] + done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], errors
    assert "Traceback" not in done.stderr and "dpop-baseline" not in done.stderr


def test_a_file_that_is_not_a_baseline_is_named_with_the_cli_option(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cases": "none"}')
    done = subprocess.run(
        [*CLI, "run", "--report-dir", str(tmp_path), "--baseline", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and f"--baseline {bad}: not a baseline file" in done.stderr


def test_tox_local_passes_the_dpop_variables() -> None:
    tox = (Path(__file__).resolve().parent.parent / "tox.ini").read_text()
    local = tox.split("[testenv:local]", 1)[1].split("\n[", 1)[0]
    assert "passenv = DPOP_*" in local


def test_serve_demands_nonces_as_run_does_and_names_its_clients() -> None:
    server = subprocess.Popen([*CLI, "serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("press Ctrl-C"):
                break
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = "".join(lines)
    assert "nonces: both" in text
    assert "conformance-client" in text and "--write-config" in text and "conformance-spa" in text
