"""The kill matrix: every case passes against the clean reference server and fails against its defect.

Each run is a real `dpop-conformance run` against the embedded reference server on loopback. A case
that no defect can make fail would be a case that cannot fail; the completeness test forbids that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# defect switch -> the cases it must make fail (or warn, for a SHOULD) when the reference server
# demands nonces at both the AS and the RS. Cases not listed must not fail because of it either,
# unless they are listed as "error" (could not be judged because the defect breaks a prerequisite).
KILLS: dict[str, dict[str, str]] = {
    "htu-https-assumed": {"as-proof-accepted": "failed"},
    "token-type": {"as-token-type-dpop": "failed"},
    # a wrong cnf.jkt makes the (correct) resource refuse every valid request with invalid_token, which the
    # resource cases cannot tell from a token meant for another resource: they end in error, not failed
    "cnf-jkt": {"as-token-bound-to-key": "failed"},
    "nonce-header-count": {"as-nonce-challenge": "failed"},
    "nonce-syntax": {"as-nonce-challenge": "failed"},
    "as-nonce-status": {"as-nonce-challenge": "warning"},
    "nonce-rejects-own": {"as-nonce-retry": "failed", "as-proof-accepted": "failed"},
    "ath-hex": {"rs-accepts-dpop-request": "failed", "rs-nonce-challenge": "failed"},
    "bearer-downgrade": {"rs-bearer-downgrade": "failed"},
    "rs-nonce-header": {"rs-nonce-challenge": "failed", "rs-accepts-dpop-request": "failed"},
    "rs-nonce-status": {"rs-nonce-challenge": "warning"},
    "ath": {"rs-ath-mismatch": "failed"},
    "htm": {"rs-htm-mismatch": "failed"},
    "htu": {"rs-htu-mismatch": "failed"},
    "key-binding": {"rs-key-swap": "failed"},
}

# nonce mode of the clean server -> the cases that do not apply there (and must say so)
CLEAN_SKIPS: dict[str, set[str]] = {
    "none": {"as-nonce-challenge", "as-nonce-retry", "rs-nonce-challenge"},
    "as": {"rs-nonce-challenge"},
    "rs": {"as-nonce-challenge", "as-nonce-retry"},
    "both": set(),
}


def run_suite(report_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--report-dir",
            str(report_dir),
            *args,
            "--",
            "-q",
            "-p",
            "no:randomly",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results_file = report_dir / "results.json"
    assert results_file.exists(), f"no results.json; status {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.returncode, json.loads(results_file.read_text())


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {case["id"]: case["outcome"] for case in results["cases"]}


@pytest.mark.parametrize("mode", sorted(CLEAN_SKIPS))
def test_clean_server_passes_every_case(tmp_path: Path, mode: str) -> None:
    status, results = run_suite(tmp_path, "--reference-nonce", mode)
    got = outcomes(results)
    not_passed = {case: outcome for case, outcome in got.items() if outcome != "passed"}
    assert not_passed == dict.fromkeys(CLEAN_SKIPS[mode], "skipped"), [
        (c["id"], c["outcome"], c["message"]) for c in results["cases"] if c["outcome"] not in ("passed", "skipped")
    ]
    assert status == 0
    for name in ("report.html", "junit.xml", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    for case in results["cases"]:
        if case["outcome"] == "skipped":
            assert case["message"], f"{case['id']} was skipped without a reason"


@pytest.mark.parametrize("defect", list(KILLS))
def test_defect_is_caught_by_its_cases(tmp_path: Path, defect: str) -> None:
    status, results = run_suite(tmp_path, "--reference-nonce", "both", "--reference-defect", defect)
    got = outcomes(results)
    for case, expected in KILLS[defect].items():
        assert got.get(case) == expected, f"{defect}: {case} is {got.get(case)}, expected {expected}"
    assert status == (1 if "failed" in KILLS[defect].values() else 0)
    unexpected = {c: o for c, o in got.items() if o in ("failed", "warning") and c not in KILLS[defect]}
    assert not unexpected, f"{defect} also made these cases fail or warn: {unexpected}"


def test_every_case_is_killed_by_some_defect(tmp_path: Path) -> None:
    _, results = run_suite(tmp_path, "--reference-nonce", "both")
    killed = {case for kills in KILLS.values() for case in kills}
    assert set(outcomes(results)) - killed == set(), "cases that no defect makes fail"


def test_strict_turns_a_warning_into_status_1(tmp_path: Path) -> None:
    status, results = run_suite(
        tmp_path, "--reference-nonce", "both", "--reference-defect", "rs-nonce-status", "--strict"
    )
    assert outcomes(results)["rs-nonce-challenge"] == "warning"
    assert status == 1
