"""A hostile target cannot steer the suite's credentials (issue 14, item 1), against tests/hostile_server.py.

Real loopback servers, the suite run as `python -m conformance`: the metadata names another issuer, or
endpoints on another origin; the run stops before any credential leaves, says why in one line, and the
origin the metadata named receives nothing unless the target file allows it.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile_server import COOKIE_WORDS, HostileServer

from conformance.client.evidence import Redactor
from conformance.client.transport import Transport
from conformance.report.compare import load_runs, render_html, render_markdown

CLI = [sys.executable, "-m", "conformance"]
SECRET = "hostile-test-secret-0123456789"


def _target(tmp_path: Path, server: HostileServer, extra: str = "") -> Path:
    config = tmp_path / "target.toml"
    config.write_text(
        'name = "hostile"\n\n[authorization_server]\n'
        f'issuer = "{server.issuer}"\n{extra}\n'
        f'[client]\nid = "suite-client"\nsecret = "{SECRET}"\n'
    )
    return config


def _run(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", "--config", str(config), "--report-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cause(tmp_path: Path) -> str:
    """The one cause of the run's errors, in full (the terminal shortens long lines)."""
    causes = json.loads((tmp_path / "out" / "results.json").read_text())["causes"]
    assert len(causes) == 1, causes
    return str(causes[0]["cause"])


def test_metadata_naming_another_issuer_stops_the_run_before_any_credential(tmp_path: Path) -> None:
    with HostileServer("other-issuer") as server:
        done = _run(_target(tmp_path, server), tmp_path)
        received = server.received
    assert done.returncode == 3, done.stdout[-2000:]
    assert "setup failed: the metadata's issuer is 'https://attacker.example'" in done.stdout
    assert "RFC 8414 §3.3" in _cause(tmp_path)
    assert received == [], f"the sink received {len(received)} requests"
    assert len(done.stdout.splitlines()) <= 40


def test_endpoints_on_another_origin_receive_nothing(tmp_path: Path) -> None:
    with HostileServer("foreign-endpoints") as server:
        done = _run(_target(tmp_path, server), tmp_path)
        received = server.received
        sink = server.sink
    assert done.returncode == 3, done.stdout[-2000:]
    assert f"setup failed: the metadata puts endpoints on '{sink}'" in done.stdout  # where it pointed
    assert "allowed_origins" in done.stdout
    assert "token_endpoint, introspection_endpoint, pushed_authorization_request_endpoint" in _cause(tmp_path)
    assert received == [], f"the sink received {len(received)} requests: {[r.path for r in received]}"
    assert SECRET not in done.stdout + done.stderr
    assert "will receive" not in done.stdout  # nothing will: the run stops in its preflight


def test_an_allowed_origin_is_used(tmp_path: Path) -> None:
    with HostileServer("foreign-endpoints") as server:
        config = _target(tmp_path, server, f'allowed_origins = ["{server.sink}"]')
        done = _run(config, tmp_path)
        received = server.received
    # the sink answers every token request with 400 invalid_request: a valid proof refused is a finding
    assert done.returncode == 1, done.stdout[-2000:]
    assert received and received[0].path == "/token", "the allowed origin got the token request"
    # named before the run starts, with what it receives; the issuer's origin receives no credential here
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"dpop-conformance: {server.sink.lower()} will receive: the client secret"), first
    assert "DPoP proofs" in first


def test_check_discover_shows_where_nothing_goes(tmp_path: Path) -> None:
    with HostileServer("foreign-endpoints") as server:
        done = subprocess.run(
            [*CLI, "check", "--config", str(_target(tmp_path, server)), "--discover"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        received = server.received
    assert done.returncode == 0, done.stdout + done.stderr
    assert "token_endpoint (not used)" in done.stdout and received == []
    assert server.sink.lower() + ":" not in done.stdout.split("credentials by origin:")[1]


def test_check_discover_refuses_another_issuer(tmp_path: Path) -> None:
    with HostileServer("other-issuer") as server:
        done = subprocess.run(
            [*CLI, "check", "--config", str(_target(tmp_path, server)), "--discover"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2 and "RFC 8414 §3.3" in done.stderr + done.stdout


def _raw_controls(text: str) -> list[str]:
    """The control characters and bidi overrides in `text`, but for line breaks."""
    return sorted(
        {hex(ord(c)) for c in text if (ord(c) < 32 and c not in "\n\r") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"}
    )


def test_control_sequences_from_the_target_reach_no_output_raw(tmp_path: Path) -> None:
    with HostileServer("control-characters") as server:
        done = _run(_target(tmp_path, server), tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-2000:]
    assert "invalid_client" in out
    assert _raw_controls(out) == [], "raw control characters on the terminal"
    reports = tmp_path / "out"
    for name in ("junit.xml", "report.html", "results.json"):
        text = (reports / name).read_text(encoding="utf-8")
        assert "pwned" in text, f"{name} lost the target's text"  # shown, escaped
        assert _raw_controls(text) == [], f"raw control characters in {name}"
    results = json.loads((reports / "results.json").read_text())
    assert "\\x1b]0;pwned" in results["preflight"]["cause"] + results["cases"][0]["message"]
    markdown = subprocess.run(
        [*CLI, "compare", "--format", "markdown", str(reports / "results.json")], capture_output=True, text=True
    )
    assert markdown.returncode == 0 and _raw_controls(markdown.stdout) == [], markdown.stderr


def test_markdown_cells_cannot_break_the_comparison_table(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "target": {"name": "a|b`c`"},
                "cases": [{"id": "x|y", "section": "4|3", "level": "MUST", "outcome": "passed"}],
                "summary": {"passed": 1},
            }
        )
    )
    done = subprocess.run([*CLI, "compare", "--format", "markdown", str(results)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        if line.startswith("|"):
            # every row has the four columns of the header: no cell was split by a | from the file
            assert line.replace("\\|", "").count("|") == 5, line
    assert "a\\|b\\`c\\`" in done.stdout


def test_an_inflated_algorithm_list_drives_no_more_requests(tmp_path: Path) -> None:
    # the reference server advertises what it is given: ES256 three thousand times
    algs = ",".join(["ES256"] * 3000)
    done = subprocess.run(
        [*CLI, "run", "--reference-algs", algs, "--report-dir", str(tmp_path / "out"), "--", "-k", "advertised"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert done.returncode == 0, done.stdout[-2000:]
    assert {c["id"] for c in results["cases"]} == {"as-advertised-algs-accepted", "rs-advertised-algs-accepted"}
    assert sum(results["requests"].values()) <= 20, results["requests"]


def test_huge_answers_leave_reports_of_bounded_size(tmp_path: Path) -> None:
    with HostileServer("huge-answers") as server:
        config = _target(tmp_path, server)
        config.write_text(config.read_text() + f'\n[resource_server]\nurl = "{server.issuer}/resource"\n')
        done = _run(config, tmp_path)
    assert done.returncode in (1, 3), done.stdout[-2000:]
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "out").iterdir() if p.is_file()}
    assert all(size < 20 * 2**20 for size in sizes.values()), sizes
    assert len(done.stdout.splitlines()) <= 60
    # the largest child this test process has waited for, the run included (kilobytes on Linux)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak < 400, f"peak memory of the run {peak:.0f} MB"


@pytest.mark.slow
def test_thousands_of_cookies_neither_slow_the_run_nor_blank_the_evidence(tmp_path: Path) -> None:
    with HostileServer("many-cookies") as server:
        started = time.monotonic()
        done = _run(_target(tmp_path, server), tmp_path)
        took = time.monotonic() - started
    assert done.returncode in (1, 3), done.stdout[-2000:]
    # 40 requests took 81 s when every cookie was a secret, and a whole run 105 s when every Set-Cookie line was
    # parsed; the header section is now capped like the body (transport.MAX_HEADER_LINES), so a flood costs
    # what a normal answer does (about 6 s here)
    assert took < 30, f"the run took {took:.0f} s"
    out = tmp_path / "out"
    texts = [done.stdout, *((out / n).read_text() for n in ("report.html", "junit.xml", "results.json"))]
    assert not any("redacted:cookie" in text for text in texts)
    assert f"c1={COOKIE_WORDS[1]}" in texts[1]  # the cookie named "Expected" is shown as the server sent it
    assert re.search(r"dropped on arrival: 24\d\d more header lines", texts[1])  # the evidence says what the cap left


def test_compare_stays_linear_on_hostile_strings(tmp_path: Path) -> None:
    doc = {
        "suite": {"name": "dpop-conformance", "version": "0.1.0"},
        "target": {"name": "hostile"},
        "summary": {"passed": 2},
        "cases": [
            {
                "id": case_id,
                "title": "accepted " * 20000,
                "section": "5",
                "level": "MUST",
                "actor": "AS",
                "outcome": "passed",
                "message": "accepted " * 20000 + "|`" * 5000,
                "measurements": {"algs_accepted": ["accepted " * 20000, *(["ES256"] * 3000)]},
            }
            for case_id in ("as-advertised-algs-accepted", "rs-advertised-algs-accepted")
        ],
    }
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(doc))
        paths.append(str(tmp_path / name / "results.json"))
    started = time.monotonic()
    runs = load_runs(paths)
    page = render_html(runs, tmp_path / "compare.html")
    text = render_markdown(runs)
    took = time.monotonic() - started
    assert took < 5, f"compare took {took:.1f} s"  # a quadratic regex over the messages hung here
    assert len(page) < 2 * 2**20 and len(text) < 2**20, (len(page), len(text))


def test_a_json_nesting_bomb_is_no_crash(tmp_path: Path) -> None:
    with HostileServer("nesting-bomb") as server:
        done = _run(_target(tmp_path, server), tmp_path)
    results = (tmp_path / "out" / "results.json").read_text()
    assert done.returncode == 3, done.stdout[-2000:]
    assert "RecursionError" not in results + done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


class _Drip(socketserver.BaseRequestHandler):
    """Answers one byte every 0.2 s, for ever: each read completes well within any read timeout."""

    def handle(self) -> None:
        self.request.recv(65536)
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"x" * 10_000
        with contextlib.suppress(OSError):
            for byte in answer:
                self.request.sendall(bytes([byte]))
                time.sleep(0.2)


def test_a_dripping_answer_is_cut_at_the_timeout_and_at_the_deadline() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    transport = Transport(timeout=1.0, redactor=Redactor())
    try:
        started = time.monotonic()
        cut = transport.send("drip", "GET", url)
        took = time.monotonic() - started
        transport.deadline = time.monotonic() + 0.5
        started = time.monotonic()
        at_deadline = transport.send("drip at the deadline", "GET", url)
        took_deadline = time.monotonic() - started
        time.sleep(0.1)
        after = transport.send("after the deadline", "GET", url)
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
    assert cut.error and "bounds the whole exchange" in cut.error and cut.status is None, cut.error
    assert took < 1.5, f"the exchange took {took:.1f} s with a 1 s timeout"
    assert at_deadline.error and "deadline" in at_deadline.error and took_deadline < 1.0, at_deadline.error
    assert after.error == "not sent: the run's deadline (--deadline) has passed"
