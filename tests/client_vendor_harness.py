"""Client vendor harnesses: real DPoP client libraries held to their expectations (issue 30, item 5).

Each folder targets/clients/<name>/ (targets/clients/README.md is the contract) declares a client in
`harness.toml` (a command and its capabilities) and lists in `expectations.toml` every (scenario, check) whose
outcome is failed, warning, info or error, with where in the library it comes from. This module reads and
validates both, installs the library (`install.sh`), runs the command with
conformance.run.client_runner.run_client, and compares the outcomes with the expectations.

By hand, from the repository root:

    python tests/client_vendor_harness.py NAME [--scenario ID ...] [--timeout S]

prints, per scenario, every check that was neither passed nor skipped with its finding's message, then every
difference from expectations.toml; it exits 0 when there is none, 1 when there are, 2 on a bad harness.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the package lives at the repository root
    sys.path.insert(0, str(ROOT))

from conformance.judge.client_checks import CHECKS  # noqa: E402
from conformance.judge.verdicts import Outcome  # noqa: E402
from conformance.reference.judging import SCENARIOS  # noqa: E402
from conformance.run.client_runner import ClientRun, run_client  # noqa: E402

__all__ = [
    "CAPABILITIES",
    "CLIENTS",
    "EXPECTED_OUTCOMES",
    "Expected",
    "Harness",
    "HarnessError",
    "differences",
    "discover",
    "expected_for",
    "install",
    "load_expectations",
    "load_harness",
    "main",
    "run",
]

CLIENTS = ROOT / "targets" / "clients"
#: what a client harness may declare (issue 30, item 1): the scenarios a capability adds need it
CAPABILITIES = ("refresh_token", "authorization_code", "post")
#: the outcomes an expectation may name: every pair not listed must be passed or skipped
EXPECTED_OUTCOMES = ("failed", "warning", "info", "error")
_HARNESS_KEYS = {"name", "title", "url", "summary", "kind", "command", "capabilities"}
_ENTRY_KEYS = {"outcome", "reason", "source", "rfc"}
_SCENARIO_IDS = {s.id: s for s in SCENARIOS}
INSTALL_TIMEOUT_S = 900  # a first install downloads from the package registry


class HarnessError(ValueError):
    """A harness.toml or expectations.toml that does not follow targets/clients/README.md."""


@dataclass(frozen=True)
class Harness:
    """A client harness, as its harness.toml declares it."""

    name: str
    folder: Path
    title: str
    url: str
    summary: str
    command: str
    capabilities: tuple[str, ...]

    @property
    def expectations_file(self) -> Path:
        return self.folder / "expectations.toml"

    def scenarios(self) -> list[str]:
        """The scenario ids its capabilities make run, in the scenario table's order."""
        return [s.id for s in SCENARIOS if not s.needs or s.needs in self.capabilities]


@dataclass(frozen=True)
class Expected:
    """One expectation: a check's outcome in a scenario (table is the scenario id, or "all"), and why."""

    table: str
    check: str
    outcome: str
    reason: str
    source: str
    rfc: str


def load_harness(name_or_folder: str | Path) -> Harness:
    """The harness in targets/clients/NAME (or the folder given), validated; HarnessError says what is wrong."""
    folder = Path(name_or_folder)
    if not folder.is_dir():
        folder = CLIENTS / str(name_or_folder)
    path = folder / "harness.toml"
    if not path.is_file():
        known = ", ".join(h.name for h in discover()) or "none"
        raise HarnessError(f"{path}: no such file (client harnesses: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: {exc}") from exc
    problems = []
    missing = _HARNESS_KEYS - set(data)
    unknown = set(data) - _HARNESS_KEYS
    if missing:
        problems.append(f"missing keys {sorted(missing)}")
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    for key in sorted((_HARNESS_KEYS - {"capabilities"}) & set(data)):
        if not isinstance(data[key], str) or not data[key].strip():
            problems.append(f"{key} must be a non-empty string")
    if data.get("name") not in (None, folder.name):
        problems.append(f"name {data.get('name')!r} is not the folder's name {folder.name!r}")
    if "kind" in data and data["kind"] != "client":
        problems.append(f"kind must be 'client', not {data['kind']!r}")
    capabilities = data.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        problems.append("capabilities must be a list of strings")
        capabilities = []
    bad = sorted(set(capabilities) - set(CAPABILITIES))
    if bad:
        problems.append(f"unknown capabilities {bad} (known: {', '.join(CAPABILITIES)})")
    if len(set(capabilities)) != len(capabilities):
        problems.append("capabilities lists one twice")
    if problems:
        raise HarnessError(f"{path}: " + "; ".join(problems))
    return Harness(
        name=data["name"],
        folder=folder.resolve(),
        title=data["title"],
        url=data["url"],
        summary=data["summary"],
        command=data["command"],
        capabilities=tuple(capabilities),
    )


def discover() -> list[Harness]:
    """Every client harness under targets/clients/ (a folder with a harness.toml), by name."""
    if not CLIENTS.is_dir():
        return []
    return [load_harness(p.parent) for p in sorted(CLIENTS.glob("*/harness.toml"))]


def load_expectations(harness: Harness, text: str | None = None) -> list[Expected]:
    """Every expectation of expectations.toml (or of `text`), validated against the scenarios and checks."""
    path = harness.expectations_file
    if text is None:
        if not path.is_file():
            raise HarnessError(f"{path}: no such file (an empty one says every pair passes or is skipped)")
        text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: {exc}") from exc
    runnable = set(harness.scenarios())
    problems: list[str] = []
    found: list[Expected] = []
    for table, entries in data.items():
        if table != "all" and table not in _SCENARIO_IDS:
            problems.append(f"[{table}] is neither 'all' nor a scenario (known: {', '.join(_SCENARIO_IDS)})")
            continue
        if table != "all" and table not in runnable:
            problems.append(f"[{table}] is a scenario this harness's capabilities do not run")
        if not isinstance(entries, dict):
            problems.append(f"[{table}] must be a table of checks")
            continue
        for check, entry in entries.items():
            where = f"[{table}.{check}]"
            if check not in CHECKS:
                problems.append(f"{where}: {check!r} is not a check (known: {', '.join(CHECKS)})")
                continue
            if not isinstance(entry, dict):
                problems.append(f"{where} must be a table with {sorted(_ENTRY_KEYS)}")
                continue
            missing = _ENTRY_KEYS - set(entry)
            unknown = set(entry) - _ENTRY_KEYS
            if missing:
                problems.append(f"{where}: missing {sorted(missing)}")
            if unknown:
                problems.append(f"{where}: unknown keys {sorted(unknown)}")
            if any(not isinstance(entry.get(k), str) or not entry.get(k, "").strip() for k in _ENTRY_KEYS & set(entry)):
                problems.append(f"{where}: outcome, reason, source and rfc must be non-empty strings")
                continue
            if entry.get("outcome") not in EXPECTED_OUTCOMES:
                problems.append(
                    f"{where}: outcome {entry.get('outcome')!r} is not one of {', '.join(EXPECTED_OUTCOMES)}"
                    " (a pair that passes or is skipped is not listed)"
                )
            if missing or unknown:
                continue
            found.append(Expected(table, check, entry["outcome"], entry["reason"], entry["source"], entry["rfc"]))
    in_all = {e.check for e in found if e.table == "all"}
    for e in found:
        if e.table != "all" and e.check in in_all:
            problems.append(f"[{e.table}.{e.check}]: {e.check} is also in [all] (a check is in one or the other)")
    if problems:
        raise HarnessError(f"{path}: " + "; ".join(problems))
    return found


def expected_for(expectations: Iterable[Expected], scenario: str, check: str, judged: bool) -> Expected | None:
    """The expectation that holds for (scenario, check): its scenario table's, else [all]'s where it was judged."""
    table = {(e.table, e.check): e for e in expectations}
    if (scenario, check) in table:
        return table[(scenario, check)]
    if judged:
        return table.get(("all", check))
    return None


def differences(expectations: Iterable[Expected], run: ClientRun) -> list[str]:
    """Every way the run differs from the expectations, one readable line each (empty: they agree).

    A line reads "scenario.check: expected X, got Y", then the expectation's reason and the suite's message.
    """
    expectations = list(expectations)
    lines: list[str] = []
    ran = {s.scenario: s for s in run.scenarios}
    all_judged: Counter[str] = Counter()
    for s in run.scenarios:
        for check, result in s.results.items():
            got = result.outcome
            judged = got is not Outcome.SKIPPED
            if judged:
                all_judged[check] += 1
            exp = expected_for(expectations, s.scenario, check, judged)
            if exp is None:
                if got in (Outcome.PASSED, Outcome.SKIPPED):
                    continue
                line = f"{s.scenario}.{check}: expected passed or skipped, got {got.value}"
            else:
                if got.value == exp.outcome:
                    continue
                line = (
                    f"{s.scenario}.{check}: expected {exp.outcome} ([{exp.table}.{check}]), got {got.value}"
                    f"\n    expected because: {exp.reason}"
                )
            lines.append(f"{line}\n    the suite says: {_one_line(result.message)}")
    for e in expectations:
        if e.table != "all" and e.table not in ran:
            lines.append(f"{e.table}.{e.check}: expected {e.outcome}, but scenario {e.table} did not run")
        if e.table == "all" and ran and all_judged[e.check] == 0:
            lines.append(f"all.{e.check}: expected {e.outcome}, but {e.check} was judged in no scenario (all skipped)")
    return lines


def _one_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def install(harness: Harness, timeout: float = INSTALL_TIMEOUT_S) -> None:
    """Run the harness's install.sh (a no-op once installed); RuntimeError with its output when it fails."""
    script = harness.folder / "install.sh"
    done = subprocess.run(["sh", str(script)], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-2000:]}")


def run(
    harness: Harness,
    scenarios: Iterable[str] | None = None,
    *,
    timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
) -> ClientRun:
    """Run the harness's command (from the repository root) in its scenarios (or those given), judged."""
    with contextlib.chdir(ROOT):
        return run_client(
            harness.command,
            capabilities=harness.capabilities,
            scenarios=list(scenarios) if scenarios is not None else None,
            timeout=timeout,
            env=env,
        )


def describe(run_: ClientRun) -> list[str]:
    """Per scenario: the counts per outcome, then every check neither passed nor skipped with its message."""
    lines: list[str] = []
    for s in run_.scenarios:
        counts = Counter(r.outcome.value for r in s.results.values())
        summary = ", ".join(f"{counts[o.value]} {o.value}" for o in Outcome if counts[o.value])
        ended = s.stopped or f"exit {s.returncode}"
        lines.append(f"{s.scenario} ({ended}, {s.seconds:.1f} s, {len(s.requests)} requests): {summary}")
        for check, result in s.results.items():
            if result.outcome not in (Outcome.PASSED, Outcome.SKIPPED):
                lines.append(f"  {check}: {result.outcome.value}: {_one_line(result.message, 400)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python tests/client_vendor_harness.py NAME`: run one harness and show its outcomes and differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a folder of targets/clients/ (or a path to one)")
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per scenario (20)")
    args = parser.parse_args(argv)
    try:
        harness = load_harness(args.name)
        expectations = load_expectations(harness)
    except HarnessError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{harness.title}: {harness.command} (capabilities: {', '.join(harness.capabilities) or 'none'})")
    started = time.monotonic()
    try:
        install(harness)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(exc, file=sys.stderr)
        return 2
    installed = time.monotonic()
    result = run(harness, args.scenario, timeout=args.timeout)
    ended = time.monotonic()
    for line in describe(result):
        print(line)
    if args.scenario:  # expectations of scenarios left out are not differences
        expectations = [e for e in expectations if e.table == "all" or e.table in args.scenario]
    diffs = differences(expectations, result)
    print(
        f"\n{len(result.scenarios)} scenarios in {ended - installed:.1f} s (install {installed - started:.1f} s); "
        f"{len(expectations)} expectations; {len(diffs)} differences"
    )
    for line in diffs:
        print(line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
