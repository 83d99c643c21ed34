"""The `dpop-conformance` command: `run` the suite against a target, `serve` the reference server.

Exit status of `run`: 0 every case judged and no MUST failed; 1 a MUST failed (or a SHOULD, with
--strict); 2 usage or target-file error (nothing was sent); 3 the target could not be reached or a case
could not be judged (its happy path or a control request failed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from conformance import __version__
from conformance.printable import printable
from conformance.run.options import (
    CA_CONTRADICTION,
    OPTIONS,
    add_client_arguments,
    add_run_arguments,
    add_selectors,
    forwarded,
    option_problem,
)

if TYPE_CHECKING:  # pragma: no cover
    from conformance.client.target import Target
    from conformance.reference import RunningServer, ServerSettings
    from conformance.run.selection import Selection

__all__ = ["main"]

PROG = "dpop-conformance"


def _fail(message: str, stream: TextIO | None = None) -> int:
    print(f"{PROG}: error: {printable(message)}", file=stream or sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog=PROG, description="Conformance test suite for OAuth 2.0 DPoP (RFC 9449).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(
        dest="subcommand", required=True, metavar="{run,client,check,compare,summary,list,schema,serve}"
    )

    run = sub.add_parser(
        "run",
        help="run the conformance cases against a target",
        description="Run the conformance cases. Without --config, against the embedded reference "
        "server. Arguments after -- go to pytest (e.g. -- -k nonce -v).",
    )
    add_run_arguments(run)

    client = sub.add_parser(
        "client",
        help="judge a DPoP client: the suite plays the authorization and resource server",
        description="Start the judging authorization server and resource server on loopback, run the client's "
        "command once per scenario with the DPOP_* environment (README.md, Judging a DPoP client), and judge "
        "every request it sent. Exit status 0 (no MUST failed), 1 (one did; or a SHOULD, with --fail-on should), "
        "2 (bad input: nothing was run) or 3 (a scenario could not be judged: the command crashed, timed out or "
        "never called).",
    )
    add_client_arguments(client)

    check = sub.add_parser(
        "check",
        help="validate a target file and print the plan of a run against it (sends nothing)",
        description="Validate a target file and print what a run would do: which endpoints receive which "
        "credentials, which case groups run and which are skipped, and why. Sends nothing; with --discover, only "
        "the GET of the authorization server's metadata, without credentials. Exit status 0 (valid) or 2.",
    )
    check.add_argument("--config", metavar="FILE", required=True, help="the target file (TOML)")
    check.add_argument(
        "--discover",
        action="store_true",
        help="fetch the issuer's metadata (RFC 8414; no credentials sent) to show the endpoints found there",
    )
    check.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=("rfc9449", "fapi2", "browser"),
        help="the profiles the run will select (as for run)",
    )
    check.add_argument("--ca-file", metavar="FILE", help="with --discover: also trust these CA certificates (PEM)")
    check.add_argument("--insecure", action="store_true", help="with --discover: do not verify TLS certificates")

    compare = sub.add_parser(
        "compare",
        help="compare several targets' results side by side",
        description="One page with a column per target and a row per case, grouped by RFC section.",
    )
    compare.add_argument("results", nargs="+", metavar="RESULTS", help="results.json files (or their report folders)")
    compare.add_argument(
        "--output",
        metavar="FILE",
        help="write here (default: standard output, which for the HTML page must not be a terminal)",
    )
    compare.add_argument("--format", choices=("html", "markdown"), default="html", help="output format")
    compare.add_argument(
        "--only-differences",
        action="store_true",
        help="Markdown: only the cases where the targets differ (the HTML page always shows them first)",
    )

    summary = sub.add_parser(
        "summary",
        help="one run's results as Markdown (a CI step summary)",
        description="The verdict, the counts, the failures new against the baseline and the findings grouped "
        "by cause of one run, as Markdown: for $GITHUB_STEP_SUMMARY or a pull-request comment.",
    )
    summary.add_argument("results", metavar="RESULTS", help="a results.json (or its report folder)")
    summary.add_argument("--output", metavar="FILE", help="write here (default: standard output)")
    summary.add_argument(
        "--fail-on",
        choices=("must", "should"),
        default=None,
        help="judge the run's cases again under another gate (must or should); default: the run's own gate, so "
        "the summary says what the run's exit status said",
    )

    listing = sub.add_parser(
        "list",
        help="list the conformance cases",
        description="List every case: id, title, RFC section, level, actor and the requirement it checks.",
    )
    listing.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format")
    add_selectors(listing)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of results.json or of a target file",
        description="Print a JSON Schema (draft 2020-12) the suite publishes: results (results.json) or target "
        "(target files; point an editor's TOML language server at it).",
    )
    schema.add_argument("name", choices=("results", "target", "client-target"), help="which schema")

    serve = sub.add_parser(
        "serve",
        help="run the reference DPoP server on loopback",
        description="Run the embedded reference AS + RS on 127.0.0.1 until interrupted.",
    )
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free port)")
    serve.add_argument(
        "--nonce",
        choices=("none", "as", "rs", "both"),
        default="both",
        help="which side demands server nonces (default: both, as for run without --config)",
    )
    serve.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a defect on (repeatable); see --list-defects",
    )
    serve.add_argument(
        "--leniency",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a leniency of real JOSE libraries on (repeatable, or all); see --list-defects",
    )
    serve.add_argument("--list-defects", action="store_true", help="list the defect and leniency switches and exit")
    serve.add_argument("--write-config", metavar="FILE", help="write a ready target file for this server")
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this certificate (PEM; with --tls-key), e.g. to try --ca-file or a TLS proxy",
    )
    serve.add_argument("--tls-key", metavar="FILE", help="the private key (PEM) of --tls-cert")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, pytest_args = args_list[:cut], args_list[cut + 1 :]
    args = build_parser().parse_args(args_list)
    try:
        if args.subcommand == "run":
            return _run(args, pytest_args)
        if args.subcommand == "client":
            if pytest_args:
                return _fail("arguments after -- are only for `run`")
            from conformance.run.client_cli import run_client_command

            return run_client_command(args)
        if args.subcommand == "list":
            return _list(args.format, _selection(args))
        if args.subcommand == "check":
            return _check(args)
        if args.subcommand == "compare":
            return _compare(args)
        if args.subcommand == "summary":
            return _summary(args)
        if args.subcommand == "schema":
            return _schema(args.name)
        if pytest_args:
            return _fail("arguments after -- are only for `run`")
        return _serve(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`dpop-conformance list | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# --- run ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Gate:
    """One target's baseline files: the one it is judged against, and the one it is recorded into."""

    baseline: str | None = None
    write: str | None = None


class _Usage(Exception):
    """A usage or input error found before anything is sent: one line, and exit status 2."""


def _refuse(problem: str | None) -> None:
    """Stop the run with `problem` (exit 2), if there is one."""
    if problem:
        raise _Usage(problem)


def _run(args: argparse.Namespace, pytest_args: list[str]) -> int:
    """`run`: check every input, then run the targets of --config, or the embedded reference server."""
    try:
        gates = _settled(args)
        forward = [*forwarded(_run_values(args)), *pytest_args]
        if args.config:
            return _run_targets(args, gates, forward)
        return _run_embedded(args, gates[0], forward)
    except _Usage as exc:
        return _fail(str(exc))


def _run_values(args: argparse.Namespace) -> dict[str, Any]:
    """The `run` arguments, by the option names of the table (run/options.py)."""
    return {option.name: getattr(args, option.dest) for option in OPTIONS if option.run is not None}


def _settled(args: argparse.Namespace) -> list[_Gate]:
    """Check the `run` arguments (values, selectors, baselines), settle what they leave open (--strict is
    --fail-on should; a random --fuzz-seed is drawn, to be printed), and return each target's gate."""
    _refuse(option_problem(_run_values(args)))
    args.fail_on = "should" if args.strict or args.fail_on == "should" else "must"
    args.strict = args.fail_on == "should"
    selection = _selection(args)
    if selection:
        _refuse(_selection_problem(selection))
    gates, problem = _gates(args)
    _refuse(problem)
    if args.fuzz_seed == "random":
        args.fuzz_seed = secrets.randbelow(2**31)
    return gates


def _selection_problem(selection: Selection) -> str | None:
    """A selector that matches no case of the catalog, as one line; None when each matches some."""
    from conformance.judge.catalog import load_cases
    from conformance.run.cases_folder import locate_cases
    from conformance.run.selection import SelectionError

    try:
        selection.check(load_cases(locate_cases()).values())
    except SelectionError as exc:
        return str(exc)
    return None


def _run_targets(args: argparse.Namespace, gates: list[_Gate], pytest_args: list[str]) -> int:
    """Run the target files of --config: every one checked before anything is sent, then one after the other."""
    from conformance.client.target import ConfigError, load_target

    reference = ("reference_defect", "reference_leniency", "reference_algs", "reference_port")
    if any(getattr(args, name) for name in reference) or args.reference_par != "on":
        raise _Usage("the --reference-* options apply to the embedded reference server; drop them or --config")
    try:
        targets = [load_target(path) for path in args.config]  # every file is checked before anything runs
    except ConfigError as exc:
        raise _Usage(str(exc)) from None
    _refuse(_check_identities(args, targets, gates))
    for loaded in targets:  # before anything is sent
        for warning in loaded.transport_warnings():
            print(f"{PROG}: warning: {printable(warning)}")
    if len(targets) > 1:
        return _run_several(args, targets, gates, pytest_args)
    target = targets[0]
    report_dir = _report_dir(args, target.name)
    _announce(target, args)
    return _run_pytest(Path(args.config[0]), report_dir, pytest_args, args, name=target.name, gate=gates[0])


def _report_dir(args: argparse.Namespace, name: str) -> Path:
    """The report folder of a one-target run (--report-dir, or reports/<target name>/), made."""
    report_dir = Path(args.report_dir) if args.report_dir else Path("reports") / name
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Usage(f"cannot create the report folder {report_dir}: {exc.strerror or exc}") from None
    return report_dir


def _run_embedded(args: argparse.Namespace, gate: _Gate, pytest_args: list[str]) -> int:
    """Run against the embedded reference server, started here with the --reference-* settings."""
    _refuse(_check_identity(args, {"name": "reference", "embedded": True}, gate))
    report_dir = _report_dir(args, "reference")
    server, settings = _reference_server(args)
    try:
        server.start()
    except OSError as exc:
        raise _Usage(
            f"cannot start the reference server on 127.0.0.1:{args.reference_port}: {exc.strerror or exc}"
        ) from None
    # what a baseline of the embedded server records besides its outcomes: the settings that change which
    # cases apply (its defects and leniencies are its behaviour, what a gate is there to notice)
    embedded = json.dumps(
        {"nonce": settings.nonce, "par": settings.par, "algs": list(settings.signing_algs)}, sort_keys=True
    )
    with tempfile.TemporaryDirectory(prefix="dpop-conformance-") as scratch, server:
        # the file holds the reference server's throwaway secret, so it stays out of the report folder
        config_path = server.write_target_file(Path(scratch) / "reference.toml")
        if not args.quiet:
            print(f"{PROG}: running against the embedded reference server at {server.base_url} ({_switches(settings)})")
        return _run_pytest(
            config_path, report_dir, [f"--dpop-embedded={embedded}", *pytest_args], args, name="reference", gate=gate
        )


def _reference_server(args: argparse.Namespace) -> tuple[RunningServer, ServerSettings]:
    """The embedded reference server with the --reference-* settings (not started yet), and those settings."""
    from conformance.reference import RunningServer, ServerSettings

    try:
        settings = ServerSettings(
            nonce=args.reference_nonce,
            defects=frozenset(args.reference_defect),
            leniencies=frozenset(args.reference_leniency),
            par=args.reference_par == "on",
        )
        if args.reference_algs:
            algs = tuple(a.strip() for a in args.reference_algs.split(",") if a.strip())
            settings = dataclasses.replace(settings, signing_algs=algs)
        return RunningServer(settings, port=args.reference_port), settings
    except ValueError as exc:
        raise _Usage(str(exc)) from None


def _switches(settings: ServerSettings) -> str:
    """The reference server's nonce mode, and its defects and leniencies when any are on."""
    defects = ", ".join(sorted(settings.defects))
    leniencies = ", ".join(sorted(settings.leniencies))
    return (
        f"nonces: {settings.nonce}{'; defects: ' + defects if defects else ''}"
        f"{'; leniencies: ' + leniencies if leniencies else ''}"
    )


def _gates(args: argparse.Namespace) -> tuple[list[_Gate], str | None]:
    """Each target's --baseline and --write-baseline (one per --config, in order), checked; or a complaint."""
    count = max(1, len(args.config or []))
    for option, values in (("--baseline", args.baseline), ("--write-baseline", args.write_baseline)):
        if values and len(values) != count:
            return [], (
                f"{option} is given {len(values)} time(s) for {count} target(s): give one per --config, in the "
                "same order (a baseline belongs to one target)"
            )
    if args.baseline_missing != "error" and not args.baseline:
        return [], "--baseline-missing applies to a --baseline file; give --baseline FILE or drop it"
    if args.baseline_for_another_target and not args.baseline:
        return [], "--baseline-for-another-target applies to a --baseline file; give --baseline FILE or drop it"
    for path in args.baseline:
        problem = _check_baseline(path, missing_ok=args.baseline_missing == "ok")
        if problem:
            return [], problem
    baselines = args.baseline or [None] * count
    writes = args.write_baseline or [None] * count
    return [_Gate(b, w) for b, w in zip(baselines, writes, strict=True)], None


def _check_identities(args: argparse.Namespace, targets: list[Target], gates: list[_Gate]) -> str | None:
    """The first target whose --baseline was recorded for another target, as a complaint (before anything is sent)."""
    from conformance.report.baseline import target_identity

    for target, gate in zip(targets, gates, strict=True):
        problem = _check_identity(args, target_identity(target), gate)
        if problem:
            return problem
    return None


def _check_identity(args: argparse.Namespace, identity: dict[str, Any], gate: _Gate) -> str | None:
    from conformance.report.baseline import identity_difference, load_baseline

    if not gate.baseline:
        return None
    baseline = load_baseline(gate.baseline, missing_ok=True)  # readable: checked by _gates
    difference = identity_difference(baseline.target, identity)
    if difference is None:
        return None
    if args.baseline_for_another_target:
        print(
            f"{PROG}: the baseline {printable(gate.baseline)} is another target's ({printable(difference)}): "
            "used on purpose (--baseline-for-another-target)"
        )
        return None
    return (
        f"--baseline {gate.baseline} belongs to another target: {difference}; give this target's baseline, or add "
        "--baseline-for-another-target if it is meant"
    )


def _record_baseline(results: dict[str, Any], destination: Path) -> str:
    """Write this run's baseline file (not when the setup failed); what was done, in one line."""
    from conformance.report.baseline import write_baseline

    if results.get("preflight", {}).get("ok") is False:
        return f"baseline not written to {destination}: the setup failed, so no case was judged"
    try:
        count = write_baseline(results, destination)
    except OSError as exc:
        return f"baseline not written to {destination}: {exc.strerror or exc}"
    summary = results.get("summary", {})
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("failed", "warning", "error") if summary.get(k))
    note = ""
    if (results.get("fuzz") or {}).get("seed") is not None:
        note = "; its fuzz cases used a seed (--fuzz-seed): a derandomised run may draw other examples"
    return f"recorded this run as the baseline in {destination} ({count} cases{', ' + counts if counts else ''}){note}"


def _check_baseline(path: str, *, missing_ok: bool) -> str | None:
    """A one-line complaint when `path` is not a baseline, or None; says what it is (missing, older, legacy)."""
    from conformance import __version__
    from conformance.report.baseline import BaselineError, load_baseline

    try:
        baseline = load_baseline(path, missing_ok=missing_ok)
    except BaselineError as exc:
        return str(exc)
    if baseline.missing:
        print(f"{PROG}: the baseline {printable(path)} does not exist yet: every failure counts as new")
        return None
    if baseline.legacy:
        print(
            f"{PROG}: note: the baseline {printable(path)} is a results.json (read as a baseline in this version "
            "only); it records no selection, so every case of its suite version it lacks gates. Record a baseline "
            "file with --write-baseline"
        )
    if baseline.unknown_version():
        print(
            f"{PROG}: note: the baseline {printable(path)} was made by dpop-conformance "
            f"{printable(str(baseline.suite_version))}, whose cases this version ({__version__}) does not know: "
            "every case it lacks gates"
        )
    elif baseline.other_version(__version__):
        print(
            f"{PROG}: the baseline {printable(path)} was made by dpop-conformance "
            f"{printable(str(baseline.suite_version))} (this is {__version__}): a failing case that version did not "
            "have is marked new case and does not gate (CHANGELOG.md lists them); refresh it with --write-baseline"
        )
    return None


def _run_several(args: argparse.Namespace, targets: list[Target], gates: list[_Gate], pytest_args: list[str]) -> int:
    """Run several targets, one after the other, then the table of their verdicts and the comparison page."""
    from conformance.report.compare import load_runs, render_html

    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return _fail(
            f"several target files are named {duplicates[0]!r}; give each its own name (it names its report folder)"
        )
    base = Path(args.report_dir) if args.report_dir else Path("reports")
    statuses = []
    for path, target, gate in zip(args.config, targets, gates, strict=True):
        print(f"{PROG}: == {target.name} ({path})")
        _announce(target, args)
        statuses.append(_run_pytest(Path(path), base / target.name, pytest_args, args, name=target.name, gate=gate))
        if statuses[-1] >= 128:  # interrupted: the targets after it are not run
            return statuses[-1]
    results = [str(base / t.name / "results.json") for t in targets if (base / t.name / "results.json").exists()]
    runs = load_runs(results) if results else []
    for line in _verdict_table(runs):
        print(f"{PROG}: {line}")
    if len(runs) > 1:
        page = base / "compare.html"
        page.write_text(render_html(runs, page.resolve()), encoding="utf-8")
        print(f"{PROG}: comparison of {len(runs)} targets in {page}")
    # the worst status wins: a MUST failure, then an unjudged target, then usage errors
    return 1 if 1 in statuses else 3 if 3 in statuses else 2 if 2 in statuses else 0


def _verdict_table(runs: Sequence[Any]) -> list[str]:
    """One line per target of a multi-target run: its name, verdict and counts (report/compare.py)."""
    from conformance.report.compare import verdict_table

    return verdict_table(runs, width=_width() - len(PROG) - 2)


def _width() -> int:
    """The terminal's width for the closing lines: at least 100 columns (a CI log has no width of its own)."""
    import shutil

    return max(100, shutil.get_terminal_size((100, 24)).columns)


def _hypothesis_storage(report_dir: Path) -> Path:
    """Where Hypothesis keeps its own files: not among the cases (perhaps a read-only install).

    A cache folder of the user's, shared by every run: Hypothesis caches there the Unicode tables its
    text strategies need, which take about a second to compute. (The example database is separate: it
    lives in the report folder, --dpop-fuzz-db.) Without a usable cache folder, the report folder.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    storage = Path(base) / "dpop-conformance" / "hypothesis"
    try:
        storage.mkdir(parents=True, exist_ok=True)
    except OSError:
        return report_dir / ".hypothesis"
    return storage if os.access(storage, os.W_OK) else report_dir / ".hypothesis"


def _pytest_command(
    config_path: Path, scratch: Path, report_dir: Path, options: argparse.Namespace, colour: bool
) -> list[str]:
    """The pytest command line of a run writing its reports into `scratch`."""
    from conformance.run.cases_folder import locate_cases

    cases = locate_cases()
    return [
        sys.executable,
        "-m",
        "pytest",
        str(cases),
        "-p",
        "conformance.run.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:anyio",
        "--rootdir",
        str(cases),
        # named explicitly: given --rootdir alone, pytest 9.2 does not pick the cases' pytest.ini up, and
        # without its --tb=line each error costs 0.1 s of traceback formatting (a broken target: 25 s)
        "-c",
        str(cases / "pytest.ini"),
        "--dpop-config",
        str(config_path.resolve()),
        "--dpop-results",
        str(scratch / "results.json"),
        f"--dpop-report={scratch / 'report.html'}",
        f"--dpop-parent-pid={os.getpid()}",
        # failures the fuzzer found once are retried first next time: the database outlives each run's files
        f"--dpop-fuzz-db={report_dir / '.hypothesis'}",
        *(
            [
                f"--html={scratch / 'pytest-html.html'}",
                "--self-contained-html",
                f"--css={Path(__file__).resolve().parent.parent / 'report' / 'pytest_html.css'}",
                "-o",
                "render_collapsed=passed,skipped",  # failures and errors open, with their evidence
            ]
            if options.pytest_html
            else ["-p", "no:html"]  # the suite's own report.html is the page; pytest-html's only when asked
        ),
        f"--junitxml={scratch / 'junit.xml'}",
        "-o",
        "junit_suite_name=dpop-conformance",
        "-o",
        "junit_family=xunit1",
        "-q",  # progress in a few lines: the verdict and the findings follow, one line each
        f"--color={'yes' if colour else 'no'}",
    ]


def _run_pytest(
    config_path: Path,
    report_dir: Path,
    pytest_args: list[str],
    options: argparse.Namespace,
    *,
    name: str,
    gate: _Gate | None = None,
) -> int:
    """Run the cases in a pytest process of their own; publish the reports only when it judged something; then
    the verdict, what was written, and (unless -q) the findings, on the terminal."""
    from conformance.report.results import load_results
    from conformance.report.terminal import use_colour
    from conformance.run.cases_folder import locate_cases
    from conformance.run.child import run_child
    from conformance.run.report_folder import ReportFolder

    gate = gate or _Gate()
    quiet = bool(options.quiet)
    colour = use_colour(options.color, tty=sys.stdout.isatty(), environ=dict(os.environ))
    report_dir = report_dir.resolve()
    try:
        folder = ReportFolder(report_dir)
    except OSError as exc:
        return _fail(f"cannot write into the report folder {report_dir}: {exc.strerror or exc}")
    baseline_args = (
        [
            f"--dpop-baseline={Path(gate.baseline).resolve()}",
            *(["--dpop-baseline-missing-ok"] if options.baseline_missing == "ok" else []),
        ]
        if gate.baseline
        else []
    )
    command = [*_pytest_command(config_path, folder.scratch, report_dir, options, colour), *baseline_args, *pytest_args]
    # The suite runs in its own process: the embedded reference server keeps this one (and its own
    # interpreter lock), and the cases import nothing that this process has already loaded.
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(_hypothesis_storage(report_dir))}
    end = run_child(command, cwd=locate_cases(), env=env, quiet=quiet)
    results_path = folder.scratch / "results.json"
    if end.interrupted:
        folder.discard()
        what = signal.Signals(end.interrupted_by or 0).name if end.interrupted_by else "a signal"
        print(
            f"{PROG}: interrupted ({what}): the run stopped and sends nothing more; the report folder {report_dir} "
            "still shows the previous run",
            file=sys.stderr,
        )
        return end.cli_status
    if not results_path.exists():
        folder.discard()
        if end.code == 4:  # pytest's usage error (it said what)
            print(f"{PROG}: nothing was sent; the report folder {report_dir} still shows the previous run")
            return 2
        print(
            f"{PROG}: error: pytest ended with status {end.code} and wrote no results; the report folder "
            f"{report_dir} still shows the previous run",
            file=sys.stderr,
        )
        return 3
    results = load_results(results_path)
    if not results.get("cases") and end.code != 5:  # pytest's "no tests collected" is 5; anything else failed
        folder.discard()
        print(
            f"{PROG}: error: pytest ended with status {end.code} before any case ran (its output above says why); "
            f"the report folder {report_dir} still shows the previous run",
            file=sys.stderr,
        )
        return 3
    if not results.get("cases"):
        # a selection after -- that matches no case: nothing ran, so there is nothing to judge either
        folder.discard()
        print(
            f"{PROG}: error: no case selected (the -k / -m expression after -- matches none; see {PROG} list); "
            f"nothing was sent, and the report folder {report_dir} still shows the previous run"
        )
        return 2
    folder.publish()
    return _closing(results, report_dir, options, name=name, gate=gate, colour=colour, quiet=quiet)


def _closing(
    results: dict[str, Any],
    report_dir: Path,
    options: argparse.Namespace,
    *,
    name: str,
    gate: _Gate,
    colour: bool,
    quiet: bool,
) -> int:
    """The end of a run on the terminal: the verdict (report/verdict.py), then the findings (unless -q), the
    baseline, what was written and the run's warnings. Returns the exit status, the verdict's."""
    from conformance.report.terminal import coloured, summary_lines
    from conformance.report.verdict import run_verdict

    verdict = run_verdict(results)
    lines = summary_lines(results, width=_width() - len(PROG) - 2)
    print(coloured(f"{PROG}: {name}: {printable(lines[0])}", verdict.status, colour=colour))
    if not quiet:
        for line in lines[1:]:
            print(f"{PROG}: {printable(line)}")
    for line in _baseline_lines(results):
        print(f"{PROG}: {printable(line)}")
    if gate.write:
        print(f"{PROG}: {printable(_record_baseline(results, Path(gate.write)))}")
    for warning in results.get("warnings", []):
        print(f"{PROG}: warning: {printable(warning)}")
    if not quiet:
        for line in _run_facts(results):
            print(f"{PROG}: {printable(line)}")
    print(f"{PROG}: reports in {report_dir}/ (report.html, junit.xml, results.json)")
    return verdict.status


def _baseline_lines(results: dict[str, Any]) -> list[str]:
    """What the run says about its baseline: the counts, a selection or version that differs."""
    b = results.get("baseline")
    if not isinstance(b, dict):
        return []
    if b.get("missing"):
        return [f"the baseline {b.get('file')} does not exist yet: every failure counted as new"]
    parts = [f"{b.get('new', 0)} new failure(s)"]
    if (results.get("gate") or {}).get("fail_on") == "should" or b.get("new_warnings"):
        parts.append(f"{b.get('new_warnings', 0)} new warning(s)")
    parts += [f"{b.get('still_failing', 0)} still failing"]
    if b.get("still_warning"):
        parts.append(f"{b['still_warning']} still warning")
    parts.append(f"{b.get('fixed', 0)} fixed")
    if b.get("not_in_baseline"):
        parts.append(f"{b['not_in_baseline']} failing case(s) outside its selection (they gate)")
    if b.get("new_cases"):
        parts.append(f"{b['new_cases']} failing new case(s) its suite version did not have (they do not gate)")
    lines = [f"against the baseline {b.get('file')}: " + ", ".join(parts)]
    if b.get("selection_difference"):
        lines.append(
            f"the baseline was recorded with another selection ({b['selection_difference']}): the "
            f"{b.get('unrecorded', 0)} case(s) of this run it has no outcome for are judged as without a baseline"
        )
    elif b.get("unrecorded") and b.get("format") == "results.json":
        lines.append(
            f"the baseline has no outcome for {b['unrecorded']} case(s) of this run: judged as without a baseline, "
            "unless its suite version did not have them"
        )
    return lines


def _run_facts(results: dict[str, Any]) -> list[str]:
    """The run's own facts after the verdict: requests, rate limits, concurrency, the fuzz seed."""
    lines: list[str] = []
    requests = results.get("requests", {})
    if requests:
        lines.append("requests sent: " + ", ".join(f"{n} to {host}" for host, n in requests.items()))
    throttled = results.get("throttled") or {}
    if isinstance(throttled, dict) and throttled.get("count"):
        lines.append(
            f"rate-limited {int(throttled['count'])} time(s) (429/503 with Retry-After): waited "
            f"{float(throttled.get('waited_s', 0)):g} s and sent each request again; no case was judged on it"
        )
    confirmed = (results.get("concurrency") or {}).get("confirmed_alone") or 0
    if isinstance(confirmed, int) and confirmed:
        lines.append(
            f"{confirmed} pass(es) beside other cases rested on a refusal naming no DPoP error (it could "
            "have come from the load); each was run again alone before it counted"
        )
    changed = (results.get("concurrency") or {}).get("changed_alone") or []
    if isinstance(changed, list) and changed:
        ids = ", ".join(str(c.get("id", "")) for c in changed[:5]) + (", ..." if len(changed) > 5 else "")
        lines.append(
            f"{len(changed)} case(s) reached another outcome beside other cases than alone ({ids}); the "
            "outcome alone counts. The target may keep state per client: --concurrency 1 runs every case alone"
        )
    fuzz = results.get("fuzz", {})
    ran_fuzz = any(str(c.get("id", "")).split("-")[1:2] == ["fuzz"] for c in results.get("cases", []))
    if ran_fuzz and fuzz.get("seed") is not None:
        lines.append(f"fuzz seed {fuzz['seed']} (replay with --fuzz-seed {fuzz['seed']})")
    elif ran_fuzz:
        lines.append("fuzz examples derandomised (the same every run); --fuzz-seed random explores")
    return lines


def _metadata(target: Target, ca_file: str | None, insecure: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The issuer's metadata (one GET, no credential), or why it cannot be used."""
    from conformance.client.flow import DPoPClient, FlowError
    from conformance.client.origins import issuer_mismatch
    from conformance.client.transport import tls_verification

    server = target.authorization_server
    if server is None or not server.issuer:
        return None, None
    client = DPoPClient(
        timeout=target.timeout, verify=tls_verification(ca_file or target.ca_file, insecure or target.insecure)
    )
    try:
        metadata = client.discover(server.issuer)
    except FlowError as exc:
        return None, str(exc)
    finally:
        client.close()
    mismatch = issuer_mismatch(server.issuer, metadata)
    if mismatch:
        return None, f"{mismatch}; set [authorization_server] issuer to the server you mean to test"
    return metadata, None


def _announce(target: Target, args: argparse.Namespace) -> None:
    """Before the first credential: which origins receive which credentials, and plain HTTP among them.

    The metadata is fetched here (a GET that carries nothing) so that endpoints found by discovery are
    named before the run sends them anything; when it cannot be used, the run's preflight says why.
    """
    from conformance.client.target import plain_http_warning
    from conformance.run.plan import origins, recipients

    metadata, _ = _metadata(target, args.ca_file, args.insecure)
    found = recipients(target, metadata)
    for recipient in found:
        warning = plain_http_warning("a discovered endpoint at", recipient.url) if recipient.discovered else None
        if warning:
            print(f"{PROG}: warning: {printable(warning)}")
    for origin, carries in origins(found).items():
        print(f"{PROG}: {printable(origin)} will receive: {', '.join(carries)}")


# --- check --------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from conformance.client.target import ConfigError, load_target
    from conformance.judge.catalog import load_cases
    from conformance.run.cases_folder import locate_cases
    from conformance.run.plan import case_groups, origins, recipients

    try:
        target = load_target(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.insecure and args.ca_file:
        return _fail(CA_CONTRADICTION)
    if args.ca_file and not Path(args.ca_file).is_file():
        return _fail(f"--ca-file {args.ca_file}: no such file (give a PEM file of CA certificates)")
    print(f"{PROG}: {args.config} is a valid target file (target {target.name!r})")
    metadata = None
    server = target.authorization_server
    if args.discover and server is not None and server.issuer:
        metadata, problem = _metadata(target, args.ca_file, args.insecure)
        if problem:
            return _fail(f"--discover: {problem}")
        assert metadata is not None
        print(f"{PROG}: metadata of {server.issuer}: {len(metadata)} members")
    elif args.discover:
        print(f"{PROG}: --discover: the target file names no issuer, so there is no metadata to fetch")
    for warning in target.transport_warnings():
        print(f"{PROG}: warning: {printable(warning)}")
    found = recipients(target, metadata)
    print("endpoints, and what the run sends them:")
    width = max(len(r.what) for r in found) if found else 0
    for r in found:
        note = " (discovered)" if r.discovered else ""
        print(f"  {r.what:<{width}}  {printable(r.url)}{note}")
        print(f"  {'':<{width}}    {', '.join(c for c in r.carries if c)}")
    print("credentials by origin:")
    for origin, carries in origins(found).items():
        print(f"  {printable(origin)}: {', '.join(carries)}")
    groups = case_groups(target, load_cases(locate_cases()).values(), args.profile, metadata)
    running = sum(g.run for g in groups)
    skipped = sum(n for g in groups for n in (g.skipped or {}).values())
    print(f"cases: {running} will run, {skipped} are skipped or not selected:")
    for group in groups:
        for line in group.lines():
            print(line)
    if server is not None and server.issuer and not args.discover:
        print("  (endpoints not in the target file come from the metadata: --discover fetches it now)")
    return 0


# --- compare ------------------------------------------------------------------------------------


def _compare(args: argparse.Namespace) -> int:
    from conformance.report.compare import CompareError, load_runs, render_html, render_markdown

    try:
        runs = load_runs(args.results)
    except CompareError as exc:
        return _fail(str(exc))
    output = Path(args.output) if args.output else None
    if output is None and args.format == "html" and sys.stdout.isatty():
        return _fail(
            "compare writes an HTML page, which is not for a terminal: give --output FILE, or --format markdown"
        )
    if args.format == "markdown":
        text = render_markdown(runs, only_differences=args.only_differences)
    else:
        text = render_html(runs, (output or Path("compare.html")).resolve())
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}")
    print(f"{PROG}: wrote {output} ({len(runs)} targets)")
    return 0


# --- summary ------------------------------------------------------------------------------------


def _summary(args: argparse.Namespace) -> int:
    from conformance.report.compare import CompareError, load_runs
    from conformance.report.markdown import render_summary

    try:
        (run,) = load_runs([args.results])
    except CompareError as exc:
        return _fail(str(exc))
    text = render_summary(run.results, fail_on=args.fail_on)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    return 0


# --- schema -------------------------------------------------------------------------------------


def _schema(name: str) -> int:
    from conformance.schemas import schema_text

    sys.stdout.write(schema_text(name))
    return 0


# --- list ---------------------------------------------------------------------------------------


def _list(fmt: str, selection: Selection) -> int:
    import json
    from dataclasses import asdict

    from conformance.judge.catalog import load_cases, render_document
    from conformance.run.cases_folder import locate_cases
    from conformance.run.selection import SelectionError

    cases = load_cases(locate_cases())
    try:
        selection.check(cases.values())
    except SelectionError as exc:
        return _fail(str(exc))
    cases = {case_id: c for case_id, c in cases.items() if selection.selects(c)}
    if fmt == "markdown":
        sys.stdout.write(render_document(cases))
    elif fmt == "json":
        rows = [{**asdict(c), "level": c.level.value, "rfc_url": c.rfc_url} for c in cases.values()]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    else:
        width = max(len(c.id) for c in cases.values())
        for c in sorted(cases.values(), key=lambda c: c.id):
            print(f"{c.id:<{width}}  {c.actor}  {c.level.value:<6}  §{c.section:<5} {c.title}")
    return 0


def _selection(args: argparse.Namespace) -> Selection:
    from conformance.run.selection import Selection

    return Selection.of(args.case, args.exclude, args.section, args.actor, args.level)


# --- serve --------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from conformance.reference import DEFECTS, LENIENCIES, RunningServer, ServerSettings

    if args.list_defects:
        width = max(len(name) for name in [*DEFECTS, *LENIENCIES])
        print("defects (each breaks one check; --defect NAME):")
        for defect in DEFECTS.values():
            print(f"  {defect.name:<{width}}  {defect.actor:<4}  {defect.description}")
        print("leniencies (what real libraries and servers do, legal; --leniency NAME, or all but lossy-store):")
        for leniency in LENIENCIES.values():
            print(f"  {leniency.name:<{width}}  {leniency.actor:<4}  {leniency.description}")
        return 0
    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port} is not a port number (0 to 65535)")
    try:
        settings = ServerSettings(nonce=args.nonce, defects=frozenset(args.defect), leniencies=frozenset(args.leniency))
    except ValueError as exc:
        return _fail(str(exc))
    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together: give the certificate and its private key (PEM files)")
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not Path(path).is_file():
            return _fail(f"{option} {path}: no such file")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        server = RunningServer(settings, port=args.port, tls=tls).start()
    except OSError as exc:
        return _fail(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}")
    except RuntimeError as exc:  # uvicorn could not load the certificate or key
        return _fail(f"cannot start the reference server: {exc}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        base = server.base_url
        print(
            f"reference DPoP server on {base} (nonces: {settings.nonce}; defects: "
            f"{', '.join(sorted(settings.defects)) or 'none'}"
            + (f"; leniencies: {', '.join(sorted(settings.leniencies))}" if settings.leniencies else "")
            + ")"
        )
        print(f"  metadata       {base}/.well-known/oauth-authorization-server")
        print(f"  token          {base}/token")
        print(f"  authorize      {base}/authorize")
        print(f"  introspection  {base}/introspect")
        print(f"  resource       {base}/resource")
        s = settings
        if args.write_config:
            path = server.write_target_file(args.write_config)
            print(f"  target file    {path}  (run: {PROG} run --config {path})")
            where = f"in {path}"
        else:
            where = "made up at start and not shown: --write-config FILE writes it into a ready target file"
        print(f"  client         {s.client_id} (confidential, client_secret_basic or _post; its secret: {where})")
        print(f"  public client  {s.public_client_id} (redirect URI {s.redirect_uri}, logins approved automatically)")
        if s.jwt_client_jwks:
            print(f"  jwt client     {s.jwt_client_id} (private_key_jwt)")
        print("press Ctrl-C to stop", flush=True)
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
