"""Misbehaving targets: real (broken) servers on loopback. The run ends, bounded, with errors and status 3.

A token endpoint that hangs, answers slowly, closes the connection, answers 5xx, HTML, JSON without a
token or a 50 MB body, or redirects elsewhere gives `error` verdicts (never `failed`, never a traceback)
with a one-line reason, and exit status 3.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# "Connection: close": the server answers one request per connection, and says so, so that a client never
# races it by reusing a connection it is closing (that would be a different misbehaviour)
RESPONSES = {
    "500": b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 5\r\n\r\noops!",
    "html": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: 21\r\n\r\n"
    b"<html>login...</html>",
    "no-token": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 22\r\n"
    b'\r\n{"token_type": "DPoP"}',
}


class BrokenServer:
    """A loopback TCP server that misbehaves in one named way on every request."""

    def __init__(self, mode: str, redirect_to: int = 0) -> None:
        self.mode = mode
        self.redirect_to = redirect_to
        self.requests = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = conn.recv(65536)
            if not data:
                return
            self.requests += 1
            if self.mode == "hang":
                self.stop.wait(30)
            elif self.mode == "slow":
                self.stop.wait(3)
                conn.sendall(RESPONSES["500"])
            elif self.mode == "close":
                pass
            elif self.mode == "huge":
                size = 50 * 1024 * 1024
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(size).encode()
                    + b"\r\n\r\n"
                )
                chunk = b"x" * 65536
                for _ in range(size // len(chunk)):
                    if self.stop.is_set():
                        break
                    conn.sendall(chunk)
            elif self.mode == "redirect":
                location = f"http://127.0.0.2:{self.redirect_to}/token".encode()
                conn.sendall(
                    b"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                conn.sendall(RESPONSES[self.mode])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenServer]:
    server = BrokenServer(request.param)
    yield server
    server.close()


def run_against(tmp_path: Path, port: int, *extra: str) -> tuple[int, dict[str, object], str, float]:
    """Run the suite against a broken server that plays both the AS and the RS."""
    return run_config(
        tmp_path,
        f'name = "broken"\ntimeout = 1\n[authorization_server]\ntoken_endpoint = "http://127.0.0.1:{port}/token"\n'
        f'[resource_server]\nurl = "http://127.0.0.1:{port}/resource"\n[client]\nid = "c"\n'
        'secret = "the-client-secret-value"\n',
        *extra,
    )


def run_config(tmp_path: Path, config_text: str, *extra: str) -> tuple[int, dict[str, object], str, float]:
    """Run the CLI on a target file; (status, results.json, terminal output, seconds)."""
    config = tmp_path / "target.toml"
    config.write_text(config_text)
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--config",
            str(config),
            "--report-dir",
            str(tmp_path / "out"),
            "--fuzz-seed",
            "1",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - start
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    return done.returncode, results, done.stdout + done.stderr, elapsed


@pytest.mark.parametrize("broken", ["hang", "slow", "close", "500", "html", "no-token", "huge"], indirect=True)
def test_broken_token_endpoint_gives_errors_and_status_3(tmp_path: Path, broken: BrokenServer) -> None:
    status, results, output, elapsed = run_against(tmp_path, broken.port)
    summary = results["summary"]  # type: ignore[index]
    assert status == 3, output[-2000:]
    assert summary["failed"] == 0 and summary["passed"] == 0, summary
    assert summary["error"] > 0
    assert elapsed < 120, f"the run took {elapsed:.0f} s"
    assert "Traceback" not in output
    assert "the-client-secret-value" not in output
    for case in results["cases"]:  # type: ignore[attr-defined]
        if case["outcome"] == "error":
            assert case["message"] and "\n" not in case["message"].split("Likely cause")[0].strip(), case


def test_redirect_is_not_followed_and_credentials_stay(tmp_path: Path) -> None:
    elsewhere = BrokenServer("500")
    redirector = BrokenServer("redirect", redirect_to=elsewhere.port)
    try:
        status, results, _, _ = run_against(tmp_path, redirector.port, "--", "-m", "not fuzz")
    finally:
        redirector.close()
        elsewhere.close()
    assert status == 3
    assert elsewhere.requests == 0, "a request followed the redirect to another host"
    assert results["summary"]["failed"] == 0  # type: ignore[index]


def test_deadline_bounds_a_hanging_target(tmp_path: Path) -> None:
    server = BrokenServer("hang")
    try:
        status, results, _, elapsed = run_against(tmp_path, server.port, "--deadline", "3", "--", "-m", "not fuzz")
    finally:
        server.close()
    assert status == 3 and elapsed < 60
    messages = " ".join(c["message"] for c in results["cases"])  # type: ignore[attr-defined]
    assert "did not answer" in messages


@pytest.mark.slow
def test_resource_answering_5xx_only_errors_the_resource_cases(tmp_path: Path) -> None:
    """A healthy AS in front of a resource that answers 500 to everything: AS cases are judged, RS cases error."""
    from conformance.reference import RunningServer, ServerSettings

    resource = BrokenServer("500")
    try:
        with RunningServer(ServerSettings(nonce="both")) as server:
            text = server.target_toml().replace(
                f'url = "{server.base_url}/resource"', f'url = "http://127.0.0.1:{resource.port}/resource"'
            )
            status, results, output, _ = run_config(tmp_path, text, "--", "-m", "not fuzz")
            secret = server.settings.client_secret
    finally:
        resource.close()
    assert status == 3, output[-2000:]
    by_actor: dict[str, set[str]] = {"AS": set(), "RS": set()}
    for case in results["cases"]:
        by_actor[case["actor"]].add(case["outcome"])
    assert "passed" in by_actor["AS"] and "failed" not in by_actor["AS"], by_actor
    assert by_actor["RS"] <= {"error", "skipped"} and "error" in by_actor["RS"], by_actor
    assert results["summary"]["failed"] == 0
    errors = [c["message"] for c in results["cases"] if c["outcome"] == "error"]
    # every error is the resource's 500 (AS cases that need the resource too, e.g. as-nonce-from-rs, included)
    odd = [m for m in errors if "/resource -> 500" not in m]
    assert not odd, odd[:3]
    assert resource.requests > 0
    assert "Traceback" not in output and secret not in output
