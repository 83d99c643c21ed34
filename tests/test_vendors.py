"""The suite against a stack nobody on the team wrote: panva/oidc-provider (AS) and Auth0's
express-oauth2-jwt-bearer (RS), from targets/oidc-provider/.

For each nonce mode (off, on), `start.sh` starts the stack on free loopback ports, the whole suite runs against
it with fuzz seed 1, then the fuzz cases again with seed 2, `stop.sh` stops it (always), and the outcomes must
equal targets/oidc-provider/expectations.toml exactly, for both seeds: a case that starts passing is as much
news as one that stops.

The vendor runs are a step of their own in .ci/run (`DPOP_VENDORS=1 pytest tests/test_vendors.py`), outside the
README's test command and its time budget: without DPOP_VENDORS=1 they are skipped, saying so. With it, they need
Node.js and npm (`start.sh` runs `npm ci` on first use), and their absence is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.report.results import exit_status

# runs the suite against servers many times: left out by `pytest -m "not slow"` (the inner loop)
pytestmark = pytest.mark.slow

VENDOR = Path(__file__).resolve().parent.parent / "targets" / "oidc-provider"
EXPECTATIONS = VENDOR / "expectations.toml"
MODES = ("off", "on")
NOT_PASSED = {"failed", "warning", "info", "skipped", "error"}
START_TIMEOUT_S = 600  # start.sh: npm ci on first use (network), then 30 s for the servers to answer
RUN_TIMEOUT_S = 300  # the suite takes a few seconds against this stack
STOP_TIMEOUT_S = 30  # stop.sh gives each server 5 s after TERM, then KILLs it


def why_not_runnable() -> str | None:
    """Why the vendor runs are left out here, or None (DPOP_VENDORS=1: they run, and need Node.js)."""
    if os.environ.get("DPOP_VENDORS") != "1":
        return "the vendor matrix is a step of its own (.ci/run): DPOP_VENDORS=1 pytest tests/test_vendors.py runs it"
    return None


def _node_missing() -> str | None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"the vendor stack needs Node.js: {' and '.join(missing)} not found on PATH" if missing else None


needs_node = pytest.mark.skipif(why_not_runnable() is not None, reason=why_not_runnable() or "")


@dataclass(frozen=True)
class Expected:
    """A case's expected outcome in one nonce mode, and why."""

    outcome: str
    reason: str
    table: str  # where it is written: "both", "off" or "on"


def load_expectations() -> dict[str, dict[str, Expected]]:
    """Per mode, the cases that do not pass: [both] merged with the mode's own table."""
    data = tomllib.loads(EXPECTATIONS.read_text(encoding="utf-8"))
    unknown = set(data) - {"both", *MODES}
    assert not unknown, f"{EXPECTATIONS.name}: unknown tables {sorted(unknown)} (only both, off, on)"
    expectations: dict[str, dict[str, Expected]] = {}
    for mode in MODES:
        merged: dict[str, Expected] = {}
        for table in ("both", mode):
            for case_id, entry in data.get(table, {}).items():
                assert case_id not in merged, f"{EXPECTATIONS.name}: {case_id} is in [both] and [{mode}]"
                where = f"{EXPECTATIONS.name}: [{table}.{case_id}]"
                assert set(entry) == {"outcome", "reason"}, f"{where} needs exactly outcome and reason"
                assert entry["outcome"] in NOT_PASSED, f"{where}: outcome {entry['outcome']!r} (unlisted cases pass)"
                assert str(entry["reason"]).strip(), f"{where} has no reason"
                merged[case_id] = Expected(entry["outcome"], entry["reason"], table)
        expectations[mode] = merged
    return expectations


def test_expectations_name_existing_cases_with_a_reason() -> None:
    """Runs without Node too: every listed case exists in the catalog."""
    listed = subprocess.run(
        [sys.executable, "-m", "conformance", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    catalog = {c["id"] for c in json.loads(listed.stdout)}
    for mode, expected in load_expectations().items():
        unknown = sorted(case_id for case_id in expected if case_id not in catalog)
        assert not unknown, f"{EXPECTATIONS.name} ({mode}) lists cases the suite does not have: {unknown}"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it, so parallel workers do not collide)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pids_alive(pids: list[int]) -> list[int]:
    """The pids whose process still runs (one that ended but is not reaped yet, a zombie, does not)."""
    alive = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # no such file, or the process ended while it was read
            if Path("/proc/self/stat").exists():
                continue  # Linux, and the process is gone
            try:  # no /proc: ask the kernel whether the pid exists
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            alive.append(pid)
            continue
        if stat[stat.rindex(")") + 2] not in "ZX":
            alive.append(pid)
    return alive


@dataclass(frozen=True)
class Stack:
    """A running vendor stack: its target file and the environment the suite needs (the client secret)."""

    target: Path
    env: dict[str, str]


@contextmanager
def vendor_stack(mode: str, run_dir: Path) -> Iterator[Stack]:
    """start.sh MODE on free ports into run_dir; stop.sh afterwards, whatever happened; no server outlives it."""
    env = {
        **os.environ,
        "DPOP_CLIENT_SECRET": secrets.token_urlsafe(24),
        "DPOP_RUN_DIR": str(run_dir),
        "WATCH_PID": str(os.getpid()),  # the servers exit on their own should this process die
    }
    pid_file = run_dir / "servers.pid"
    pids: list[int] = []
    try:
        for attempt in range(3):  # a free port can be taken between the probe and the server's listen
            env |= {"AS_PORT": str(free_port()), "RS_PORT": str(free_port())}
            started = subprocess.run(
                [str(VENDOR / "start.sh"), mode],
                env=env,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S,
            )
            if pid_file.exists():
                pids = [int(line) for line in pid_file.read_text().split()]
            if started.returncode == 0:
                break
            if "EADDRINUSE" not in started.stderr or attempt == 2:
                pytest.fail(f"start.sh {mode} failed (status {started.returncode}):\n{started.stdout}{started.stderr}")
        yield Stack(run_dir / "target.toml", env)
    finally:
        left = stop(env, pids)
    assert not left, f"stop.sh left servers running (pids {left}); the test killed them"


def stop(env: dict[str, str], pids: list[int]) -> list[int]:
    """stop.sh, then SIGKILL for any server it left (never one behind); returns the pids it left."""
    subprocess.run([str(VENDOR / "stop.sh")], env=env, capture_output=True, timeout=STOP_TIMEOUT_S, check=False)
    deadline = time.monotonic() + 10
    while pids_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = pids_alive(pids)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def run_suite(
    stack: Stack, report_dir: Path, seed: int, *pytest_args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The suite against the stack with a fixed fuzz seed; its exit and results.json."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "conformance", "run"),
            *("--config", str(stack.target), "--report-dir", str(report_dir), "--fuzz-seed", str(seed)),
            *("--", *pytest_args),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    results_file = report_dir / "results.json"
    assert results_file.exists(), f"no results.json (status {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr}"
    results: dict[str, Any] = json.loads(results_file.read_text(encoding="utf-8"))
    return done, results


def differences(expected: dict[str, Expected], cases: list[dict[str, Any]], *, only_fuzz: bool = False) -> list[str]:
    """One line per case whose outcome is not the expected one (unlisted cases are expected to pass)."""
    got = {c["id"]: c for c in cases}
    lines = []
    for case_id in sorted(set(got) | set(expected)):
        if only_fuzz and "-fuzz-" not in case_id:
            continue
        want = expected[case_id].outcome if case_id in expected else "passed"
        case = got.get(case_id)
        outcome = case["outcome"] if case else "not run"
        if outcome == want:
            continue
        message = [line for line in (case or {}).get("message", "").strip().splitlines() if line]
        message = [line for line in message if line.startswith("Got:")] or message  # a verdict: what came back
        if case_id in expected:
            because = f" [{expected[case_id].table}] says: {expected[case_id].reason}"
        else:
            because = " (not listed, so expected to pass)"
        lines.append(f"  {case_id}: expected {want}, got {outcome}{because}")
        if message:
            lines.append(f"      the suite said: {message[0][:300]}")
    return lines


@needs_node
@pytest.mark.parametrize("mode", MODES)
def test_vendor_outcomes_equal_the_expectations(mode: str, tmp_path: Path) -> None:
    """Starts the stack in the nonce mode, runs the suite (fuzz seed 1, then the fuzz cases with seed 2), compares."""
    missing = _node_missing()
    if missing:
        pytest.fail(f"DPOP_VENDORS=1 asks for the vendor runs, but {missing}", pytrace=False)
    expected = load_expectations()[mode]
    with vendor_stack(mode, tmp_path / "run") as stack:
        done, results = run_suite(stack, tmp_path / "report", 1)
        fuzz_done, fuzz_results = run_suite(stack, tmp_path / "report-seed-2", 2, "-m", "fuzz")
    cases = results["cases"]
    assert len(cases) > 100, f"only {len(cases)} cases ran:\n{done.stdout[-3000:]}\n{done.stderr}"
    for seed, report, run_cases, only_fuzz in (
        (1, "report", cases, False),
        (2, "report-seed-2", fuzz_results["cases"], True),
    ):
        diff = differences(expected, run_cases, only_fuzz=only_fuzz)
        assert not diff, (
            f"nonce mode {mode}, fuzz seed {seed}: outcomes differ from "
            f"{EXPECTATIONS.relative_to(VENDOR.parent.parent)} (report: {tmp_path / report / 'report.html'}, "
            f"server logs: {tmp_path / 'run'}):\n" + "\n".join(diff)
        )
    assert done.returncode == exit_status(results), done.stdout[-3000:] + done.stderr
    assert fuzz_done.returncode == exit_status(fuzz_results), fuzz_done.stdout[-3000:] + fuzz_done.stderr
