"""TLS and plain HTTP: the reference server over HTTPS with a self-signed certificate, on loopback.

Without help the suite refuses the certificate with one clear line (and gives the server up after one
handshake); `--ca-file` (or `ca_file` in the target file) makes it trusted; `--insecure` skips
verification and says so. A plain-HTTP endpoint on a host that is not loopback is warned about
(RFC 9449 §2), and `https://` to a port that speaks plain HTTP is explained as such.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed

from conformance.reference import RunningServer, ServerSettings

CLI = [sys.executable, "-m", "conformance"]
# a handful of cases at the AS and at the RS: enough to show the transport works, in a second
FEW = ["--", "-m", "not fuzz", "-k", "garbage or key_swap or bearer or nonce_challenge"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_server(certificate: tuple[Path, Path]) -> Iterator[RunningServer]:
    cert, key = certificate
    with RunningServer(ServerSettings(nonce="both"), tls=(str(cert), str(key))) as server:
        yield server


def run(tmp_path: Path, target_text: str, *options: str) -> tuple[int, dict[str, Any], str]:
    config = tmp_path / "target.toml"
    config.write_text(target_text)
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "run", "--config", str(config), "--report-dir", str(out), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return done.returncode, results, done.stdout + done.stderr


def test_https_server_speaks_tls(https_server: RunningServer) -> None:
    assert https_server.base_url.startswith("https://127.0.0.1:")


def test_self_signed_certificate_is_refused_with_a_clear_reason(tmp_path: Path, https_server: RunningServer) -> None:
    status, results, output = run(tmp_path, https_server.target_toml(), *FEW)
    assert status == 3, output[-2000:]
    assert results["summary"]["passed"] == 0 and results["summary"]["failed"] == 0
    assert results["summary"]["error"] > 0
    origin = https_server.base_url
    for case in results["cases"]:
        if case["outcome"] == "error":
            assert f"TLS: the certificate of {origin} is not trusted (self-signed certificate)" in case["message"]
            assert "--ca-file" in case["message"] and "--insecure" in case["message"]
    # one handshake is enough: the same certificate fails every time, so the suite stops there
    assert results["requests"] == {origin: 1}
    # the terminal wraps a long cause: read its lines as one text
    text = " ".join(line.removeprefix("dpop-conformance:").strip() for line in output.splitlines())
    assert "setup failed: TLS:" in text and "self-signed certificate" in text
    assert "Traceback" not in output
    assert https_server.settings.client_secret not in output


def test_ca_file_option_trusts_the_certificate(
    tmp_path: Path, https_server: RunningServer, certificate: tuple[Path, Path]
) -> None:
    status, results, output = run(tmp_path, https_server.target_toml(), "--ca-file", str(certificate[0]), *FEW)
    assert status == 0, output[-3000:]
    assert results["summary"]["passed"] >= 4 and results["summary"]["error"] == 0
    assert results["warnings"] == []


def test_ca_file_key_in_the_target_file(
    tmp_path: Path, https_server: RunningServer, certificate: tuple[Path, Path]
) -> None:
    text = f'ca_file = "{certificate[0]}"\n' + https_server.target_toml()
    status, results, output = run(tmp_path, text, *FEW)
    assert status == 0, output[-3000:]
    assert results["summary"]["error"] == 0


def test_insecure_skips_verification_and_warns(tmp_path: Path, https_server: RunningServer) -> None:
    status, results, output = run(tmp_path, https_server.target_toml(), "--insecure", *FEW)
    assert status == 0, output[-3000:]
    assert results["summary"]["error"] == 0
    assert any("not verified (--insecure)" in w for w in results["warnings"])
    assert "warning: TLS certificates are not verified" in output


def test_https_to_a_plain_http_port_is_explained(tmp_path: Path) -> None:
    with RunningServer(ServerSettings()) as plain:
        text = plain.target_toml().replace("http://", "https://")
        status, results, output = run(tmp_path, text, *FEW)
    assert status == 3
    message = next(c["message"] for c in results["cases"] if c["outcome"] == "error")
    assert "TLS: the handshake with https://127.0.0.1:" in message and "is that port serving HTTPS?" in message
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--ca-file", "/nonexistent/ca.pem"], "--ca-file /nonexistent/ca.pem: no such file"),
        (["--ca-file", __file__, "--insecure"], "--insecure and --ca-file contradict each other"),
    ],
)
def test_tls_option_mistakes_are_one_line(
    tmp_path: Path, https_server: RunningServer, options: list[str], message: str
) -> None:
    status, _, output = run(tmp_path, https_server.target_toml(), *options)
    assert status == 2
    assert message in output and len(output.strip().splitlines()) == 1


def test_plain_http_to_a_host_that_is_not_loopback_is_warned_about(tmp_path: Path) -> None:
    """Nothing is sent (a deadline that has passed before the first request): the hosts are not loopback, and
    only loopback is ever a target here."""
    text = (
        'name = "plain"\n[authorization_server]\ntoken_endpoint = "http://as.staging.invalid/token"\n'
        '[resource_server]\nurl = "https://rs.staging.invalid/api"\n[client]\nid = "c"\nsecret = "the-secret"\n'
    )
    status, results, output = run(tmp_path, text, "--deadline", "0.001", "--", "-m", "not fuzz")
    assert status == 3
    assert results["requests"] == {}, "a request was sent although the deadline had passed"
    assert len(results["warnings"]) == 1
    warning = results["warnings"][0]
    assert warning.startswith("[authorization_server] token_endpoint http://as.staging.invalid/token is plain HTTP")
    assert "RFC 9449 §2" in warning
    assert output.index(f"warning: {warning}") < output.index("setup failed")  # at the top of the run
    assert f"warning: {warning}" in output  # and again in the closing lines
    report = (tmp_path / "out" / "report.html").read_text()
    assert "plain HTTP to a host that is not loopback" in report


def test_plain_http_on_loopback_is_not_warned_about(tmp_path: Path) -> None:
    with RunningServer(ServerSettings()) as plain:
        status, results, output = run(tmp_path, plain.target_toml(), *FEW)
    assert status == 0, output[-2000:]
    assert results["warnings"] == []


def test_serve_over_https_writes_an_https_target_file(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    import signal
    import time

    config = tmp_path / "served.toml"
    tls = ["--tls-cert", str(certificate[0]), "--tls-key", str(certificate[1])]
    process = subprocess.Popen(
        [*CLI, "serve", *tls, "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not config.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert config.exists(), process.stderr.read() if process.stderr else ""
        text = config.read_text()
        assert 'token_endpoint = "https://127.0.0.1:' in text
        status, results, output = run(tmp_path, text, "--ca-file", str(certificate[0]), *FEW)
        assert status == 0 and results["summary"]["error"] == 0, output[-2000:]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_serve_tls_options_go_together(certificate: tuple[Path, Path]) -> None:
    done = subprocess.run(
        [*CLI, "serve", "--tls-cert", str(certificate[0])], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--tls-cert and --tls-key go together" in done.stderr and len(done.stderr.strip().splitlines()) == 1
