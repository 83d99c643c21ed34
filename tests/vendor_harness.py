"""The vendor harnesses of targets/ (targets/README.md): found, installed, started, run against, compared.

tests/test_vendors.py holds every harness's outcomes to its expectations; tests/vendor_matrix.py runs them all
and writes docs/vendors.md and docs/vendors/compare.html. Both read the harnesses through this module, so the
runs the matrix shows are the runs CI holds.
"""

from __future__ import annotations

import json
import os
import secrets
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

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "targets"
#: what an expectation may say (a case not listed must pass)
NOT_PASSED = ("failed", "warning", "info", "skipped", "error")
#: outcomes that say something about the implementation: they need the RFC sentence too
FINDINGS = ("failed", "warning", "info")
INSTALL_TIMEOUT_S = 900  # the first install downloads; later ones are no-ops
START_TIMEOUT_S = 120  # start.sh: install.sh (a no-op once installed), then the servers' start
RUN_TIMEOUT_S = 600
STOP_TIMEOUT_S = 30
#: the fuzz seeds of the two runs: the whole suite with the first, the fuzz cases again with the second
SEEDS = (1, 2)


class HarnessError(ValueError):
    """A harness folder that breaks the contract (targets/README.md): one line naming the file and the fix."""


@dataclass(frozen=True)
class Harness:
    """One folder of targets/ with a harness.toml."""

    name: str
    title: str
    url: str
    summary: str
    actor: str  # both, AS or RS
    configurations: dict[str, str]  # name -> what it is
    folder: Path

    @property
    def expectations_file(self) -> Path:
        return self.folder / "expectations.toml"

    def run_args(self) -> list[str]:
        """What the runs add to `dpop-conformance run`: --actor for a harness that judges one side."""
        return [] if self.actor == "both" else ["--actor", self.actor]


@dataclass(frozen=True)
class Expectation:
    """A case's expected outcome in one configuration, and where it comes from."""

    outcome: str
    reason: str
    source: str
    rfc: str
    table: str  # where it is written: "all" or the configuration

    def where(self, harness: Harness, case_id: str) -> str:
        return f"{harness.expectations_file.relative_to(ROOT)} [{self.table}.{case_id}]"


def discover(only: str | None = None) -> list[Harness]:
    """Every harness of targets/ (or the one named `only`), by name."""
    found = [load_harness(p.parent) for p in sorted(TARGETS.glob("*/harness.toml"))]
    if only is not None:
        found = [h for h in found if h.name == only]
        if not found:
            raise HarnessError(
                f"no harness named {only!r} in targets/ (there are: {', '.join(h.name for h in discover())})"
            )
    return found


def load_harness(folder: Path) -> Harness:
    """targets/<name>/harness.toml, checked against the contract."""
    path = folder / "harness.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT)
    for key in ("name", "title", "url", "summary", "actor"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise HarnessError(f"{where}: {key} must be a non-empty string")
    if data["name"] != folder.name:
        raise HarnessError(f"{where}: name {data['name']!r} is not its folder's name {folder.name!r}")
    if data["actor"] not in ("both", "AS", "RS"):
        raise HarnessError(f"{where}: actor must be both, AS or RS, not {data['actor']!r}")
    configurations = data.get("configurations")
    if not isinstance(configurations, dict) or not configurations:
        raise HarnessError(f"{where}: [configurations] must name at least one configuration")
    if "all" in configurations:
        raise HarnessError(f"{where}: no configuration may be called all (expectations use [all] for every one)")
    for script in ("install.sh", "start.sh", "stop.sh"):
        if not (folder / script).is_file():
            raise HarnessError(f"{where}: the folder has no {script}")
    return Harness(
        name=data["name"],
        title=data["title"],
        url=data["url"],
        summary=data["summary"],
        actor=data["actor"],
        configurations={str(k): str(v) for k, v in configurations.items()},
        folder=folder,
    )


def load_expectations(harness: Harness) -> dict[str, dict[str, Expectation]]:
    """Per configuration, the cases that do not pass: [all] merged with the configuration's own table."""
    path = harness.expectations_file
    where = path.relative_to(ROOT)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"all", *harness.configurations}
    if unknown:
        raise HarnessError(
            f"{where}: tables {sorted(unknown)} name no configuration (harness.toml has "
            f"{', '.join(harness.configurations)}; [all] is every one)"
        )
    expectations: dict[str, dict[str, Expectation]] = {}
    for configuration in harness.configurations:
        merged: dict[str, Expectation] = {}
        for table in ("all", configuration):
            for case_id, entry in data.get(table, {}).items():
                if case_id in merged:
                    raise HarnessError(f"{where}: {case_id} is in [all] and in [{configuration}]: keep one")
                merged[case_id] = _expectation(entry, f"{where} [{table}.{case_id}]", table)
        expectations[configuration] = merged
    return expectations


def _expectation(entry: Any, where: str, table: str) -> Expectation:
    if not isinstance(entry, dict):
        raise HarnessError(f"{where} must be a table with outcome, reason, source and rfc")
    extra = set(entry) - {"outcome", "reason", "source", "rfc"}
    if extra:
        raise HarnessError(f"{where} has keys the contract does not know: {sorted(extra)}")
    outcome = entry.get("outcome")
    if outcome not in NOT_PASSED:
        raise HarnessError(f"{where}: outcome {outcome!r} is not one of {', '.join(NOT_PASSED)} (unlisted cases pass)")
    for key in ("reason", "source", "rfc"):
        if not str(entry.get(key, "")).strip():
            raise HarnessError(f"{where} needs a {key} ({_WHAT[key]})")
    return Expectation(
        outcome, str(entry["reason"]).strip(), str(entry["source"]).strip(), str(entry["rfc"]).strip(), table
    )


_WHAT = {
    "reason": "what the implementation does, in a sentence",
    "source": "the file:line and function of the installed package that causes it",
    "rfc": "the RFC sentence it departs from, or why the case does not apply",
}


def install(harness: Harness) -> None:
    """install.sh: the pinned implementation in its own environment (a no-op once done)."""
    done = subprocess.run(
        ["sh", str(harness.folder / "install.sh")], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
    )
    if done.returncode != 0:
        raise HarnessError(
            f"targets/{harness.name}/install.sh failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )


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
    """A running harness: its target file and the environment the suite needs (the client secret)."""

    harness: Harness
    configuration: str
    target: Path
    env: dict[str, str]
    run_dir: Path


class StartFailure(RuntimeError):
    """start.sh could not start the harness: its output says why."""


@contextmanager
def running(harness: Harness, configuration: str, run_dir: Path) -> Iterator[Stack]:
    """start.sh CONFIGURATION on free ports into run_dir; stop.sh afterwards, whatever happened; nothing it
    started outlives it (what stop.sh leaves is killed, and the test says so)."""
    env = {
        # pytest sets COLUMNS for its own output; a harness's ps would cut its command lines to that width
        **{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
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
                ["sh", str(harness.folder / "start.sh"), configuration],
                env=env,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S,
            )
            if pid_file.exists():
                pids = [int(line) for line in pid_file.read_text().split()]
            if started.returncode == 0:
                break
            taken = "EADDRINUSE" in started.stderr or "address already in use" in started.stderr.lower()
            if not taken or attempt == 2:
                raise StartFailure(
                    f"targets/{harness.name}/start.sh {configuration} failed (status {started.returncode}):\n"
                    f"{started.stdout[-3000:]}{started.stderr[-3000:]}"
                )
        yield Stack(harness, configuration, run_dir / "target.toml", env, run_dir)
    finally:
        left, said = stop(harness, env, pids)
    if left:
        raise StartFailure(
            f"targets/{harness.name}/stop.sh left servers running (pids {left}); they were killed (stop.sh: {said})"
        )


def stop(harness: Harness, env: dict[str, str], pids: list[int]) -> tuple[list[int], str]:
    """stop.sh, then SIGKILL for any server it left (never one behind); returns the pids it left and what stop.sh
    said."""
    done = subprocess.run(
        ["sh", str(harness.folder / "stop.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=STOP_TIMEOUT_S,
        check=False,
    )
    deadline = time.monotonic() + 10
    while pids_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = pids_alive(pids)
    said = f"{done.stdout.strip()} {done.stderr.strip()}".strip() + "; " + "; ".join(_process(pid) for pid in left)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left, said


def _process(pid: int) -> str:
    """What a process is, for a message: its pid, state and command line."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"{pid}: gone"
    return f"{pid} ({stat[stat.rindex(')') + 2]}): {args}"


def run_suite(
    stack: Stack, report_dir: Path, seed: int, *pytest_args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The suite against the running harness with a fixed fuzz seed; its exit and results.json."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "conformance", "run", "--color", "never"),
            *("--config", str(stack.target), "--report-dir", str(report_dir), "--fuzz-seed", str(seed)),
            *stack.harness.run_args(),
            *(("--", *pytest_args) if pytest_args else ()),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    results_file = report_dir / "results.json"
    if not results_file.exists():
        raise StartFailure(f"no results.json (status {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr}")
    results: dict[str, Any] = json.loads(results_file.read_text(encoding="utf-8"))
    return done, results


def differences(
    harness: Harness,
    expected: dict[str, Expectation],
    cases: list[dict[str, Any]],
    *,
    only_fuzz: bool = False,
) -> list[str]:
    """One readable paragraph per case whose outcome is not the expected one (unlisted cases are expected to
    pass): the case, the expected and the new outcome, where the expectation is written and what it says, and
    what the suite saw."""
    got = {str(c["id"]): c for c in cases}
    lines = []
    for case_id in sorted(set(got) | set(expected)):
        if only_fuzz and "-fuzz-" not in case_id:
            continue
        want = expected[case_id].outcome if case_id in expected else "passed"
        case = got.get(case_id)
        outcome = str(case["outcome"]) if case else "not run"
        if outcome == want:
            continue
        lines.append(f"  {case_id}: expected {want}, got {outcome}")
        if case_id in expected:
            entry = expected[case_id]
            lines.append(f"      {entry.where(harness, case_id)} says: {entry.reason} ({entry.source})")
        else:
            lines.append(f"      not in {harness.expectations_file.relative_to(ROOT)}, so expected to pass")
        if case:
            said = str(case.get("cause") or "") or next(
                (line for line in str(case.get("message", "")).splitlines() if line.startswith("Got:")), ""
            )
            if said:
                lines.append(f"      the suite said: {said[:300]}")
    return lines
