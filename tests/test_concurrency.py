"""Cases side by side (conformance/run/scheduler.py): the verdicts of a serial run, within the run's limits.

Against real servers on loopback: the reference server (the whole fixed catalog, clean and with defects,
serially and concurrently), a small server of this file for the transport's per-thread watchdog, and
pytest runs of small case modules written here that observe when they run (lanes, a case run again
alone).
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conformance.client.evidence import Redactor
from conformance.client.transport import Lane, Transport
from conformance.reference import RunningServer, ServerSettings
from conformance.run.concurrency import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, concurrency_problem

#: the resource's refusal cases: its own tests, and its rows of the tests parametrized by endpoint
RESOURCE_REFUSALS = "test_resource_refuses or (test_refuses and rs-proof)"

CLI = [sys.executable, "-m", "conformance", "run"]
FIXED = ("--", "-m", "not fuzz")


def _run(tmp_path: Path, name: str, settings: ServerSettings, *args: str) -> tuple[int, dict[str, Any]]:
    with RunningServer(settings) as server:
        config = tmp_path / f"{name}.toml"
        config.write_text(server.target_toml())
        done = subprocess.run(
            [*CLI, "-q", "--config", str(config), "--report-dir", str(tmp_path / name), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode in (0, 1, 3), done.stdout + done.stderr  # passed, failed, could not judge some
    return done.returncode, json.loads((tmp_path / name / "results.json").read_text())


def _outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in results["cases"]}


# the defects touch every lane: nonces, the replay cache (with a wait), the iat window, a refresh chain
LANE_DEFECTS = ("ath", "htu-normalization", "nonce-value", "replay-forgets", "iat-window-wide", "refresh-reuse")


@pytest.mark.slow
def test_the_whole_catalog_concurrently_gives_the_verdicts_of_a_serial_run(tmp_path: Path) -> None:
    settings = ServerSettings(nonce="both", defects=frozenset(LANE_DEFECTS))
    serial_status, serial = _run(tmp_path, "serial", settings, "--concurrency", "1", *FIXED)
    status, concurrent = _run(tmp_path, "concurrent", settings, *FIXED)
    assert _outcomes(concurrent) == _outcomes(serial)
    assert status == serial_status == 1
    assert serial["concurrency"] == {
        "limit": 1,
        "ahead": 0,
        "again_alone": 0,
        "confirmed_alone": 0,
        "changed_alone": [],
    }
    assert concurrent["concurrency"]["limit"] == DEFAULT_CONCURRENCY
    assert concurrent["concurrency"]["ahead"] == len(concurrent["cases"]) > 200
    assert concurrent["concurrency"]["changed_alone"] == []
    findings = sum(o in ("failed", "warning", "error", "info") for o in _outcomes(serial).values())
    # every outcome that is not a pass was reached alone (the reference server's skips send nothing)
    assert findings >= len(LANE_DEFECTS) and concurrent["concurrency"]["again_alone"] >= findings


# binding defects whose cases pass wrongly on a refusal that a lost code or refresh token gives
LOSSY = ServerSettings(
    nonce="both",
    defects=frozenset({"dpop-jkt", "dpop-jkt-case", "par-binding", "refresh-binding"}),
    leniencies=frozenset({"lossy-store"}),
)
LOSSY_RUNS = 10


@pytest.mark.slow
def test_a_store_that_loses_grants_under_load_gets_the_verdicts_of_a_serial_run(tmp_path: Path) -> None:
    """A store that loses one code or refresh token in five while more than one request is in flight (authgent's,
    seen): ten concurrent runs give exactly the serial run's verdicts. A refusal for a lost grant is sent again
    with a fresh one, and a pass resting on a refusal that names no DPoP error is confirmed alone."""
    # the cases that redeem codes and refresh tokens, with the AS cases of no grant of their own beside them
    sections = ("--section", "5", "--section", "10", "--section", "11")
    args = ("--actor", "AS", *sections, "--", "-m", "not fuzz and not waits")
    _, serial = _run(tmp_path, "serial", LOSSY, "--concurrency", "1", *args)
    expected = _outcomes(serial)
    assert {c for c, o in expected.items() if o == "failed"} == {
        "as-dpop-jkt-exact",
        "as-dpop-jkt-mismatch",
        "as-par-binds-code",
        "as-refresh-chain-stays-bound",
        "as-refresh-other-key-refused",
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda n: _run(tmp_path, f"concurrent-{n}", LOSSY, *args)[1], range(LOSSY_RUNS)))
    for n, concurrent in enumerate(runs):
        assert _outcomes(concurrent) == expected, f"run {n}: {concurrent['concurrency']}"
    # the load did lose grants: cases reached another outcome beside others than alone, or were confirmed alone
    lost = sum(len(r["concurrency"]["changed_alone"]) + r["concurrency"]["confirmed_alone"] for r in runs)
    assert lost >= LOSSY_RUNS


@pytest.mark.slow
def test_the_whole_catalog_concurrently_against_a_clean_server_passes_as_a_serial_run_does(tmp_path: Path) -> None:
    # the serial run of the clean server is the README's first command and the kill matrix's control entry
    status, concurrent = _run(tmp_path, "clean", ServerSettings(nonce="both"), *FIXED)
    outcomes = set(_outcomes(concurrent).values())
    assert status == 0 and outcomes == {"passed", "skipped"}, concurrent["summary"]
    assert concurrent["concurrency"]["ahead"] == len(concurrent["cases"])
    assert concurrent["concurrency"]["changed_alone"] == []


def test_max_requests_holds_exactly_across_the_threads(tmp_path: Path) -> None:
    _, results = _run(
        tmp_path, "budget", ServerSettings(nonce="both"), "--max-requests", "40", *FIXED, "-k", RESOURCE_REFUSALS
    )
    assert sum(results["requests"].values()) == 40
    assert results["summary"]["error"] > 0  # the cases the budget left unsent are errors, never failures
    assert results["summary"]["failed"] == 0


def test_max_rps_holds_across_the_threads(tmp_path: Path) -> None:
    with RunningServer(ServerSettings(nonce="both")) as server:
        transport = Transport(timeout=5.0, redactor=Redactor())
        transport.max_rps = 20.0
        url = (
            server.target_toml().split('issuer = "', 1)[1].split('"', 1)[0] + "/.well-known/oauth-authorization-server"
        )
        times: list[float] = []

        def send() -> None:
            for _ in range(5):
                transport.send("metadata", "GET", url)
                times.append(time.monotonic())

        threads = [threading.Thread(target=send) for _ in range(6)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        transport.close()
    # 30 requests at 20 a second from 6 threads: the last one no sooner than 29/20 s after the first slot
    assert len(times) == 30
    assert max(times) - start >= 29 / 20 - 0.05


class _SlowOrDrip(socketserver.BaseRequestHandler):
    """/drip answers one byte every 0.2 s for ever; /slow answers in full after 0.6 s."""

    def handle(self) -> None:
        request = self.request.recv(65536)
        with contextlib.suppress(OSError):
            if request.startswith(b"GET /slow"):
                time.sleep(0.6)
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                return
            for byte in b"HTTP/1.1 200 OK\r\nX-Pad: " + b"x" * 10_000:
                self.request.sendall(bytes([byte]))
                time.sleep(0.2)


def test_a_late_exchange_is_cut_without_cutting_another_threads_request() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SlowOrDrip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    transport = Transport(timeout=1.0, redactor=Redactor())
    answers: dict[str, Any] = {}

    def send(name: str, delay: float) -> None:
        time.sleep(delay)
        answers[name] = transport.send(name, "GET", f"{base}/{name}")

    # the drip is cut at 1.0 s; the slow request, sent at 0.5 s on the same pool, is in flight then
    threads = [threading.Thread(target=send, args=("drip", 0.0)), threading.Thread(target=send, args=("slow", 0.5))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
    assert answers["drip"].error and "bounds the whole exchange" in answers["drip"].error
    assert answers["slow"].status == 200 and not answers["slow"].error, answers["slow"].error


def test_each_thread_records_into_its_own_lane() -> None:
    with RunningServer(ServerSettings(nonce="both")) as server:
        transport = Transport(timeout=5.0, redactor=Redactor())
        url = (
            server.target_toml().split('issuer = "', 1)[1].split('"', 1)[0] + "/.well-known/oauth-authorization-server"
        )
        lanes = [Lane() for _ in range(4)]

        def send(lane: Lane, n: int) -> None:
            with transport.in_lane(lane):
                for _ in range(n):
                    transport.send("metadata", "GET", url)

        threads = [threading.Thread(target=send, args=(lane, i + 1)) for i, lane in enumerate(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        transport.close()
    assert [len(lane.log) for lane in lanes] == [1, 2, 3, 4]
    assert [sum(lane.sent.values()) for lane in lanes] == [1, 2, 3, 4]
    assert sum(transport.requests_sent.values()) == 10
    assert transport.log == []  # the main thread's own lane sent nothing


def test_concurrency_out_of_bounds_is_one_line_and_exit_2() -> None:
    assert concurrency_problem(1) is None and concurrency_problem(MAX_CONCURRENCY) is None
    for value in ("0", str(MAX_CONCURRENCY + 1)):
        done = subprocess.run([*CLI, "--concurrency", value], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert len(lines) == 1 and "--concurrency must be between 1 (serial)" in lines[0], lines


# --- what the scheduler does with cases: small case modules that watch when they run ------------------

_CASES = '''
from __future__ import annotations

import threading
import time

from conformance.judge.catalog import case
from conformance.judge.verdicts import Level, Violation

LOG = {log!r}
_active = 0
_lock = threading.Lock()


def _watch(name: str, seconds: float = 0.3) -> int:
    """Record when this case ran; return how many cases ran at once (at its start or its end)."""
    global _active
    with _lock:
        _active += 1
        beside = _active
    start = time.monotonic()
    time.sleep(seconds)
    with _lock:
        beside = max(beside, _active)
        _active -= 1
    with open(LOG, "a") as out:
        out.write(f"{{name}} {{start}} {{time.monotonic()}}\\n")
    return beside

{cases}
'''

_LANE_CASE = '''
@case("rs-lane-{n}", "lane case {n}", section="11.1", level=Level.MUST, actor="RS", requirement="R-11.1-1",
      lane="the-lane")
def test_lane_{n}(dpop, note):
    """Sends: nothing. Expects: nothing."""
    _watch("lane-{n}")
'''

_FREE_CASE = '''
@case("rs-free-{n}", "free case {n}", section="11.1", level=Level.MUST, actor="RS", requirement="R-11.1-1")
def test_free_{n}(dpop, note):
    """Sends: nothing. Expects: nothing."""
    _watch("free-{n}")
'''

_SHY_CASE = '''
@case("rs-shy", "fails beside others", section="11.1", level=Level.MUST, actor="RS", requirement="R-11.1-1")
def test_shy(dpop, note):
    """Sends: nothing. Expects: to be alone."""
    if _watch("shy", 0.2) > 1:
        raise Violation("ran beside other cases", cause="it ran beside other cases", fix="run it alone")
    note("alone")
'''


def _run_cases(tmp_path: Path, cases: str, *args: str) -> tuple[dict[str, Any], list[tuple[str, float, float]]]:
    log = tmp_path / "ran.log"
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "test_watching.py").write_text(_CASES.format(log=str(log), cases=cases))
    results = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(folder),
            "-q",
            "-p",
            "conformance.run.plugin",
            "-p",
            "no:cacheprovider",
            f"--dpop-results={results}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert results.exists(), done.stdout + done.stderr
    ran = [(name, float(a), float(b)) for name, a, b in (line.split() for line in log.read_text().splitlines())]
    return json.loads(results.read_text()), ran


def test_a_lanes_cases_run_one_after_another_and_the_others_side_by_side(tmp_path: Path) -> None:
    cases = "".join(_LANE_CASE.format(n=n) for n in range(3)) + "".join(_FREE_CASE.format(n=n) for n in range(6))
    results, ran = _run_cases(tmp_path, cases, "--dpop-concurrency=4")
    assert results["summary"]["passed"] == 9
    lane = sorted((a, b, name) for name, a, b in ran if name.startswith("lane"))
    assert [name for _, _, name in lane] == ["lane-0", "lane-1", "lane-2"]  # in their order
    assert all(lane[i][1] <= lane[i + 1][0] for i in range(2)), lane  # never two at once
    free = [(a, b) for name, a, b in ran if name.startswith("free")]
    overlapping = sum(1 for a, b in free for c, d in free if (a, b) != (c, d) and a < d and c < b)
    assert overlapping > 0  # the others did run side by side
    assert results["concurrency"]["ahead"] == 9


def test_an_outcome_reached_beside_others_is_reached_again_alone(tmp_path: Path) -> None:
    cases = _SHY_CASE + "".join(_FREE_CASE.format(n=n) for n in range(4))
    results, ran = _run_cases(tmp_path, cases, "--dpop-concurrency=4")
    outcomes = {c["id"]: (c["outcome"], c["message"]) for c in results["cases"]}
    assert outcomes["rs-shy"] == ("passed", "alone")  # its failure beside others was no verdict
    assert results["concurrency"]["again_alone"] == 1
    assert results["concurrency"]["changed_alone"] == [{"id": "rs-shy", "concurrently": "failed", "alone": "passed"}]
    shy = [(a, b) for name, a, b in ran if name == "shy"]
    others = [(a, b) for name, a, b in ran if name != "shy"]
    assert len(shy) == 2
    again = shy[-1]
    assert all(b <= again[0] or again[1] <= a for a, b in others), (again, others)  # alone: nothing beside it
    (tmp_path / "serial").mkdir()
    serial, _ = _run_cases(tmp_path / "serial", cases, "--dpop-concurrency=1")
    assert {c["id"]: c["outcome"] for c in serial["cases"]} == {k: v[0] for k, v in outcomes.items()}
