"""The dpop-conformance command: serve, run against a target file, exit statuses, and no secret in any output."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.jose import JOSEError, decode_jws
from conformance.target import load_target

CLI = [sys.executable, "-m", "conformance"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`dpop-conformance serve --write-config` running in its own process; yields the target file."""
    config = tmp_path_factory.mktemp("serve") / "reference.toml"
    process = subprocess.Popen(
        [*CLI, "serve", "--nonce", "both", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not config.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert config.exists(), process.stderr.read() if process.stderr else ""
    yield config
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_serve_writes_a_ready_target_file_and_run_passes_against_it(served: Path, tmp_path: Path) -> None:
    target = load_target(served)
    assert target.authorization_server and target.authorization_server.token_endpoint
    done = cli("run", "--config", str(served), "--report-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "conformant to every MUST" in done.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"report.html", "junit.xml", "results.json"}


def test_no_secret_in_any_file_or_output_of_a_run(served: Path, tmp_path: Path) -> None:
    target = load_target(served)
    assert target.client and target.client.secret
    secret = target.client.secret
    done = cli("run", "--config", str(served), "--report-dir", str(tmp_path / "out"))
    basic = base64.b64encode(f"{target.client.id}:{secret}".encode()).decode()
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    outputs |= {p.name: p.read_text(errors="replace") for p in (tmp_path / "out").iterdir()}
    assert len(outputs) >= 5
    for name, text in outputs.items():
        assert secret not in text, f"the client secret appears in {name}"
        assert basic not in text, f"the Basic credentials appear in {name}"
        for candidate in re.findall(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", text):
            try:
                typ = decode_jws(candidate).header.get("typ")
            except JOSEError:
                continue
            assert typ != "at+jwt", f"a full access token appears in {name}"


def test_unreachable_target_gives_errors_and_status_3(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = tmp_path / "down.toml"
    config.write_text(f"""
name = "down"
timeout = 2
[authorization_server]
token_endpoint = "http://127.0.0.1:{port}/token"
[resource_server]
url = "http://127.0.0.1:{port}/resource"
[client]
id = "c"
secret = "unused-secret"
""")
    start = time.monotonic()
    done = cli("run", "--config", str(config), "--report-dir", str(tmp_path / "out"))
    assert time.monotonic() - start < 60
    assert done.returncode == 3, done.stdout[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["summary"]["failed"] == 0
    assert results["summary"]["error"] + results["summary"]["skipped"] == len(results["cases"])
    for case in results["cases"]:
        if case["outcome"] == "error":
            assert "did not answer" in case["message"], case
    assert "Traceback" not in done.stdout + done.stderr


def test_unknown_defect_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--reference-defect", "no-such-defect", "--report-dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown defect 'no-such-defect'" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_list_defects_names_each_switch() -> None:
    done = cli("serve", "--list-defects")
    assert done.returncode == 0
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"ath", "htm", "htu", "key-binding", "bearer-downgrade", "replay", "token-type"} <= names


def test_pytest_args_after_double_dash_select_cases(tmp_path: Path) -> None:
    done = cli("run", "--report-dir", str(tmp_path), "--", "-k", "ath_of_another")
    assert done.returncode == 0, done.stdout[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [c["id"] for c in results["cases"]] == ["rs-ath-mismatch"]
