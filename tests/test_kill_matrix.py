"""The kill matrix: every case passes against the clean reference server and fails against its defect.

The clean runs, and the entries with options of their own (profiles, a port), are real `dpop-conformance
run`s against the embedded reference server on loopback. The other entries run in batches: one pytest
process runs the whole catalog once per entry of its batch, each against its own reference server
(tests/kill_plugin.py), and each entry is then judged on its own, exactly as a run of its own would be:
a process and a collection for each of ninety entries cost more than the cases themselves. The table lives
in tests/kill_matrix.py; docs/kill-matrix.md is generated from it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from explained import unexplained
from kill_matrix import (
    CLEAN,
    DOC,
    KILLS,
    LENIENT_SKIPS_ADDED,
    LENIENT_SKIPS_REMOVED,
    NONCES,
    PAR_CASES,
    Kill,
    all_lenient,
    render,
)

from conformance.judge.catalog import CASES
from conformance.judge.verdicts import Level
from conformance.run.cases_folder import locate_cases

# runs the suite against servers many times: left out by `pytest -m "not slow"` (the inner loop)
pytestmark = pytest.mark.slow


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
    results: dict[str, Any] = json.loads(results_file.read_text())
    problems = unexplained(results)  # every case that did not pass says why and what to change
    assert not problems, "\n".join(problems)
    return done.returncode, results


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
    # the fuzz cases draw their full share once, in the default mode; elsewhere every fault is still sent once
    # (the coverage pass) and a few examples drawn (tests/test_fuzz_verdicts.py draws more, every nonce mode)
    examples = () if (nonce, args) == ("both", ()) else ("--fuzz-examples", "10")
    status, results = run_suite(tmp_path, "--reference-nonce", nonce, *args, *examples, "--fuzz-seed", "1")
    if "--reference-par" in args:
        skipped = skipped | {case for case in outcomes(results) if case.startswith(tuple(PAR_CASES))}
    not_passed = {case: outcome for case, outcome in outcomes(results).items() if outcome != "passed"}
    assert not_passed == dict.fromkeys(skipped, "skipped"), [
        (c["id"], c["outcome"], c["message"][:300]) for c in results["cases"] if c["outcome"] not in ("passed",)
    ]
    assert status == 0
    for name in ("report.html", "junit.xml", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert all(c["message"] for c in results["cases"] if c["outcome"] == "skipped"), "a skip without a reason"


# --- entries in batches -----------------------------------------------------------------------------------

# Every leniency of real libraries and servers on, in each nonce mode: the fixed cases give the leniencies' own
# warnings and info and nothing else (tests/test_fuzz_verdicts.py runs the fuzz cases so, for four seeds).
LENIENT = [all_lenient(nonce) for nonce in NONCES] + [all_lenient("both", par=False)]
BATCHED = [kill for kill in KILLS if not kill.args] + LENIENT
SEPARATE = [kill for kill in KILLS if kill.args]  # options of their own: a run each
BATCHES = 8  # one pytest process (and one test) each: small enough that the xdist workers end together


def _entry_id(index: int) -> str:
    return f"kill{index:03d}"


def run_batch(report_dir: Path, batch: int) -> dict[str, dict[str, str]]:
    """Run the catalog against the reference server once per entry of the batch: entry id -> case -> outcome."""
    entries = {_entry_id(i): kill for i, kill in enumerate(BATCHED) if i % BATCHES == batch}
    spec = [
        {
            "id": entry_id,
            "nonce": kill.nonce,
            "defects": kill.defects,
            "leniencies": kill.leniencies,
            "fuzz": kill.fuzz,
            "every_case": kill.every_case,
            "par": kill.par,
            "only": sorted(kill.expected) if _runs_only_its_cases(kill) else [],
            "waits": kill.waits,
        }
        for entry_id, kill in entries.items()
    ]
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "entries.json").write_text(json.dumps(spec), encoding="utf-8")
    cases = locate_cases()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", str(cases), "-q", "-p", "conformance.run.plugin", "-p", "kill_plugin"),
            *("-p", "no:cacheprovider", "--rootdir", str(cases), "-c", str(cases / "pytest.ini")),
            *("--kill-entries", str(report_dir / "entries.json"), "--dpop-results", str(report_dir / "results.json")),
            "--hypothesis-seed=1",  # as the command-line entries: `--fuzz-seed 1`
            # one case at a time: an entry runs only the cases it names, few enough that side by side saves
            # nothing, and each expected failure would be sent twice (beside others, then alone).
            # tests/test_concurrency.py runs the whole catalog both ways against defects in every lane
            "--dpop-concurrency=1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cases,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])},
    )
    results_file = report_dir / "results.json"
    assert results_file.exists(), f"no results.json; status {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    by_entry: dict[str, dict[str, str]] = {entry_id: {} for entry_id in entries}
    results = json.loads(results_file.read_text())
    problems = unexplained(results)  # every case that did not pass, of every entry, says why and what to change
    assert not problems, "\n".join(problems)
    for case in results["cases"]:
        entry_id = re.search(r"\bkill\d{3}\b", case["nodeid"])
        assert entry_id, f"a case ran for no entry: {case['nodeid']}"
        by_entry[entry_id.group(0)][case["id"]] = case["outcome"]
    return by_entry


def _runs_only_its_cases(kill: Kill) -> bool:
    """True for an entry that runs the cases it expects to catch its defect, and no other.

    Every defect entry does: that each case fails against its defect is what the matrix proves, and the
    clean runs prove each passes without it. The whole catalog for each of 200 entries (375 s of the test
    command's time) also showed that nothing else fails; the entries with every leniency on keep doing
    so: a leniency must give its own warnings and nothing else, anywhere (and one that gives none, none at
    all). `KILL_MATRIX_WHOLE_CATALOG=1` runs the whole catalog for every entry again.
    """
    if kill.only:
        return True
    return bool(kill.expected) and not kill.leniencies and not os.environ.get("KILL_MATRIX_WHOLE_CATALOG")


def _differences(kill: Kill, ran: dict[str, str]) -> list[str]:
    """What an entry's run got wrong: too few cases, other skips, or outcomes other than the listed ones."""
    if _runs_only_its_cases(kill) and set(ran) != set(kill.expected):
        return [f"ran {sorted(ran)}, expected to run exactly {sorted(kill.expected)}"]
    if not _runs_only_its_cases(kill) and len(ran) < (10 if kill.fuzz else 150):
        return [f"only {len(ran)} cases ran"]
    problems = []
    if kill in LENIENT:  # skips are the clean server's, in that nonce mode, but for the leniencies' own
        skipped = next(s for n, args, s in CLEAN if n == kill.nonce and not args)
        skipped = (skipped - LENIENT_SKIPS_REMOVED) | LENIENT_SKIPS_ADDED
        if not kill.par:  # and every case that needs the PAR endpoint
            skipped |= {case for case in ran if case.startswith(tuple(PAR_CASES))}
        if {c for c, o in ran.items() if o == "skipped"} != skipped:
            problems.append(
                f"skipped {sorted(c for c, o in ran.items() if o == 'skipped')}, expected {sorted(skipped)}"
            )
    got = {case: outcome for case, outcome in ran.items() if outcome in ("failed", "warning", "info")}
    if got != kill.expected:
        problems.append(
            f"missing {sorted(set(kill.expected.items()) - set(got.items()))}, "
            f"unexpected {sorted(set(got.items()) - set(kill.expected.items()))}"
        )
    return problems


@pytest.mark.parametrize("batch", range(BATCHES), ids=[f"batch-{b}" for b in range(BATCHES)])
def test_defects_are_caught_by_their_cases(tmp_path: Path, batch: int) -> None:
    """Each entry of the batch: exactly its listed cases fail, warn or give info (errors are allowed: a
    defect may break a prerequisite of other cases)."""
    ran = run_batch(tmp_path, batch)
    problems = [
        f"{kill.name} (nonce {kill.nonce}): {problem}"
        for index, kill in enumerate(BATCHED)
        if index % BATCHES == batch
        for problem in _differences(kill, ran[_entry_id(index)])
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kill", SEPARATE, ids=[f"{k.name}-{k.nonce}-{'-'.join(k.args)}" for k in SEPARATE])
def test_defect_is_caught_by_its_cases_with_options(tmp_path: Path, kill: Kill) -> None:
    _needs_port(kill.args)
    args = kill.cli_args
    if _runs_only_its_cases(kill):
        at = args.index("--")
        args = [*args[:at], *(f"--case={case}" for case in sorted(kill.expected)), *args[at:]]
    status, results = run_suite(tmp_path, *args)
    if _runs_only_its_cases(kill):
        assert set(outcomes(results)) == set(kill.expected), f"{kill.name}: ran {sorted(outcomes(results))}"
    got = {case: outcome for case, outcome in outcomes(results).items() if outcome in ("failed", "warning", "info")}
    assert got == kill.expected, (
        f"{kill.name}: missing {sorted(set(kill.expected.items()) - set(got.items()))}, "
        f"unexpected {sorted(set(got.items()) - set(kill.expected.items()))}"
    )
    assert status == (1 if "failed" in got.values() else 3 if results["summary"]["error"] else 0)


def test_every_case_is_killed() -> None:
    """Every declared case, of every profile, is made to fail (or warn) by at least one entry; a MAY case (the
    RFC asks nothing) by giving info, the most it can give."""
    declared = _declared_case_ids()
    lowest = {case: "info" if CASES[case].level == Level.MAY else "warning" for case in declared}
    killed = {
        case
        for kill in KILLS
        for case, outcome in kill.expected.items()
        if outcome in ("failed", "warning") or (outcome == "info" and lowest.get(case) == "info")
    }
    assert declared - killed == set(), "cases that no defect makes fail or warn (or, for a MAY case, give info)"


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
