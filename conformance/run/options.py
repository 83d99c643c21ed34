"""The options of a run, declared once: the `run` and `client` commands' arguments and the pytest plugin's
`--dpop-*` options.

Each row of `OPTIONS` is one option. Its `run` side is an argument of `dpop-conformance run` (argparse), its
`pytest` side a `--dpop-<name>` option of the plugin, its `client` side an argument of `dpop-conformance client`
(client conformance, issue 30: the suite plays the servers and judges a client's command); most options have
two, some only one (the report folder is the CLI's, the results file the plugin's, --command the client's).
`forward` says how the CLI hands a `run` value to the cases' pytest process, and `check` what makes a value
nonsense: every side reads its values through the same rows, so a bad value gets the same one line wherever it
was given.

Apart from the plugin, and free of pytest, so that the CLI can build its parser without importing pytest.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from conformance.judge.fuzzing import FUZZ_PROFILES
from conformance.run.concurrency import DEFAULT_CONCURRENCY, concurrency_problem

__all__ = [
    "CA_CONTRADICTION",
    "OPTIONS",
    "Option",
    "Side",
    "add_client_arguments",
    "add_pytest_options",
    "add_run_arguments",
    "add_selectors",
    "forwarded",
    "option_problem",
]

CA_CONTRADICTION = "--insecure and --ca-file contradict each other; keep one (--ca-file verifies, --insecure does not)"
#: the profiles a run can select (conformance/judge/catalog.py PROFILES: rfc9449 always runs)
_PROFILES = ("rfc9449", "fapi2", "browser")


@dataclass(frozen=True)
class Side:
    """How one side (the `run` command, or pytest) spells an option: its help, and argparse's keywords."""

    help: str
    metavar: str | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    action: str | None = None
    type: Callable[[str], Any] | None = None
    flags: tuple[str, ...] = ()  # a short flag before the long one (-q)

    def keywords(self) -> dict[str, Any]:
        """argparse's keywords for this side (those left unset are argparse's own defaults)."""
        given = {
            "action": self.action,
            "default": self.default,
            "choices": self.choices,
            "type": self.type,
            "metavar": self.metavar,
        }
        return {"help": self.help, **{k: v for k, v in given.items() if v is not None}}


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


def _ca_file_problem(path: str) -> str | None:
    from conformance.client.transport import ca_file_problem  # the TLS stack, only when a file is given

    problem = ca_file_problem(path)
    return f"--ca-file {path}: {problem} (give a PEM file of CA certificates)" if problem else None


def _as_value(value: object) -> list[str]:
    """The generic forwarding: `--dpop-<name>=value` for each value given (a flag for a switch)."""
    if value is None or value is False or value == []:
        return []
    if value is True:
        return [""]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class Option:
    """One option of a run, on the `run` command, on pytest, or both."""

    name: str  # the CLI's long name without its dashes ("max-requests"); pytest's is --dpop-<pytest_name>
    run: Side | None = None
    pytest: Side | None = None
    client: Side | None = None  # the `client` command's argument (judging a client), when it has one
    pytest_name: str | None = None  # where pytest's name differs from the CLI's (baseline-missing-ok)
    #: one line about a nonsensical value (None: fine); the value is the parsed one, never None
    check: Callable[[Any], str | None] | None = None
    #: how the CLI hands a `run` value on to pytest: "generic" (--dpop-<name>=value), a function of the value
    #: returning pytest arguments, or None: the CLI passes it itself (the target file, the baseline) or keeps it
    forward: str | Callable[[Any], list[str]] | None = None
    selector: bool = False  # one of the case selectors, shared by `run` and `list`

    @property
    def dest(self) -> str:
        """The attribute name of the `run` side (argparse's dest)."""
        return self.name.replace("-", "_")

    @property
    def pytest_option(self) -> str:
        """The plugin's option: --dpop-<name>."""
        return f"--dpop-{self.pytest_name or self.name}"

    @property
    def pytest_dest(self) -> str:
        """The name pytest's `config.getoption` reads the plugin's option by."""
        return self.pytest_option[2:].replace("-", "_")

    def forwarded(self, value: Any) -> list[str]:
        """The pytest arguments that carry this `run` value into the cases' process."""
        if self.forward is None:
            return []
        if callable(self.forward):
            return self.forward(value)
        return [self.pytest_option + (f"={v}" if v else "") for v in _as_value(value)]


def _positive(option: str, unit: str) -> Callable[[float], str | None]:
    return lambda value: f"--{option} {value:g}: give a positive number of {unit}" if value <= 0 else None


_SELECTORS = (
    Option(
        "case",
        run=Side("a case id, or a glob (as-htu-*); repeatable", metavar="ID", action="append"),
        pytest=Side(
            "run this case (an id, or a glob such as as-htu-*); repeatable",
            metavar="VALUE",
            action="append",
            default=[],
        ),
        client=Side("judge this check (an id, or a glob such as nonce*); repeatable", metavar="ID", action="append"),
        forward="generic",
        selector=True,
    ),
    Option(
        "exclude",
        run=Side("leave out a case id or glob; repeatable", metavar="ID", action="append"),
        pytest=Side("leave this case out (an id or a glob); repeatable", metavar="VALUE", action="append", default=[]),
        client=Side("leave a check id or glob out; repeatable", metavar="ID", action="append"),
        forward="generic",
        selector=True,
    ),
    Option(
        "section",
        run=Side("an RFC 9449 section (4.3 takes 4.3.x too)", metavar="N", action="append"),
        pytest=Side(
            "run the cases of this RFC 9449 section (4.3 takes 4.3.x too); repeatable",
            metavar="VALUE",
            action="append",
            default=[],
        ),
        forward="generic",
        selector=True,
    ),
    Option(
        "actor",
        run=Side("the cases of the AS or of the RS", metavar="AS|RS", action="append"),
        pytest=Side("run the cases of this actor: AS or RS", metavar="VALUE", action="append", default=[]),
        forward="generic",
        selector=True,
    ),
    Option(
        "level",
        run=Side("MUST, SHOULD or MAY; repeatable", metavar="LEVEL", action="append"),
        pytest=Side(
            "run the cases of this level: MUST, SHOULD or MAY; repeatable", metavar="VALUE", action="append", default=[]
        ),
        forward="generic",
        selector=True,
    ),
)

#: every option of a run, in the order `run --help` lists them (pytest's `--dpop-*` follow the same order)
OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        run=Side(
            "target file (TOML); repeat it to run several targets and compare them (reports/<name>/ each, and "
            "reports/compare.html); default: the embedded reference server",
            metavar="FILE",
            action="append",
            default=[],
        ),
        pytest=Side(
            "target file (TOML); default: env DPOP_CONFIG, ini dpop_config, else the embedded reference server",
            metavar="FILE",
        ),
        client=Side(
            "a client target file (TOML): a [client_under_test] table with command and capabilities (instead of "
            "--command)",
            metavar="FILE",
        ),
    ),
    Option(
        "command",
        client=Side(
            "the client's command, run once per scenario with the DPOP_* environment (README.md, Judging a DPoP "
            "client); split like a shell line, run without a shell",
            metavar="CMD",
        ),
    ),
    Option(
        "capability",
        client=Side(
            "a capability the client declares, which adds its scenarios: refresh_token, authorization_code, post "
            "(repeatable)",
            action="append",
            choices=("refresh_token", "authorization_code", "post"),
        ),
    ),
    Option(
        "list",
        client=Side(
            "list the client checks (id, level, title; --case/--exclude select) and the scenarios (--scenario and "
            "the capabilities select), run nothing, and exit",
            action="store_true",
        ),
    ),
    Option(
        "scenario",
        client=Side("run only this scenario (an id or a glob); repeatable", metavar="ID", action="append"),
    ),
    Option(
        "timeout",
        client=Side("seconds the command may take in one scenario (default 20)", type=float, metavar="SECONDS"),
        check=_positive("timeout", "seconds"),
    ),
    Option("results", pytest=Side("write results.json here", metavar="FILE")),
    Option(
        "report-dir",
        run=Side(
            "where to write report.html, junit.xml and results.json (default: reports/<target name>/)", metavar="DIR"
        ),
        client=Side(
            "where to write report.html, junit.xml and results.json (default: reports/<client name>/)", metavar="DIR"
        ),
    ),
    Option(
        "strict",
        run=Side("SHOULD violations (warnings) also make the exit status 1", action="store_true"),
        pytest=Side("the same as --dpop-fail-on=should", action="store_true"),
    ),
    Option(
        "color",
        run=Side(
            "colour the verdict and pytest's output: auto (a terminal without NO_COLOR), always or never",
            choices=("auto", "always", "never"),
            default="auto",
        ),
        client=Side(
            "colour the verdict: auto (a terminal without NO_COLOR), always or never",
            choices=("auto", "always", "never"),
            default="auto",
        ),
    ),
    Option(
        "quiet",
        run=Side(
            "no progress and no findings: the verdict, what was written, and the run's warnings",
            action="store_true",
            flags=("-q",),
        ),
        client=Side(
            "no findings: the verdict, what was written, and the run's warnings", action="store_true", flags=("-q",)
        ),
    ),
    Option(
        "pytest-html",
        run=Side(
            "also write pytest-html's own page (pytest-html.html); report.html is the suite's", action="store_true"
        ),
    ),
    *_SELECTORS,
    Option(
        "fail-on",
        run=Side(
            "what makes the exit status 1: a MUST failure (default), or a SHOULD one too (= --strict)",
            choices=("must", "should"),
        ),
        pytest=Side(
            "what fails the run: a MUST failure (default), or a SHOULD violation too (results.json gate.fail_on)",
            choices=("must", "should"),
        ),
        client=Side(
            "what makes the exit status 1: a MUST failure (default), or a SHOULD one too",
            choices=("must", "should"),
        ),
        forward="generic",  # the CLI folds --strict into it first (cli.py _settled)
    ),
    Option(
        "baseline",
        run=Side(
            "a baseline file (written by --write-baseline): only cases new against it make the exit status 1; "
            "each failing case is marked new, still failing, not in baseline (its selection left the case out: "
            "gates), new case (its suite version had none: does not gate) or fixed. With several --config, one "
            "--baseline per --config, in the same order",
            metavar="FILE",
            action="append",
            default=[],
        ),
        pytest=Side(
            "a baseline file (--write-baseline; or an earlier results.json): mark each case against it "
            "(new, still failing, still warning, not in baseline, new case, fixed)",
            metavar="FILE",
        ),
        client=Side(
            "a baseline file (written by --write-baseline for this client: the same command and capabilities): "
            "only checks new against it make the exit status 1",
            metavar="FILE",
        ),
    ),
    Option(
        "baseline-missing",
        run=Side(
            "when the --baseline file does not exist: error (default, exit 2), or ok: every failure counts "
            "as new (a gate's first run; record one with --write-baseline)",
            choices=("error", "ok"),
            default="error",
        ),
        client=Side(
            "when the --baseline file does not exist: error (default, exit 2), or ok: every failure counts as new",
            choices=("error", "ok"),
            default="error",
        ),
        pytest=Side(
            "a --dpop-baseline file that does not exist yet is no error: every failure counts as new",
            action="store_true",
        ),
        pytest_name="baseline-missing-ok",
    ),
    Option(
        "baseline-for-another-target",
        run=Side(
            "use a --baseline recorded for another target (another name or endpoints) on purpose; without it "
            "that is exit 2, for a baseline of another target would call its failures known",
            action="store_true",
        ),
        client=Side(
            "use a --baseline recorded for another client (another command or capabilities) on purpose; without "
            "it that is exit 2, for a baseline of another client would call its failures known",
            action="store_true",
        ),
    ),
    Option(
        "write-baseline",
        run=Side(
            "record this run as the next baseline in FILE: a small file of case outcomes, the same bytes for "
            "the same verdicts, to commit and review as a diff (it may be the --baseline file). With several "
            "--config, one per --config, in the same order",
            metavar="FILE",
            action="append",
            default=[],
        ),
        client=Side("record this run as the next baseline in FILE (it may be the --baseline file)", metavar="FILE"),
    ),
    Option(
        "profile",
        run=Side(
            "rfc9449 (always run); fapi2: also the FAPI 2.0 Security Profile's DPoP rules; browser: also CORS "
            "readiness for browser clients (repeatable)",
            action="append",
            default=[],
            choices=_PROFILES,
        ),
        pytest=Side(
            "also run the cases of this profile: fapi2 (FAPI 2.0 DPoP rules), browser (CORS); repeatable",
            action="append",
            default=[],
            choices=_PROFILES,
        ),
        forward=lambda profiles: [f"--dpop-profile={p}" for p in profiles if p != "rfc9449"],
    ),
    Option(
        "fuzz-profile",
        run=Side(
            "examples per fuzz case: quick (40, default), ci (150), thorough (1000)",
            choices=tuple(FUZZ_PROFILES),
            default="quick",
        ),
        pytest=Side(
            "how hard the fuzz cases try: quick (default), ci, thorough", choices=tuple(FUZZ_PROFILES), default="quick"
        ),
        forward="generic",
    ),
    Option(
        "fuzz-examples",
        run=Side("examples per fuzz case (overrides the profile)", type=int, metavar="N"),
        pytest=Side("examples per fuzz case (overrides the profile)", type=int, metavar="N"),
        check=lambda n: (
            f"--fuzz-examples {n}: give 0 or more (0 sends only the one example of every fault each fuzz case starts "
            "with)"
            if n < 0
            else None
        ),
        forward="generic",
    ),
    Option(
        "fuzz-seed",
        run=Side(
            "explore: draw the fuzz cases' examples from seed N (replays an earlier exploration), or from a "
            "random seed (printed); default: derandomised, the same examples every run",
            type=_seed,
            metavar="N|random",
        ),
        # Hypothesis's own option; the CLI draws a "random" seed itself first (cli.py _settled), to print it
        forward=lambda seed: [f"--hypothesis-seed={seed}"] if seed is not None else [],
    ),
    Option(
        "fuzz-db",
        pytest=Side("Hypothesis example database (failures found are retried first)", metavar="DIR"),
    ),
    Option(
        "fuzz-rate",
        run=Side("at most this many fuzz requests per second (for staging servers)", type=float, metavar="RPS"),
        pytest=Side("at most this many fuzz requests per second", type=float, metavar="RPS"),
        check=_positive("fuzz-rate", "requests per second"),
        forward="generic",
    ),
    Option(
        "concurrency",
        run=Side(
            f"requests in flight at once: cases run side by side, with the verdicts of a serial run (default "
            f"{DEFAULT_CONCURRENCY}; 1 is serial); --max-rps and --max-requests hold across them",
            type=int,
            metavar="N",
        ),
        pytest=Side(
            f"requests in flight at once, cases running side by side (default {DEFAULT_CONCURRENCY}; 1: serial)",
            type=int,
            default=DEFAULT_CONCURRENCY,
            metavar="N",
        ),
        check=concurrency_problem,
        forward="generic",
    ),
    Option(
        "workers",
        run=Side(
            "run the cases in N parallel processes (pytest-xdist, from the test extras), each one case at a time; "
            "same verdicts as serial",
            type=int,
            metavar="N",
        ),
        check=lambda n: (
            f"--workers {n}: give 1 or more (1 runs the cases in one process, as without --workers)" if n < 1 else None
        ),
        forward=lambda n: ["-n", str(n)] if n and n > 1 else [],  # pytest-xdist's own option
    ),
    Option(
        "deadline",
        run=Side(
            "an overall time limit: after it nothing more is sent and the remaining cases end in error",
            type=float,
            metavar="SECONDS",
        ),
        pytest=Side(
            "stop sending requests this long after the run started (the rest end in error)",
            type=float,
            metavar="SECONDS",
        ),
        check=_positive("deadline", "seconds"),
        forward="generic",
    ),
    Option(
        "max-requests",
        run=Side("send at most N requests (for staging servers)", type=int, metavar="N"),
        pytest=Side("send at most N requests in the run", type=int, metavar="N"),
        check=lambda n: (
            f"--max-requests {n}: give 1 or more (a run needs requests to judge anything)" if n < 1 else None
        ),
        forward="generic",
    ),
    Option(
        "max-rps",
        run=Side("send at most this many requests per second", type=float, metavar="RPS"),
        pytest=Side("send at most this many requests per second", type=float, metavar="RPS"),
        check=_positive("max-rps", "requests per second"),
        forward="generic",
    ),
    Option(
        "ca-file",
        run=Side(
            "also trust the CA certificates in this PEM file (a staging server's private CA); overrides ca_file "
            "in the target file",
            metavar="FILE",
        ),
        pytest=Side(
            "also trust these CA certificates (PEM) for the target's TLS; overrides ca_file in the target file",
            metavar="FILE",
        ),
        check=_ca_file_problem,
        # the cases' process runs in the cases' folder: the path must not depend on where the CLI started
        forward=lambda path: [f"--dpop-ca-file={Path(path).resolve()}"] if path else [],
    ),
    Option(
        "insecure",
        run=Side(
            "do not verify TLS certificates at all (tests only: credentials are then open to anyone on the path)",
            action="store_true",
        ),
        pytest=Side(
            "do not verify TLS certificates at all (tests only; prefer --dpop-ca-file)",
            action="store_true",
        ),
        forward="generic",
    ),
    Option(
        "reference-algs",
        run=Side(
            "without --config: the proof algorithms the reference server accepts and advertises "
            "(default: ES256,ES384,ES512,RS256,PS256,EdDSA)",
            metavar="ALG,...",
        ),
    ),
    Option(
        "reference-port",
        run=Side("without --config: the reference server's port (default: free)", type=int, default=0),
        check=lambda port: (
            f"--reference-port {port} is not a port number (0 to 65535)" if not 0 <= port <= 65535 else None
        ),
    ),
    # the reference server's settings: the CLI starts the server itself and hands pytest its target file;
    # pytest alone (without a target file) starts it in the cases' process
    Option(
        "reference-nonce",
        run=Side(
            "without --config: which side of the reference server demands nonces (default: both)",
            choices=("none", "as", "rs", "both"),
            default="both",
        ),
        pytest=Side(
            "nonce mode of the embedded reference server (without a target file)",
            choices=("none", "as", "rs", "both"),
            default="both",
        ),
    ),
    Option(
        "reference-defect",
        run=Side(
            "without --config: switch a defect on in the reference server (repeatable; see "
            "`dpop-conformance serve --list-defects`)",
            action="append",
            default=[],
            metavar="NAME",
        ),
        pytest=Side(
            "switch a defect on in the embedded reference server (repeatable)",
            action="append",
            default=[],
            metavar="NAME",
        ),
    ),
    Option(
        "reference-par",
        run=Side(
            "without --config: whether the reference server has a PAR endpoint (default: on)",
            choices=("on", "off"),
            default="on",
        ),
    ),
    Option(
        "reference-leniency",
        run=Side(
            "without --config: switch on a leniency of real libraries and servers in the reference server "
            "(repeatable, or all, which leaves out lossy-store: it acts only under load; see `dpop-conformance serve "
            "--list-defects`): legal behaviour, which must cause no failure",
            action="append",
            default=[],
            metavar="NAME",
        ),
        pytest=Side(
            "switch a leniency on in the embedded reference server (repeatable, or all)",
            action="append",
            default=[],
            metavar="NAME",
        ),
    ),
    # what only the CLI's child process is given: where the reports go, who started it, what the target is
    Option(
        "report",
        pytest=Side(
            "write the suite's HTML report of the run here (report.html; needs --dpop-results)", metavar="FILE"
        ),
    ),
    Option(
        "parent-pid",
        pytest=Side(
            "stop the run (this process group) when the process PID is no longer its parent: the CLI that "
            "started it was killed, and nothing may keep sending to the target",
            type=int,
            metavar="PID",
        ),
    ),
    Option(
        "embedded",
        pytest=Side(
            "the target file is the embedded reference server's, with these settings (nonce, par, algs): its "
            "identity for a baseline is the embedded server, whatever its port",
            metavar="JSON",
        ),
    ),
)

#: what contradicts itself across two options (checked before each option's own values)
_CONFLICTS: tuple[tuple[str, str, Callable[[Any, Any], bool], str], ...] = (
    (
        "strict",
        "fail-on",
        lambda strict, fail_on: bool(strict) and fail_on == "must",
        "--strict and --fail-on must contradict each other: --strict is --fail-on should; keep one",
    ),
    ("insecure", "ca-file", lambda insecure, ca_file: bool(insecure and ca_file), CA_CONTRADICTION),
)


class _Group(Protocol):
    def addoption(self, *names: str, **keywords: Any) -> None: ...


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The `run` command's arguments, in the table's order (the selectors in a group of their own)."""
    selectors_added = False
    for option in OPTIONS:
        if option.selector:
            if not selectors_added:
                add_selectors(parser)
                selectors_added = True
            continue
        if option.run is not None:
            parser.add_argument(*option.run.flags, f"--{option.name}", **option.run.keywords())


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The `client` command's arguments, in the table's order."""
    for option in OPTIONS:
        if option.client is not None:
            parser.add_argument(*option.client.flags, f"--{option.name}", **option.client.keywords())


def add_selectors(parser: argparse.ArgumentParser) -> None:
    """--case, --exclude, --section, --actor, --level: the same for `run` and `list`."""
    group = parser.add_argument_group("selecting cases (kinds narrow each other; one kind adds up)")
    for option in _SELECTORS:
        assert option.run is not None
        group.add_argument(f"--{option.name}", **option.run.keywords())


def add_pytest_options(group: _Group) -> None:
    """The plugin's `--dpop-*` options, in the table's order."""
    for option in OPTIONS:
        if option.pytest is not None:
            group.addoption(option.pytest_option, **option.pytest.keywords())


def option_problem(values: Mapping[str, Any]) -> str | None:
    """The first nonsensical value among `values` (by the CLI's option names), as one line; None: all fine.

    The CLI checks its `run` arguments with it, the plugin its `--dpop-*` options: the same rule and the same
    line for the same value, whichever side it was given to.
    """
    # the contradictions first: a value's own check would otherwise speak of an option that is to go anyway
    for first, second, contradicts, contradiction in _CONFLICTS:
        if contradicts(values.get(first), values.get(second)):
            return contradiction
    for option in OPTIONS:
        value = values.get(option.name)
        problem = option.check(value) if option.check is not None and value is not None else None
        if problem:
            return problem
    return None


def forwarded(values: Mapping[str, Any]) -> list[str]:
    """The pytest arguments that hand the `run` values (by option name) on to the cases' process."""
    return [arg for option in OPTIONS if option.run is not None for arg in option.forwarded(values.get(option.name))]
