"""The `dpop-conformance` command: `run` the suite against a target, `serve` the reference server.

Exit status of `run`: 0 every case judged and no MUST failed; 1 a MUST failed (or a SHOULD, with
--strict); 2 usage or target-file error (nothing was sent); 3 the target could not be reached or a case
could not be judged (its happy path or a control request failed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from conformance import __version__
from conformance.printable import printable
from conformance.run.concurrency import DEFAULT_CONCURRENCY, concurrency_problem

if TYPE_CHECKING:  # pragma: no cover
    from conformance.client.target import Target
    from conformance.run.selection import Selection

__all__ = ["main"]

PROG = "dpop-conformance"
CA_CONTRADICTION = "--insecure and --ca-file contradict each other; keep one (--ca-file verifies, --insecure does not)"


def _seed(text: str) -> int | str:
    """The --fuzz-seed value: a non-negative integer, or "random"."""
    if text == "random":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give a whole number, or random") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give 0 or more, or random")
    return value


def _fail(message: str, stream: TextIO | None = None) -> int:
    print(f"{PROG}: error: {printable(message)}", file=stream or sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog=PROG, description="Conformance test suite for OAuth 2.0 DPoP (RFC 9449).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,check,compare,summary,list,schema,serve}")

    run = sub.add_parser(
        "run",
        help="run the conformance cases against a target",
        description="Run the conformance cases. Without --config, against the embedded reference "
        "server. Arguments after -- go to pytest (e.g. -- -k nonce -v).",
    )
    run.add_argument(
        "--config",
        metavar="FILE",
        action="append",
        default=[],
        help="target file (TOML); repeat it to run several targets and compare them (reports/<name>/ each, and "
        "reports/compare.html); default: the embedded reference server",
    )
    run.add_argument(
        "--report-dir",
        metavar="DIR",
        help="where to write report.html, junit.xml and results.json (default: reports/<target name>/)",
    )
    run.add_argument("--strict", action="store_true", help="SHOULD violations (warnings) also make the exit status 1")
    run.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the verdict and pytest's output: auto (a terminal without NO_COLOR), always or never",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print the verdict line alone")
    run.add_argument(
        "--pytest-html",
        action="store_true",
        help="also write pytest-html's own page (pytest-html.html); report.html is the suite's",
    )
    _add_selectors(run)
    run.add_argument(
        "--fail-on",
        choices=("must", "should"),
        default=None,
        help="what makes the exit status 1: a MUST failure (default), or a SHOULD one too (= --strict)",
    )
    run.add_argument(
        "--baseline",
        metavar="FILE",
        help="an earlier results.json: only failures new against it make the exit status 1; every failing "
        "case is marked new, still failing or new case (one the baseline did not have), a mended one fixed",
    )
    run.add_argument(
        "--baseline-missing",
        choices=("error", "ok"),
        default="error",
        help="when the --baseline file does not exist: error (default, exit 2), or ok: every failure counts "
        "as new and nothing is written (a gate's first run; record one with --write-baseline)",
    )
    run.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="record this run's results.json as the next baseline in FILE (it may be the --baseline file)",
    )
    run.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=("rfc9449", "fapi2", "browser"),
        help="rfc9449 (always run); fapi2: also the FAPI 2.0 Security Profile's DPoP rules; browser: also CORS "
        "readiness for browser clients (repeatable)",
    )
    run.add_argument(
        "--fuzz-profile",
        choices=("quick", "ci", "thorough"),
        default="quick",
        help="examples per fuzz case: quick (40, default), ci (150), thorough (1000)",
    )
    run.add_argument("--fuzz-examples", type=int, metavar="N", help="examples per fuzz case (overrides the profile)")
    run.add_argument(
        "--fuzz-seed",
        type=_seed,
        metavar="N|random",
        help="explore: draw the fuzz cases' examples from seed N (replays an earlier exploration), or from a "
        "random seed (printed); default: derandomised, the same examples every run",
    )
    run.add_argument(
        "--fuzz-rate",
        type=float,
        metavar="RPS",
        help="at most this many fuzz requests per second (for staging servers)",
    )
    run.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=None,
        help=f"requests in flight at once: cases run side by side, with the verdicts of a serial run (default "
        f"{DEFAULT_CONCURRENCY}; 1 is serial); --max-rps and --max-requests hold across them",
    )
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=None,
        help="run the cases in N parallel processes (pytest-xdist, from the test extras), each one case at a time; "
        "same verdicts as serial",
    )
    run.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="an overall time limit: after it nothing more is sent and the remaining cases end in error",
    )
    run.add_argument("--max-requests", type=int, metavar="N", help="send at most N requests (for staging servers)")
    run.add_argument("--max-rps", type=float, metavar="RPS", help="send at most this many requests per second")
    run.add_argument(
        "--ca-file",
        metavar="FILE",
        help="also trust the CA certificates in this PEM file (a staging server's private CA); overrides ca_file "
        "in the target file",
    )
    run.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify TLS certificates at all (tests only: credentials are then open to anyone on the path)",
    )
    run.add_argument(
        "--reference-algs",
        metavar="ALG,...",
        help="without --config: the proof algorithms the reference server accepts and advertises "
        "(default: ES256,ES384,ES512,RS256,PS256,EdDSA)",
    )
    run.add_argument(
        "--reference-port", type=int, default=0, help="without --config: the reference server's port (default: free)"
    )
    run.add_argument(
        "--reference-nonce",
        choices=("none", "as", "rs", "both"),
        default="both",
        help="without --config: which side of the reference server demands nonces (default: both)",
    )
    run.add_argument(
        "--reference-defect",
        action="append",
        default=[],
        metavar="NAME",
        help="without --config: switch a defect on in the reference server (repeatable; see "
        "`dpop-conformance serve --list-defects`)",
    )
    run.add_argument(
        "--reference-par",
        choices=("on", "off"),
        default="on",
        help="without --config: whether the reference server has a PAR endpoint (default: on)",
    )
    run.add_argument(
        "--reference-leniency",
        action="append",
        default=[],
        metavar="NAME",
        help="without --config: switch on a leniency of real libraries and servers in the reference server "
        "(repeatable, or all, which leaves out lossy-store: it acts only under load; see `dpop-conformance serve "
        "--list-defects`): legal behaviour, which must cause no failure",
    )

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
    compare.add_argument("--output", metavar="FILE", help="write here (default: standard output)")
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
        "--fail-on", choices=("must", "should"), default="must", help="as for run: what the verdict counts as failing"
    )

    listing = sub.add_parser(
        "list",
        help="list the conformance cases",
        description="List every case: id, title, RFC section, level, actor and the requirement it checks.",
    )
    listing.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format")
    _add_selectors(listing)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of results.json or of a target file",
        description="Print a JSON Schema (draft 2020-12) the suite publishes: results (results.json) or target "
        "(target files; point an editor's TOML language server at it).",
    )
    schema.add_argument("name", choices=("results", "target"), help="which schema")

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
        if args.command == "run":
            return _run(args, pytest_args)
        if args.command == "list":
            return _list(args.format, _selection(args))
        if args.command == "check":
            return _check(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "summary":
            return _summary(args)
        if args.command == "schema":
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


def _run(args: argparse.Namespace, pytest_args: list[str]) -> int:
    from conformance.client.target import ConfigError, load_target

    target = None
    problem = _check_limits(args)
    if problem:
        return _fail(problem)
    args.strict = args.strict or args.fail_on == "should"
    selection = _selection(args)
    if selection:
        from conformance.judge.catalog import load_cases
        from conformance.run.plugin import locate_cases
        from conformance.run.selection import SelectionError

        try:
            selection.check(load_cases(locate_cases()).values())
        except SelectionError as exc:
            return _fail(str(exc))
    if args.baseline:
        problem = _check_baseline(args.baseline, missing_ok=args.baseline_missing == "ok")
        if problem:
            return _fail(problem)
        pytest_args = [
            f"--dpop-baseline={Path(args.baseline).resolve()}",
            *(["--dpop-baseline-missing-ok"] if args.baseline_missing == "ok" else []),
            *pytest_args,
        ]
    elif args.baseline_missing != "error":
        return _fail("--baseline-missing applies to a --baseline file; give --baseline FILE or drop it")
    if args.write_baseline and len(args.config or []) > 1:
        return _fail("--write-baseline records one target's run; run the targets one at a time to record each")
    seed = secrets.randbelow(2**31) if args.fuzz_seed == "random" else args.fuzz_seed
    pytest_args = [
        *(f"--dpop-profile={p}" for p in args.profile if p != "rfc9449"),
        f"--dpop-fuzz-profile={args.fuzz_profile}",
        *([f"--hypothesis-seed={seed}"] if seed is not None else []),
        *([f"--dpop-fuzz-examples={args.fuzz_examples}"] if args.fuzz_examples is not None else []),
        *([f"--dpop-fuzz-rate={args.fuzz_rate}"] if args.fuzz_rate else []),
        *selection.as_args(),
        *([f"--dpop-deadline={args.deadline}"] if args.deadline else []),
        *([f"--dpop-max-requests={args.max_requests}"] if args.max_requests is not None else []),
        *([f"--dpop-max-rps={args.max_rps}"] if args.max_rps else []),
        *([f"--dpop-ca-file={Path(args.ca_file).resolve()}"] if args.ca_file else []),
        *(["--dpop-insecure"] if args.insecure else []),
        *([f"--dpop-concurrency={args.concurrency}"] if args.concurrency is not None else []),
        *(["-n", str(args.workers)] if args.workers and args.workers > 1 else []),
        *pytest_args,
    ]
    if args.config:
        if (
            args.reference_defect
            or args.reference_leniency
            or args.reference_algs
            or args.reference_port
            or args.reference_par != "on"
        ):
            return _fail("the --reference-* options apply to the embedded reference server; drop them or --config")
        try:
            targets = [load_target(path) for path in args.config]  # every file is checked before anything runs
        except ConfigError as exc:
            return _fail(str(exc))
        for loaded in targets:  # before anything is sent
            for warning in loaded.transport_warnings():
                print(f"{PROG}: warning: {printable(warning)}")
        if len(targets) > 1:
            return _run_several(args, targets, pytest_args)
        target = targets[0]
    report_dir = (
        Path(args.report_dir) if args.report_dir else Path("reports") / (target.name if target else "reference")
    )
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create the report folder {report_dir}: {exc.strerror or exc}")
    if target is not None:
        _announce(target, args)
        return _run_pytest(Path(args.config[0]), report_dir, pytest_args, args, name=target.name)

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
        server = RunningServer(settings, port=args.reference_port)
    except ValueError as exc:
        return _fail(str(exc))
    defects = ", ".join(sorted(settings.defects))
    leniencies = ", ".join(sorted(settings.leniencies))
    try:
        server.start()
    except OSError as exc:
        return _fail(f"cannot start the reference server on 127.0.0.1:{args.reference_port}: {exc.strerror or exc}")
    with tempfile.TemporaryDirectory(prefix="dpop-conformance-") as scratch, server:
        # the file holds the reference server's throwaway secret, so it stays out of the report folder
        config_path = server.write_target_file(Path(scratch) / "reference.toml")
        if not args.quiet:
            print(
                f"{PROG}: running against the embedded reference server at {server.base_url} "
                f"(nonces: {settings.nonce}{'; defects: ' + defects if defects else ''}"
                f"{'; leniencies: ' + leniencies if leniencies else ''})"
            )
        return _run_pytest(config_path, report_dir, pytest_args, args, name="reference")


def _check_limits(args: argparse.Namespace) -> str | None:
    """A one-line complaint about a nonsensical numeric or file option, or None."""
    if args.deadline is not None and args.deadline <= 0:
        return f"--deadline {args.deadline:g}: give a positive number of seconds"
    if args.max_requests is not None and args.max_requests < 0:
        return f"--max-requests {args.max_requests}: give 0 or more"
    if args.max_rps is not None and args.max_rps <= 0:
        return f"--max-rps {args.max_rps:g}: give a positive number of requests per second"
    if args.concurrency is not None:
        problem = concurrency_problem(args.concurrency)
        if problem:
            return problem
    if args.workers is not None and args.workers < 1:
        return f"--workers {args.workers}: give 1 or more (1 runs the cases in one process, as without --workers)"
    if args.fuzz_examples is not None and args.fuzz_examples < 0:
        return (
            f"--fuzz-examples {args.fuzz_examples}: give 0 or more (0 sends only the one example of every fault "
            "each fuzz case starts with)"
        )
    if args.fuzz_rate is not None and args.fuzz_rate <= 0:
        return f"--fuzz-rate {args.fuzz_rate:g}: give a positive number of requests per second"
    if args.strict and args.fail_on == "must":
        return "--strict and --fail-on must contradict each other: --strict is --fail-on should; keep one"
    if not 0 <= args.reference_port <= 65535:
        return f"--reference-port {args.reference_port} is not a port number (0 to 65535)"
    if args.ca_file and not Path(args.ca_file).is_file():
        return f"--ca-file {args.ca_file}: no such file (give a PEM file of CA certificates)"
    if args.insecure and args.ca_file:
        return CA_CONTRADICTION
    return None


def _record_baseline(results: dict[str, Any], results_path: Path, destination: Path) -> str:
    """Write this run's results.json as the next baseline (not when the setup failed); what was done, one line."""
    from conformance.report.baseline import write_baseline

    if results.get("preflight", {}).get("ok") is False:
        return f"baseline not written to {destination}: the setup failed, so no case was judged"
    try:
        write_baseline(results_path, destination)
    except OSError as exc:
        return f"baseline not written to {destination}: {exc.strerror or exc}"
    failed, cases = results.get("summary", {}).get("failed", 0), len(results.get("cases", []))
    return f"recorded this run as the baseline in {destination} ({cases} cases, {failed} failed)"


def _check_baseline(path: str, *, missing_ok: bool) -> str | None:
    """A one-line complaint when `path` is not an earlier run's results.json, or None; says what it is."""
    from conformance import __version__
    from conformance.report.baseline import BaselineError, load_baseline

    try:
        baseline = load_baseline(path, missing_ok=missing_ok)
    except BaselineError as exc:
        return str(exc)
    if baseline.missing:
        print(f"{PROG}: the baseline {printable(path)} does not exist yet: every failure counts as new")
    elif baseline.other_version(__version__):
        print(
            f"{PROG}: the baseline {printable(path)} was made by dpop-conformance "
            f"{printable(str(baseline.suite_version))} (this is {__version__}): a failing case it did not have "
            "is marked new case and does not gate; refresh it with --write-baseline"
        )
    return None


def _run_several(args: argparse.Namespace, targets: list[Target], pytest_args: list[str]) -> int:
    """Run several targets, one after the other, then write the comparison page of their results."""
    from conformance.report.compare import load_runs, render_html

    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return _fail(
            f"several target files are named {duplicates[0]!r}; give each its own name (it names its report folder)"
        )
    base = Path(args.report_dir) if args.report_dir else Path("reports")
    statuses = []
    for path, target in zip(args.config, targets, strict=True):
        print(f"{PROG}: == {target.name} ({path})")
        _announce(target, args)
        statuses.append(_run_pytest(Path(path), base / target.name, pytest_args, args, name=target.name))
    results = [str(base / t.name / "results.json") for t in targets if (base / t.name / "results.json").exists()]
    if len(results) > 1:
        page = base / "compare.html"
        page.write_text(render_html(load_runs(results), page.resolve()), encoding="utf-8")
        print(f"{PROG}: comparison of {len(results)} targets in {page}")
    # the worst status wins: a MUST failure, then an unjudged target, then usage errors
    return 1 if 1 in statuses else 3 if 3 in statuses else 2 if 2 in statuses else 0


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


def _run_pytest(
    config_path: Path, report_dir: Path, pytest_args: list[str], options: argparse.Namespace, *, name: str
) -> int:
    """Run the cases in a pytest process of their own; then the verdict and the findings on the terminal."""
    from conformance.report.results import exit_status, load_results
    from conformance.report.terminal import coloured, summary_lines, use_colour
    from conformance.run.plugin import locate_cases

    strict = bool(options.strict)
    quiet = bool(getattr(options, "quiet", False))
    colour = use_colour(getattr(options, "color", "auto"), tty=sys.stdout.isatty(), environ=dict(os.environ))
    report_dir = report_dir.resolve()
    results_path = report_dir / "results.json"
    # failures the fuzzer found once are retried first next time
    pytest_args = [f"--dpop-fuzz-db={report_dir / '.hypothesis'}", *pytest_args]
    results_path.unlink(missing_ok=True)
    cases = locate_cases()
    args = [
        sys.executable,
        "-m",
        "pytest",
        str(cases),
        "-p",
        "conformance.plugin",
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
        str(results_path),
        f"--dpop-report={report_dir / 'report.html'}",
        *(
            [
                f"--html={report_dir / 'pytest-html.html'}",
                "--self-contained-html",
                f"--css={Path(__file__).resolve().parent.parent / 'report' / 'pytest_html.css'}",
                "-o",
                "render_collapsed=passed,skipped",  # failures and errors open, with their evidence
            ]
            if getattr(options, "pytest_html", False)
            else ["-p", "no:html"]  # the suite's own report.html is the page; pytest-html's only when asked
        ),
        f"--junitxml={report_dir / 'junit.xml'}",
        "-o",
        "junit_suite_name=dpop-conformance",
        "-o",
        "junit_family=xunit1",
        "-q",  # progress in a few lines: the verdict and the findings follow, one line each
        f"--color={'yes' if colour else 'no'}",
        *pytest_args,
    ]
    # The suite runs in its own process: the embedded reference server keeps this one (and its own
    # interpreter lock), and the cases import nothing that this process has already loaded.
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(_hypothesis_storage(report_dir))}
    code = subprocess.run(
        args, cwd=cases, env=env, check=False, stdout=subprocess.DEVNULL if quiet else None
    ).returncode
    if not results_path.exists():
        if code == 4:  # pytest's usage error
            return 2
        print(f"{PROG}: error: pytest ended with status {code} and wrote no results", file=sys.stderr)
        return 3
    results = load_results(results_path)
    if not results.get("cases"):
        # a selection after -- that matches no case: nothing ran, so there is nothing to judge either
        print(f"{PROG}: error: no case selected (the -k / -m expression after -- matches none); see {PROG} list")
        return 2
    status = exit_status(results, strict=strict)
    lines = summary_lines(results, strict=strict)
    verdict = f"{PROG}: {name}: {printable(lines[0])}"
    print(coloured(verdict, status, colour=colour))
    if quiet:
        return status
    for line in lines[1:]:
        print(f"{PROG}: {printable(line)}")
    if "baseline" in results:
        b = results["baseline"]
        new_cases = f", {b['new_cases']} failing new case(s) the baseline did not have" if b.get("new_cases") else ""
        print(
            f"{PROG}: against the baseline: {b['new']} new failure(s), {b['still_failing']} still failing, "
            f"{b['fixed']} fixed{new_cases}"
        )
    if getattr(options, "write_baseline", None):
        print(f"{PROG}: {_record_baseline(results, results_path, Path(options.write_baseline))}")
    for warning in results.get("warnings", []):
        print(f"{PROG}: warning: {printable(warning)}")
    requests = results.get("requests", {})
    if requests:
        print(f"{PROG}: requests sent: " + printable(", ".join(f"{n} to {host}" for host, n in requests.items())))
    throttled = results.get("throttled") or {}
    if isinstance(throttled, dict) and throttled.get("count"):
        print(
            f"{PROG}: rate-limited {int(throttled['count'])} time(s) (429/503 with Retry-After): waited "
            f"{float(throttled.get('waited_s', 0)):g} s and sent each request again; no case was judged on it"
        )
    confirmed = (results.get("concurrency") or {}).get("confirmed_alone") or 0
    if isinstance(confirmed, int) and confirmed:
        print(
            f"{PROG}: {confirmed} pass(es) beside other cases rested on a refusal naming no DPoP error (it could "
            "have come from the load); each was run again alone before it counted"
        )
    changed = (results.get("concurrency") or {}).get("changed_alone") or []
    if isinstance(changed, list) and changed:
        ids = ", ".join(printable(str(c.get("id", ""))) for c in changed[:5]) + (", ..." if len(changed) > 5 else "")
        print(
            f"{PROG}: {len(changed)} case(s) reached another outcome beside other cases than alone ({ids}); the "
            "outcome alone counts. The target may keep state per client: --concurrency 1 runs every case alone"
        )
    fuzz = results.get("fuzz", {})
    ran_fuzz = any(str(c.get("id", "")).split("-")[1:2] == ["fuzz"] for c in results.get("cases", []))
    if ran_fuzz and fuzz.get("seed") is not None:
        print(f"{PROG}: fuzz seed {fuzz['seed']} (replay with --fuzz-seed {fuzz['seed']})")
    elif ran_fuzz:
        print(f"{PROG}: fuzz examples derandomised (the same every run); --fuzz-seed random explores")
    print(f"{PROG}: reports in {report_dir}/ (report.html, junit.xml, results.json)")
    return status


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
    from conformance.run.plan import case_groups, origins, recipients
    from conformance.run.plugin import locate_cases

    try:
        target = load_target(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.insecure and args.ca_file:
        return _fail(
            "--insecure and --ca-file contradict each other; keep one (--ca-file verifies, --insecure does not)"
        )
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
    text = render_summary(run.results, strict=args.fail_on == "should")
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
    from conformance.run.plugin import locate_cases
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


def _add_selectors(parser: argparse.ArgumentParser) -> None:
    """--case, --exclude, --section, --actor, --level: the same for `run` and `list`."""
    group = parser.add_argument_group("selecting cases (kinds narrow each other; one kind adds up)")
    group.add_argument("--case", action="append", metavar="ID", help="a case id, or a glob (as-htu-*); repeatable")
    group.add_argument("--exclude", action="append", metavar="ID", help="leave out a case id or glob; repeatable")
    group.add_argument("--section", action="append", metavar="N", help="an RFC 9449 section (4.3 takes 4.3.x too)")
    group.add_argument("--actor", action="append", metavar="AS|RS", help="the cases of the AS or of the RS")
    group.add_argument("--level", action="append", metavar="LEVEL", help="MUST, SHOULD or MAY; repeatable")


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
