"""The kill matrix: every case passes against the clean reference server and fails against its defect.

Each run is a real `dpop-conformance run` against the embedded reference server on loopback. The table
lives in tests/kill_matrix.py; docs/kill-matrix.md is generated from it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kill_matrix import CLEAN, DOC, KILLS, Kill, render

from conformance.catalog import CASES
from conformance.plugin import locate_cases


def run_suite(report_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    if "--" not in args:
        args = (*args, "--")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(report_dir), *args, "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results_file = report_dir / "results.json"
    assert results_file.exists(), f"no results.json; status {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.returncode, json.loads(results_file.read_text())


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {case["id"]: case["outcome"] for case in results["cases"]}


def _needs_port(args: tuple[str, ...]) -> None:
    if "--reference-port" in args:
        port = int(args[args.index("--reference-port") + 1])
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                pytest.skip(f"port {port} on 127.0.0.1 is taken on this machine")


@pytest.mark.parametrize(("nonce", "args", "skipped"), CLEAN, ids=[f"{n}{' '.join(a)}" for n, a, _ in CLEAN])
def test_clean_server_passes_every_case(tmp_path: Path, nonce: str, args: tuple[str, ...], skipped: set[str]) -> None:
    _needs_port(args)
    status, results = run_suite(tmp_path, "--reference-nonce", nonce, *args, "--fuzz-seed", "1")
    not_passed = {case: outcome for case, outcome in outcomes(results).items() if outcome != "passed"}
    assert not_passed == dict.fromkeys(skipped, "skipped"), [
        (c["id"], c["outcome"], c["message"][:300]) for c in results["cases"] if c["outcome"] not in ("passed",)
    ]
    assert status == 0
    for name in ("report.html", "junit.xml", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert all(c["message"] for c in results["cases"] if c["outcome"] == "skipped"), "a skip without a reason"


@pytest.mark.parametrize(
    "kill", KILLS, ids=[f"{k.defects}-{k.nonce}{'-' + '-'.join(k.args) if k.args else ''}" for k in KILLS]
)
def test_defect_is_caught_by_its_cases(tmp_path: Path, kill: Kill) -> None:
    _needs_port(kill.args)
    status, results = run_suite(tmp_path, *kill.cli_args)
    got = {case: outcome for case, outcome in outcomes(results).items() if outcome in ("failed", "warning", "info")}
    assert got == kill.expected, (
        f"{kill.defects}: missing {sorted(set(kill.expected.items()) - set(got.items()))}, "
        f"unexpected {sorted(set(got.items()) - set(kill.expected.items()))}"
    )
    assert status == (1 if "failed" in got.values() else 3 if results["summary"]["error"] else 0)


def test_every_case_is_killed() -> None:
    """Every declared case, of every profile, is made to fail (or warn) by at least one entry."""
    killed = {case for kill in KILLS for case, outcome in kill.expected.items() if outcome in ("failed", "warning")}
    assert _declared_case_ids() - killed == set(), "cases that no defect makes fail or warn"


def _declared_case_ids() -> set[str]:
    """Import every case module (each @case declaration registers itself) and list the ids."""
    for path in sorted(locate_cases().glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_cases_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses in a case module look their module up
        spec.loader.exec_module(module)
    return set(CASES)


def test_kill_matrix_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run `python tests/kill_matrix.py` to regenerate the doc"
