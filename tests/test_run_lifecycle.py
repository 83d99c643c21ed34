"""A run's life from a real CLI: what it refuses before sending, what its report folder shows, how it stops.

- Input errors are one line and exit 2, before anything is sent (a CA file that is not PEM, --max-requests 0, an
  empty environment variable, with the fork's pull request said as such).
- The preflight refuses a resource URL that is no protected resource (2xx without credentials, an HTML page).
- A report folder always shows one whole run: a run that judged nothing, or was interrupted, leaves the previous
  report as it was.
- SIGTERM, SIGINT and even SIGKILL of the CLI leave no process sending to the target.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.reference import RunningServer, ServerSettings

CLI = [sys.executable, "-m", "conformance"]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The run's single error line (exit 2, no traceback)."""
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


# --- input errors ---------------------------------------------------------------------------------


def test_a_ca_file_that_is_not_pem_is_one_line_before_anything_is_sent(tmp_path: Path) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a" + os.urandom(64))
    line = one_line_error(cli("run", "--ca-file", str(der), "--report-dir", str(tmp_path / "out")))
    assert "--ca-file" in line and str(der) in line and "PEM" in line
    config = tmp_path / "target.toml"
    config.write_text(
        f'name = "t"\nca_file = "{der}"\n[authorization_server]\ntoken_endpoint = "https://127.0.0.1:9/token"\n'
        '[client]\nid = "c"\nsecret = "s"\n'
    )
    for command in (("check", "--config", str(config)), ("run", "--config", str(config))):
        line = one_line_error(
            cli(*command, "--report-dir", str(tmp_path / "out")) if command[0] == "run" else cli(*command)
        )
        assert "ca_file" in line and str(der) in line and "PEM" in line
    assert not (tmp_path / "out" / "results.json").exists()


def test_compare_does_not_write_its_html_page_to_a_terminal(tmp_path: Path) -> None:
    import pty

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"target": {"name": "a"}, "summary": {"passed": 1}, "cases": []}))
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, "compare", str(results)], stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2 and "give --output FILE, or --format markdown" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # into a file or a pipe it writes the page
    piped = cli("compare", str(results))
    assert piped.returncode == 0 and piped.stdout.lstrip().startswith("<!DOCTYPE html>"), piped.stderr


def test_max_requests_zero_is_a_usage_error(tmp_path: Path) -> None:
    line = one_line_error(cli("run", "--max-requests", "0", "--report-dir", str(tmp_path)))
    assert "--max-requests 0: give 1 or more" in line


def test_an_empty_variable_says_so_and_names_a_forks_pull_request(tmp_path: Path) -> None:
    config = tmp_path / "target.toml"
    config.write_text(
        'name = "t"\n[authorization_server]\ntoken_endpoint = "https://127.0.0.1:9/token"\n'
        '[client]\nid = "c"\nsecret = "${DPOP_CLIENT_SECRET}"\n'
    )
    line = one_line_error(cli("check", "--config", str(config), env={"DPOP_CLIENT_SECRET": ""}))
    assert "${DPOP_CLIENT_SECRET}, which is set but empty" in line and "fork" not in line
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "head": {"repo": {"full_name": "someone/dpop-conformance", "fork": True}},
                    "base": {"repo": {"full_name": "vendor/dpop-conformance", "fork": False}},
                }
            }
        )
    )
    github = {
        "DPOP_CLIENT_SECRET": "",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
    }
    line = one_line_error(cli("run", "--config", str(config), "--report-dir", str(tmp_path / "out"), env=github))
    assert "set but empty" in line and "a pull request from a fork" in line and "no secrets" in line


# --- the preflight: a resource that is no protected resource -------------------------------------


class _Page(http.server.BaseHTTPRequestHandler):
    """A login page (HTML) or an open API (JSON), both answering 200 to anyone."""

    kind = "html"

    def do_GET(self) -> None:
        html = self.server.kind == "html"  # type: ignore[attr-defined]
        body = b"<html><body><form>Sign in</form></body></html>" if html else b'{"open": true}'
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[RunningServer]:
    with RunningServer(ServerSettings(nonce="none")) as server:
        yield server


@pytest.mark.parametrize("kind", ["html", "json"])
def test_a_resource_url_that_answers_without_credentials_is_a_setup_failure(
    reference: RunningServer, tmp_path: Path, kind: str
) -> None:
    page = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    page.kind = kind  # type: ignore[attr-defined]
    threading.Thread(target=page.serve_forever, daemon=True).start()
    try:
        config = reference.write_target_file(tmp_path / "target.toml")
        url = f"http://127.0.0.1:{page.server_address[1]}/account"
        text = config.read_text().replace(f'url = "{reference.base_url}/resource"', f'url = "{url}"')
        assert url in text
        config.write_text(text)
        out = tmp_path / "out"
        done = cli("run", "--config", str(config), "--report-dir", str(out), "--actor", "RS", "--fuzz-examples", "0")
    finally:
        page.shutdown()
    assert done.returncode == 3, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["failed"] == 0 and results["summary"]["warning"] == 0
    assert results["preflight"]["ok"] is False
    assert "without any credentials: it is not a protected resource" in results["preflight"]["cause"]
    assert "[resource_server] url" in results["preflight"]["fix"]
    assert ("(an HTML page)" in results["preflight"]["cause"]) == (kind == "html")
    setup = [line for line in done.stdout.splitlines() if line.startswith("dpop-conformance: setup failed:")]
    assert len(setup) == 1, done.stdout


# --- report folders -------------------------------------------------------------------------------


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.slow
def test_a_run_that_judged_nothing_or_was_interrupted_leaves_the_previous_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = cli("run", "--report-dir", str(out), "--case", "as-proof-typ-jwt")
    assert done.returncode == 0, done.stdout + done.stderr
    before = _fingerprint(out)
    assert set(before) == {"report.html", "junit.xml", "results.json"}
    # an expression that selects nothing: exit 2, and the folder is the last good run's
    done = cli("run", "--report-dir", str(out), "--case", "as-proof-typ-jwt", "--", "-k", "nomatch")
    assert done.returncode == 2 and "still shows the previous run" in done.stdout
    assert _fingerprint(out) == before
    # Ctrl-C in the middle of a run (the terminal sends SIGINT to the CLI): exit 130, the folder untouched
    process = subprocess.Popen(
        [*CLI, "run", "--report-dir", str(out), "--case", "as-fuzz-*", "--fuzz-profile", "thorough"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: any(out.glob(".incomplete-*")), process)
    time.sleep(2)  # well into the cases
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout[-2000:] + stderr
    assert "interrupted (SIGINT)" in stderr and "still shows the previous run" in stderr
    assert _fingerprint(out) == before and not list(out.glob(".incomplete-*"))


def _wait_for(condition: object, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_process_keeps_sending_after_the_cli_is_gone(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM is forwarded and waited for; SIGKILL cannot be, so the run notices its parent is gone."""
    with RunningServer(ServerSettings(nonce="none")) as server:
        config = server.write_target_file(tmp_path / "target.toml")
        out = tmp_path / "out"
        process = subprocess.Popen(
            [*CLI, "run", "--config", str(config), "--report-dir", str(out), "--case", "*-fuzz-*",
             "--fuzz-profile", "thorough", "--concurrency", "4"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        _wait_for(lambda: server.requests_received > 60, process)
        process.send_signal(sig)
        process.wait(timeout=60)
        if sig == signal.SIGKILL:
            time.sleep(1.5)  # the run's parent watch looks twice a second
        gone = server.requests_received
        time.sleep(2)
        assert server.requests_received == gone, f"{server.requests_received - gone} requests after the CLI was gone"
    assert process.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert not (out / "results.json").exists()
    if sig == signal.SIGTERM:
        assert "interrupted (SIGTERM)" in (process.stderr.read() if process.stderr else "")
        assert not list(out.glob(".incomplete-*"))
