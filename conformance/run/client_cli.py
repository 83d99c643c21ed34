"""`dpop-conformance client`: judge a DPoP client's command (issue 30).

Every input is checked before the command runs (bad input: one line, exit 2). Then the judging servers start,
the command runs once per scenario (conformance/run/client_runner.py), and the reports are written with the
server side's writer, renderer and verdict (conformance/run/client_results.py): results.json, report.html,
junit.xml, the terminal's verdict and findings, the baseline.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from conformance.printable import printable
from conformance.run.options import OPTIONS, option_problem

__all__ = ["run_client_command"]

PROG = "dpop-conformance"
DEFAULT_TIMEOUT = 20.0


class _Usage(Exception):
    """Bad input, found before the command runs: one line, exit 2."""


def _values(args: argparse.Namespace) -> dict[str, Any]:
    return {option.name: getattr(args, option.dest) for option in OPTIONS if option.client is not None}


def run_client_command(args: argparse.Namespace) -> int:
    """The `client` subcommand; returns the exit status (0, 1, 3; 2 for bad input)."""
    try:
        return _client(args)
    except _Usage as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)  # noqa: T201 (a CLI prints; pyproject exempts cli.py alone)
        return 2


def _client(args: argparse.Namespace) -> int:
    from conformance.client.target import ConfigError, load_client_target
    from conformance.reference.judging import SCENARIOS
    from conformance.report.baseline import BaselineError, client_identity, load_baseline
    from conformance.run.client_results import check_infos, client_results, write_client_reports
    from conformance.run.client_runner import run_client

    problem = option_problem(_values(args))
    if problem:
        raise _Usage(problem)
    if args.list and not args.config:
        return _list(args, list(dict.fromkeys(args.capability or [])))
    if bool(args.command) == bool(args.config):
        raise _Usage(
            'give the client as --command "CMD" or as --config FILE (a [client_under_test] table), one of them'
        )
    name, timeout, source = "client", args.timeout, "--command"
    capabilities = list(args.capability or [])
    command: str = args.command or ""
    if args.config:
        try:
            target = load_client_target(args.config)
        except ConfigError as exc:
            raise _Usage(str(exc)) from None
        name, command, source = target.name, target.command, target.source
        capabilities = [*target.capabilities, *capabilities]
        timeout = timeout or target.timeout
    capabilities = list(dict.fromkeys(capabilities))
    if args.list:
        return _list(args, capabilities)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise _Usage(f"the command cannot be split like a shell line: {exc}") from None
    if not argv:
        raise _Usage("the command is empty: give the client's command line")
    if shutil.which(argv[0]) is None:
        raise _Usage(f"the command {argv[0]!r} is not found (nor executable): give a program on PATH or a path to one")
    infos = check_infos()
    selected = _selected_checks(args, infos)
    wanted = _wanted_scenarios(args)
    if wanted is not None:
        needs = {s.id: s.needs for s in SCENARIOS}
        runnable = [sid for sid in wanted if not needs[sid] or needs[sid] in capabilities]
        if not runnable:
            missing = sorted({str(needs[sid]) for sid in wanted})
            raise _Usage(
                f"--scenario selects only scenarios of a capability the client does not declare ({', '.join(missing)}):"
                " add --capability"
            )
    fail_on = args.fail_on or "must"
    identity = client_identity(name, command, capabilities)
    baseline = None
    if args.baseline_for_another_target and not args.baseline:
        raise _Usage("--baseline-for-another-target applies to a --baseline file; give --baseline FILE or drop it")
    if args.baseline_missing != "error" and not args.baseline:
        raise _Usage("--baseline-missing applies to a --baseline file; give --baseline FILE or drop it")
    if args.baseline:
        from conformance.report.baseline import identity_difference

        try:
            baseline = load_baseline(args.baseline, missing_ok=args.baseline_missing == "ok")
        except BaselineError as exc:
            raise _Usage(str(exc)) from None
        difference = identity_difference(baseline.target, identity)
        if difference and not baseline.missing:
            if not args.baseline_for_another_target:
                raise _Usage(
                    f"--baseline {args.baseline} belongs to another client: {difference}; give this client's "
                    "baseline, or add --baseline-for-another-target if it is meant"
                )
            print(  # noqa: T201 (a CLI prints; pyproject exempts cli.py alone)
                f"{PROG}: the baseline {printable(args.baseline)} is another client's ({printable(difference)}): "
                "used on purpose (--baseline-for-another-target)"
            )
    report_dir = Path(args.report_dir) if args.report_dir else Path("reports") / name
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Usage(f"cannot create the report folder {report_dir}: {exc.strerror or exc}") from None

    if not args.quiet:
        print(f"{PROG}: judging the client {printable(command)} (capabilities: {', '.join(capabilities) or 'none'})")  # noqa: T201 (a CLI prints; pyproject exempts cli.py alone)
    started = time.time()
    run = run_client(
        argv, capabilities=capabilities, scenarios=wanted, timeout=timeout or DEFAULT_TIMEOUT, env=dict(os.environ)
    )
    target_doc = {
        "name": name,
        "kind": "client",
        "command": command,
        "capabilities": capabilities,
        "token_endpoint": run.token_endpoint or None,
        "resource_url": run.resource_url or None,
        "source": source,
        "identity": identity,
    }
    selection_record = {
        "cases": list(args.case or []),
        "exclude": list(args.exclude or []),
        "scenarios": list(args.scenario or []),
    }
    results, details = client_results(
        run,
        target=target_doc,
        selected=selected,
        secret=run.client_secret,
        fail_on=fail_on,
        baseline=baseline,
        selection=selection_record,
        started=started,
    )
    write_client_reports(results, details, report_dir)
    from conformance.run.cli import _closing, _Gate

    args.strict = fail_on == "should"
    status = _closing(
        results,
        report_dir.resolve(),
        args,
        name=name,
        gate=_Gate(args.baseline, args.write_baseline),
        colour=_colour(args.color),
        quiet=bool(args.quiet),
    )
    if not args.quiet:
        for line in _scenario_lines(results):
            print(f"{PROG}: {printable(line)}")  # noqa: T201 (a CLI prints; pyproject exempts cli.py alone)
    return status


def _selected_checks(args: argparse.Namespace, infos: list[Any]) -> list[Any]:
    """The checks --case/--exclude keep (one line for a selector that matches none)."""
    from conformance.run.selection import Selection, SelectionError

    selection = Selection.of(args.case, args.exclude)
    try:
        selection.check(infos)
    except SelectionError as exc:
        text = str(exc).replace("matches no case", "matches no check").replace("ids, sections", "ids")
        raise _Usage(text.replace("`dpop-conformance list`", "`dpop-conformance client --list`")) from None
    return [info for info in infos if selection.selects(info)]


def _list(args: argparse.Namespace, capabilities: list[str]) -> int:
    """`client --list`: the checks the selectors keep and the scenarios that would run; nothing is run."""
    from conformance.reference.judging import SCENARIOS
    from conformance.run.client_results import check_infos

    infos = check_infos()
    selected = _selected_checks(args, infos)
    wanted = _wanted_scenarios(args)
    width = max(len(info.id) for info in infos)
    lines = [f"{len(selected)} client check(s) (docs/cases.md quotes each one's words of RFC 9449):"]
    lines += [f"  {info.id:<{width}}  {info.level.value:<6}  §{info.section:<5} {info.title}" for info in selected]
    width = max(len(s.id) for s in SCENARIOS)
    scenarios = [s for s in SCENARIOS if wanted is None or s.id in wanted]
    runs = [s for s in scenarios if not s.needs or s.needs in capabilities]
    lines.append(f"{len(runs)} scenario(s) would run (capabilities: {', '.join(capabilities) or 'none'}):")
    for s in scenarios:
        note = "" if s in runs else f" (needs --capability {s.needs})"
        lines.append(f"  {s.id:<{width}}  {s.title}{note}")
    print("\n".join(printable(line) for line in lines))  # noqa: T201 (a CLI prints; pyproject exempts cli.py alone)
    return 0


def _wanted_scenarios(args: argparse.Namespace) -> list[str] | None:
    """The scenario ids --scenario selects (None: no selector, every one); a pattern matching none is a usage
    error."""
    from conformance.reference.judging import SCENARIOS

    scenario_ids = [s.id for s in SCENARIOS]
    for pattern in args.scenario or []:
        if not any(fnmatch.fnmatchcase(sid, pattern) for sid in scenario_ids):
            raise _Usage(f"--scenario {pattern} matches no scenario; the scenarios are: {', '.join(scenario_ids)}")
    if not args.scenario:
        return None
    return [sid for sid in scenario_ids if any(fnmatch.fnmatchcase(sid, p) for p in args.scenario)]


def _colour(choice: str) -> bool:
    from conformance.report.terminal import use_colour

    return use_colour(choice, tty=sys.stdout.isatty(), environ=dict(os.environ))


def _scenario_lines(results: dict[str, Any]) -> list[str]:
    """The scenarios as they ran: how many, how long, the clock offset measured, those that could not be judged."""
    client = results.get("client") or {}
    scenarios = client.get("scenarios") or []
    seconds = sum(float(s.get("seconds", 0)) for s in scenarios)
    received = ", ".join(f"{n} at the {server}" for server, n in (client.get("received") or {}).items())
    lines = [f"{len(scenarios)} scenario(s) in {seconds:.1f} s; requests received: {received}"]
    offsets = [s["clock_offset_s"] for s in scenarios if isinstance(s.get("clock_offset_s"), int | float)]
    if offsets:
        lines.append(
            f"clock offset measured (proof iat - time received): {min(offsets):+.1f} s to {max(offsets):+.1f} s"
        )
    for s in scenarios:
        if s.get("output_tail") is not None:
            tail = str(s["output_tail"]).strip().splitlines()[-1:] or [""]
            how = s.get("stopped") or f"exit {s.get('returncode')}"
            lines.append(f"scenario {s['id']} could not be judged ({how}); its output ends: {tail[0][:200]}")
    return lines
