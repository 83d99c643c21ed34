"""The pytest plugin: target options, the `dpop` fixture, verdicts, evidence and results.json.

Registered through the `pytest11` entry point (name `conformance.run.plugin`), so `pytest cases
--dpop-config FILE` works wherever the package is installed. Without a target file the plugin starts the
embedded reference server for the session and runs against it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
import tomllib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.client.evidence import RUN_EVIDENCE, Redactor, render_exchanges
from conformance.client.flow import FlowError
from conformance.client.target import ConfigError, Target, load_target, parse_target, plain_http_warning
from conformance.client.transport import origin_of
from conformance.judge.catalog import PROFILES, CaseInfo, case_info
from conformance.judge.preflight import SetupFailure, preflight
from conformance.judge.session import DPoPSession, flow_failed
from conformance.judge.verdicts import NotApplicable, Outcome, exception_text, verdict_of
from conformance.printable import printable
from conformance.report.baseline import (
    NEW_CASE,
    STILL_WARNING,
    Baseline,
    BaselineError,
    load_baseline,
    target_identity,
)
from conformance.report.hints import hint_for
from conformance.report.junit import skip_reason
from conformance.report.pytest_html import evidence_block, summary_html, table_header, table_row
from conformance.report.results import CaseRecord, ResultsWriter
from conformance.report.verdict import gates
from conformance.run.concurrency import DEFAULT_CONCURRENCY, concurrency_problem
from conformance.run.scheduler import Ahead, Scheduler, as_skip
from conformance.run.selection import Selection, SelectionError

SESSION_KEY = pytest.StashKey[DPoPSession]()
PREFLIGHT_KEY = pytest.StashKey["SetupFailure"]()
REDACTOR_KEY = pytest.StashKey[Redactor]()
TARGET_KEY = pytest.StashKey[Target]()
NOTE_KEY = pytest.StashKey[list[str]]()
SCHEDULER_KEY = pytest.StashKey[Scheduler]()
AHEAD_KEY = pytest.StashKey[Ahead]()  # on an item: what it did when it ran beside others (a pass)

_PROP = "dpop_"  # prefix of the user_properties this plugin adds (they reach junit.xml too)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dpop", "DPoP conformance (dpop-conformance)")
    group.addoption(
        "--dpop-config",
        metavar="FILE",
        help="target file (TOML); default: env DPOP_CONFIG, ini dpop_config, else the embedded reference server",
    )
    group.addoption("--dpop-results", metavar="FILE", help="write results.json here")
    for option, what in (
        ("case", "run this case (an id, or a glob such as as-htu-*); repeatable"),
        ("exclude", "leave this case out (an id or a glob); repeatable"),
        ("section", "run the cases of this RFC 9449 section (4.3 takes 4.3.x too); repeatable"),
        ("actor", "run the cases of this actor: AS or RS"),
        ("level", "run the cases of this level: MUST, SHOULD or MAY; repeatable"),
    ):
        group.addoption(f"--dpop-{option}", action="append", default=[], metavar="VALUE", help=what)
    group.addoption(
        "--dpop-fail-on",
        choices=("must", "should"),
        default=None,
        help="what fails the run: a MUST failure (default), or a SHOULD violation too (results.json gate.fail_on)",
    )
    group.addoption("--dpop-strict", action="store_true", help="the same as --dpop-fail-on=should")
    group.addoption(
        "--dpop-profile",
        action="append",
        default=[],
        choices=PROFILES,
        help="also run the cases of this profile: fapi2 (FAPI 2.0 DPoP rules), browser (CORS); repeatable",
    )
    group.addoption(
        "--dpop-reference-nonce",
        default="both",
        choices=("none", "as", "rs", "both"),
        help="nonce mode of the embedded reference server (without a target file)",
    )
    group.addoption(
        "--dpop-reference-defect",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a defect on in the embedded reference server (repeatable)",
    )
    group.addoption(
        "--dpop-reference-leniency",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a leniency on in the embedded reference server (repeatable, or all)",
    )
    group.addoption(
        "--dpop-fuzz-profile",
        default="quick",
        choices=tuple(FUZZ_PROFILES),
        help="how hard the fuzz cases try: quick (default), ci, thorough",
    )
    group.addoption(
        "--dpop-fuzz-examples", type=int, metavar="N", help="examples per fuzz case (overrides the profile)"
    )
    group.addoption(
        "--dpop-fuzz-db", metavar="DIR", help="Hypothesis example database (failures found are retried first)"
    )
    group.addoption("--dpop-fuzz-rate", type=float, metavar="RPS", help="at most this many fuzz requests per second")
    group.addoption(
        "--dpop-deadline",
        type=float,
        metavar="SECONDS",
        help="stop sending requests this long after the run started (the rest end in error)",
    )
    group.addoption(
        "--dpop-concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at once, cases running side by side (default {DEFAULT_CONCURRENCY}; 1: serial)",
    )
    group.addoption("--dpop-max-requests", type=int, metavar="N", help="send at most N requests in the run")
    group.addoption("--dpop-max-rps", type=float, metavar="RPS", help="send at most this many requests per second")
    group.addoption(
        "--dpop-ca-file",
        metavar="FILE",
        help="also trust these CA certificates (PEM) for the target's TLS; overrides ca_file in the target file",
    )
    group.addoption(
        "--dpop-insecure",
        action="store_true",
        help="do not verify TLS certificates at all (tests only; prefer --dpop-ca-file)",
    )
    group.addoption(
        "--dpop-report",
        metavar="FILE",
        help="write the suite's HTML report of the run here (report.html; needs --dpop-results)",
    )
    group.addoption(
        "--dpop-baseline",
        metavar="FILE",
        help="a baseline file (--write-baseline; or an earlier results.json): mark each case against it "
        "(new, still failing, still warning, not in baseline, new case, fixed)",
    )
    group.addoption(
        "--dpop-baseline-missing-ok",
        action="store_true",
        help="a --dpop-baseline file that does not exist yet is no error: every failure counts as new",
    )
    group.addoption(
        "--dpop-parent-pid",
        type=int,
        metavar="PID",
        help="stop the run (this process group) when the process PID is no longer its parent: the CLI that "
        "started it was killed, and nothing may keep sending to the target",
    )
    group.addoption(
        "--dpop-embedded",
        metavar="JSON",
        help="the target file is the embedded reference server's, with these settings (nonce, par, algs): its "
        "identity for a baseline is the embedded server, whatever its port",
    )
    parser.addini("dpop_config", "target file used when --dpop-config is not given")


#: examples per fuzz case; each example is one request to the target
FUZZ_PROFILES = {"quick": 40, "ci": 150, "thorough": 1000}


def fuzz_examples(config: pytest.Config) -> int:
    """Examples Hypothesis draws per fuzz case (besides the one example of every fault each case sends first)."""
    given: int | None = config.getoption("dpop_fuzz_examples")
    return given if given is not None else FUZZ_PROFILES[config.getoption("dpop_fuzz_profile")]


def _configure_fuzzing(config: pytest.Config) -> None:
    """Load the Hypothesis settings the fuzz cases run with (examples, seed or derandomised, database).

    Without a seed (`--hypothesis-seed`, which `run --fuzz-seed` sets) the run is derandomised: the same
    examples every time, so that the same server gets the same verdicts and a baseline cannot flip. The
    example database (failures found are tried first next time) then stays unused too: it serves
    explorations with a seed.
    """
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    db = config.getoption("dpop_fuzz_db")
    explore = config.getoption("hypothesis_seed", None) is not None
    settings.register_profile(
        "dpop-fuzz",
        max_examples=max(fuzz_examples(config), 1),
        deadline=None,  # every example is a round trip to a server: its time is not the suite's
        derandomize=not explore,
        database=DirectoryBasedExampleDatabase(db) if db and explore else None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
        report_multiple_bugs=True,
        print_blob=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dpop_case(info): a DPoP conformance case (set by @conformance.judge.catalog.case)"
    )
    config.addinivalue_line(
        "markers", "fuzz: a Hypothesis fuzz case (select with -m fuzz, leave out with -m 'not fuzz')"
    )
    config.addinivalue_line(
        "markers", "waits: a case that waits seconds between its requests (leave out with -m 'not waits')"
    )
    _configure_fuzzing(config)
    parent = config.getoption("dpop_parent_pid")
    if parent and not hasattr(config, "workerinput"):
        threading.Thread(target=_watch_parent, args=(int(parent),), name="dpop-parent-watch", daemon=True).start()
    concurrency = int(config.getoption("dpop_concurrency"))
    problem = concurrency_problem(concurrency)
    if problem:
        raise pytest.UsageError(problem)
    # an xdist worker runs the items the controller sends it, not the session's list: it runs them in turn
    config.stash[SCHEDULER_KEY] = Scheduler(1 if hasattr(config, "workerinput") else concurrency)
    baseline = config.getoption("dpop_baseline")
    if baseline:
        try:
            loaded = load_baseline(baseline, missing_ok=bool(config.getoption("dpop_baseline_missing_ok")))
        except BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[BASELINE_KEY] = loaded
    config.stash[REDACTOR_KEY] = Redactor()
    path = _config_path(config)
    if path:
        try:
            target = load_target(path)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[TARGET_KEY] = _with_tls_options(config, target)
    results = config.getoption("dpop_results")
    if results and not hasattr(config, "workerinput"):  # the xdist controller (or a plain run) writes it
        configured = config.stash.get(TARGET_KEY, None)
        writer = ResultsWriter(_target_summary(configured, config.getoption("dpop_embedded")))
        writer.warnings = configured.transport_warnings() if configured else []
        writer.baseline = config.stash.get(BASELINE_KEY, None)
        writer.fail_on = fail_on_option(config)
        writer.selection = _selection_record(config)
        profile = config.getoption("dpop_fuzz_profile")
        seed = config.getoption("hypothesis_seed", None)
        seed = int(seed) if isinstance(seed, str) and seed.isdigit() else seed  # Hypothesis keeps it as text
        writer.concurrency["limit"] = concurrency
        writer.fuzz = {
            "seed": seed,
            "derandomized": seed is None,
            "profile": profile,
            "examples_per_case": fuzz_examples(config),
        }
        report = config.getoption("dpop_report")
        config.pluginmanager.register(
            _ResultsCollector(config, writer, str(results), str(report) if report else None), "dpop-results"
        )


def _watch_parent(parent: int) -> None:
    """End this process group when the CLI that started it is gone (killed outright: SIGKILL cannot be
    forwarded): a run without its CLI would keep sending to the target, and write reports no one publishes."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if os.getpgrp() == os.getpid():  # the CLI's child leads a group of its own: its xdist workers are in it
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGTERM)
    os._exit(128 + signal.SIGTERM)


def selection_of(config: pytest.Config) -> Selection:
    """The case selectors given (--dpop-case and the rest)."""
    return Selection.of(
        config.getoption("dpop_case"),
        config.getoption("dpop_exclude"),
        config.getoption("dpop_section"),
        config.getoption("dpop_actor"),
        config.getoption("dpop_level"),
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the cases of profiles that were not asked for (rfc9449 cases always run), and the cases the
    selectors (--dpop-case, --dpop-section, ...) leave out."""
    wanted = {"rfc9449", *config.getoption("dpop_profile")}
    selection = selection_of(config)
    if selection:
        try:
            selection.check(info for item in items if (info := case_info(item)) is not None)
        except SelectionError as exc:
            raise pytest.UsageError(str(exc)) from None
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        info = case_info(item)
        left_out = info is not None and (info.profile not in wanted or not selection.selects(info))
        (drop if left_out else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _with_tls_options(config: pytest.Config, target: Target) -> Target:
    """The target with the command line's TLS options (--dpop-ca-file, --dpop-insecure) applied."""
    ca_file = config.getoption("dpop_ca_file")
    if ca_file and not Path(ca_file).is_file():
        raise pytest.UsageError(f"--ca-file {ca_file}: no such file (give a PEM file of CA certificates)")
    if ca_file:
        target = dataclasses.replace(target, ca_file=ca_file)
    if config.getoption("dpop_insecure"):
        target = dataclasses.replace(target, insecure=True)
    return target


def _config_path(config: pytest.Config) -> str | None:
    value = config.getoption("dpop_config") or os.environ.get("DPOP_CONFIG") or config.getini("dpop_config")
    return str(value) if value else None


def _target_summary(target: Target | None, embedded: str | None = None) -> dict[str, Any]:
    """results.json `target`: where the run went, and its identity (the name and the endpoints its file names,
    or the embedded reference server whatever its port), which a baseline is checked against."""
    if target is None:
        return {
            "name": "reference",
            "token_endpoint": None,
            "resource_url": None,
            "embedded": True,
            "identity": {"name": "reference", "embedded": True},
        }
    server = target.authorization_server
    summary: dict[str, Any] = {
        "name": target.name,
        "token_endpoint": server.token_endpoint if server else None,
        "issuer": server.issuer if server else None,
        "resource_url": target.resource_server.url if target.resource_server else None,
        "source": target.source,
        "identity": target_identity(target, embedded=bool(embedded)),
    }
    if embedded:
        summary["embedded"] = True
        summary["reference"] = json.loads(embedded)
    return summary


def _selection_record(config: pytest.Config) -> dict[str, Any]:
    """What chose the cases, as a baseline records it: the selectors, pytest's -m and -k, and the profiles."""
    selection = selection_of(config)
    return {
        "cases": list(selection.cases),
        "exclude": list(selection.exclude),
        "sections": list(selection.sections),
        "actors": list(selection.actors),
        "levels": list(selection.levels),
        "markers": str(config.getoption("markexpr", "") or ""),
        "keywords": str(config.getoption("keyword", "") or ""),
        "profiles": sorted({"rfc9449", *config.getoption("dpop_profile")}),
    }


def fail_on_option(config: pytest.Config) -> str:
    """must or should: what the run's gate counts (--dpop-fail-on, or --dpop-strict for should)."""
    chosen = config.getoption("dpop_fail_on")
    return "should" if config.getoption("dpop_strict") or chosen == "should" else "must"


def pytest_report_header(config: pytest.Config) -> list[str]:
    path = _config_path(config)
    if not path:
        return ["dpop: no target file; running against the embedded reference server"]
    target = config.stash.get(TARGET_KEY, None)
    warnings = target.transport_warnings() if target else []
    return [f"dpop: target file {path}", *(f"dpop: WARNING: {w}" for w in warnings)]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dpop(request: pytest.FixtureRequest) -> Iterator[DPoPSession]:
    """The run's DPoPSession (target, client, key, endpoints, bound token).

    A plugin may parametrize it (indirectly, at session scope) with reference-server settings, or with a
    callable that returns a context manager yielding a Target: each case then runs once per parameter, in
    one pytest session. The project's kill matrix runs dozens of defect switches that way, without a
    process for each.
    """
    config = request.config
    param = getattr(request, "param", None)
    failed = config.stash.get(PREFLIGHT_KEY, None)
    if failed is not None and param is None:
        raise failed.could_not_judge()  # pytest sets a failed session fixture up again for each case
    with contextlib.ExitStack() as stack:
        target = config.stash.get(TARGET_KEY, None) if param is None else None
        if callable(param):
            target = stack.enter_context(param())
        if target is None:
            from conformance.reference import RunningServer, ServerSettings  # only needed without a target file

            settings = param or ServerSettings(
                nonce=config.getoption("dpop_reference_nonce"),
                defects=frozenset(config.getoption("dpop_reference_defect")),
                leniencies=frozenset(config.getoption("dpop_reference_leniency")),
            )
            assert isinstance(settings, ServerSettings), "parametrize dpop with ServerSettings or a target factory"
            server = stack.enter_context(RunningServer(settings))
            target = parse_target(tomllib.loads(server.target_toml()), source="embedded reference server")
        if param is not None:  # each parameter's secrets are its own (a redactor's cost grows with them)
            config.stash[REDACTOR_KEY] = Redactor()
        session = DPoPSession(target, redactor=config.stash[REDACTOR_KEY])
        stack.callback(session.close)
        # first (callbacks run last to first): no case may still be running when the connections close
        stack.callback(config.stash[SCHEDULER_KEY].finish, stop=True)
        deadline = config.getoption("dpop_deadline")
        session.client.transport.deadline = time.monotonic() + deadline if deadline else None
        session.client.transport.max_requests = config.getoption("dpop_max_requests")
        session.client.transport.max_rps = config.getoption("dpop_max_rps")
        config.stash[SESSION_KEY] = session
        try:
            preflight(session)
        except SetupFailure as failure:
            config.stash[PREFLIGHT_KEY] = failure
            raise failure.could_not_judge() from None
        yield session


@pytest.fixture(autouse=True)
def _dpop_case_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Give each case its own exchange log (attached to the report as evidence)."""
    session = request.config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.client.log = []
    request.node.stash[NOTE_KEY] = []
    yield


MEASURE_KEY = pytest.StashKey[dict[str, Any]]()


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Any:
    """`measure(name, value)` records a value the RFC leaves open (shown in results.json and compare)."""
    values = request.node.stash.setdefault(MEASURE_KEY, {})
    return values.__setitem__


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Any:
    """`note("...")` records what a passing case observed; it becomes the case's message."""
    notes = request.node.stash[NOTE_KEY]
    return notes.append


@pytest.hookimpl(wrapper=True, specname="pytest_pyfunc_call")
def pytest_pyfunc_call_not_applicable(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """A case that raised the judge's NotApplicable is skipped, with its reason (the judge knows no pytest)."""
    try:
        return (yield)
    except NotApplicable as exc:
        raise as_skip(exc) from None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case that ran ahead, beside others (conformance/run/scheduler.py), and passed: its recorded pass.

    The first case of a stretch runs the stretch; a case whose concurrent outcome was not a pass runs
    now, alone, as pytest would run it.
    """
    scheduler = pyfuncitem.config.stash.get(SCHEDULER_KEY, None)
    session = pyfuncitem.funcargs.get("dpop")
    if scheduler is None or not isinstance(session, DPoPSession):
        return None

    ahead = scheduler.result_for(pyfuncitem, session)
    if ahead is None:
        return None
    pyfuncitem.stash[NOTE_KEY].extend(ahead.notes)
    pyfuncitem.stash.setdefault(MEASURE_KEY, {}).update(ahead.measurements)
    session.client.transport.absorb(ahead.lane)
    pyfuncitem.stash[AHEAD_KEY] = ahead
    if ahead.exception is not None:
        raise ahead.exception  # a skip (Ahead.taken)
    return True


def _schedule_mark(item: pytest.Item, info: CaseInfo) -> str:
    """How the case ran: "ahead" (beside others, passed), "again:<outcome>" (run again alone after that
    outcome beside others), "confirm:passed" (run again alone to confirm a pass that rested on a refusal
    naming no DPoP error), or "" (alone)."""
    if AHEAD_KEY in item.stash:
        return "ahead"
    scheduler = item.config.stash.get(SCHEDULER_KEY, None)
    first = scheduler.first_try(item.nodeid) if scheduler else None
    if first is None:
        return ""
    if first.exception is None:  # a pass resting on a refusal that names no DPoP error: confirmed alone
        return f"confirm:{Outcome.PASSED.value}"
    if isinstance(first.exception, pytest.skip.Exception):
        return f"again:{Outcome.SKIPPED.value}"
    return f"again:{verdict_of(first.exception, info.level)[0].value}"


# --- verdicts -------------------------------------------------------------------------------


def _judge(
    report: pytest.TestReport, call: pytest.CallInfo[None], info: CaseInfo, notes: list[str]
) -> tuple[Outcome, str]:
    excinfo = call.excinfo
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Outcome.SKIPPED, reason.removeprefix("Skipped: ")
    if excinfo is None:
        return Outcome.PASSED, "; ".join(notes)
    exc = excinfo.value
    if report.when != "call":
        return Outcome.ERROR, f"could not set the case up: {exception_text(exc)}"
    return verdict_of(exc, info.level)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """A case's failing phase gets its report without pytest's traceback, which the verdict replaces anyway.

    pytest formats the traceback of every failure (0.1 s each, even with --tb=line); a target that fails
    a hundred cases, or a kill-matrix batch, paid seconds for text nobody reads.
    """
    excinfo = call.excinfo
    if case_info(item) is None or excinfo is None or not isinstance(excinfo.value, Exception):
        return None  # pytest's own report (KeyboardInterrupt and pytest.exit are BaseExceptions)
    if isinstance(excinfo.value, pytest.skip.Exception):
        return None
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    return pytest.TestReport(
        item.nodeid,
        item.location,
        {name: 1 for name in item.keywords},
        "failed",
        exception_text(excinfo.value),
        "setup" if call.when == "collect" else call.when,
        sections,
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_verdict(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Every phase report of a case: its verdict (outcome, message, evidence) in place of pytest's."""
    report: pytest.TestReport = yield
    info = case_info(item)
    if info is None:
        return report
    if report.when == "teardown" and report.passed:
        return report
    if report.when == "setup" and report.passed:
        return report
    redactor = item.config.stash[REDACTOR_KEY]
    outcome, message = _judge(report, call, info, item.stash.get(NOTE_KEY, []))
    hint = _likely_cause(call.excinfo.value if call.excinfo else None, info.id, outcome)
    if hint:
        message = f"{message}\nLikely cause: {hint}"
    # redacted, then with every control character shown as an escape: the message reaches the terminal,
    # junit.xml, the HTML report and results.json, and the target's text in it must steer none of them
    message = printable(redactor.redact(message), lines=True)
    # to pytest and junit.xml, a case is a failure exactly when it gates (report/verdict.py), or an error
    fail_on = fail_on_option(item.config)
    mark = _baseline_mark(item.config, info.id, outcome)
    if outcome is Outcome.ERROR or gates(outcome.value, mark, fail_on):
        report.outcome = "failed"
        report.longrepr = message
        if outcome is Outcome.ERROR and report.when == "call":
            # junit.xml (and pytest's summary) count a failure outside the call phase as an error: that
            # keeps their counts equal to results.json's (could-not-judge is not a conformance failure)
            report.when = "setup"
    elif outcome is Outcome.FAILED or (outcome is Outcome.WARNING and mark in (STILL_WARNING, NEW_CASE)):
        # a failure the baseline knows (or a case its suite did not have) does not gate: no red test to a
        # JUnit consumer while the gate is green; results.json and the report keep it a failure (report/junit.py)
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            skip_reason(item.config.stash[BASELINE_KEY], mark, outcome.value),
        )
    elif outcome in (Outcome.WARNING, Outcome.INFO):
        report.outcome = "passed"
        report.longrepr = None
    session = item.config.stash.get(SESSION_KEY, None)
    exchanges = list(session.client.log) if session else []
    # requests that really went out during this case, per origin (the log keeps only a fuzz case's last example)
    sent_by_case, waited = session.client.transport.tally() if session else ({}, 0.0)
    throttled = session.client.transport.throttle_tally() if session else (0, 0.0)
    exc = call.excinfo.value if call.excinfo else None
    for extra in getattr(exc, "exchanges", []) or []:
        if extra not in exchanges:
            exchanges.insert(0, extra)
    evidence = printable(render_exchanges(exchanges, redactor), lines=True) if exchanges else ""
    cause, fix, shared = _cause(exc, outcome)
    # On the item too: junit.xml writes the properties of the teardown report, which copies the item's.
    item.user_properties = [p for p in item.user_properties if not str(p[0]).startswith(_PROP)] + [
        (f"{_PROP}case", info.id),
        (f"{_PROP}title", info.title),
        (f"{_PROP}section", info.section),
        (f"{_PROP}level", info.level.value),
        (f"{_PROP}actor", info.actor),
        (f"{_PROP}requirement", info.requirement),
        (f"{_PROP}outcome", outcome.value),
        (f"{_PROP}message", message),
        (f"{_PROP}baseline", mark),
        (f"{_PROP}fix", printable(redactor.redact(fix))),
        (f"{_PROP}measurements", json.dumps(item.stash.get(MEASURE_KEY, {}))),
        (f"{_PROP}cause", printable(redactor.redact(cause))),
        (f"{_PROP}shared_cause", "true" if shared else ""),
        (f"{_PROP}preflight", json.dumps(_preflight_failure(item.config))),
        (f"{_PROP}requests", json.dumps(sent_by_case)),
        (f"{_PROP}waited", f"{waited:.6f}"),
        (f"{_PROP}throttled", json.dumps([throttled[0], round(throttled[1], 3)])),
        (f"{_PROP}schedule", _schedule_mark(item, info)),
    ]
    report.user_properties = list(item.user_properties)
    ahead = item.stash.get(AHEAD_KEY, None)
    if ahead is not None and report.when == "call":
        report.duration += ahead.duration_s  # the case's time when it ran, beside others
    # what report.html shows of the case beyond results.json: collected on the controller (an attribute
    # travels with the report between xdist processes; user properties would reach junit.xml too)
    report.dpop_evidence = evidence  # type: ignore[attr-defined]
    report.dpop_doc = info.doc  # type: ignore[attr-defined]
    _add_html_evidence(report, info, outcome, message, evidence)
    return report


#: the outcomes whose case records its cause and fix (results.json cases[].cause, cases[].fix)
_EXPLAINED = (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)
#: the start of the cause of a case that stopped on something other than a verdict (a bug, most likely)
UNEXPECTED = "the case stopped on an unexpected error"
_UNEXPECTED_FIX = (
    "run the case alone (dpop-conformance run -- -k <its id>) to see the whole error; where the target is not at "
    "fault, report it to dpop-conformance"
)


def _cause(exc: BaseException | None, outcome: Outcome) -> tuple[str, str, bool]:
    """A failed, warning or error case's own cause and fix, and whether the cause is shared by other cases.

    The verdicts carry them (Violation, CouldNotJudge: written where the check is); a flow step a case did
    not catch says what its answer was (session.flow_failed). Anything else is no verdict but a case that
    stopped (an assertion of its own, a bug), and says so. Passed, info and skipped cases leave them empty.
    """
    if outcome not in _EXPLAINED:
        return "", "", False
    cause, fix = getattr(exc, "cause", None), getattr(exc, "fix", None)
    if isinstance(cause, str) and cause and isinstance(fix, str) and fix:
        return cause, fix, bool(getattr(exc, "shared", False))
    if isinstance(exc, FlowError):
        failed = flow_failed("a step of the DPoP flow failed", exc, fix=_UNEXPECTED_FIX)
        return failed.cause, failed.fix, False
    what = exception_text(exc).splitlines()[0][:200] if exc is not None else f"no exception, outcome {outcome}"
    return f"{UNEXPECTED}: {what}", _UNEXPECTED_FIX, False


def _likely_cause(exc: BaseException | None, case_id: str, outcome: Outcome) -> str:
    """The "Likely cause" line of a failed or warning case's message, or "".

    The violation's own hint where it knows better (a refusal that came as a 500 is no missing check); none
    where its cause is shared by other cases (a wrong status code: the likely cause of the case's id would
    blame a check the server made); else the hint its id points to (report/hints.py), with its fix.
    """
    if outcome not in (Outcome.FAILED, Outcome.WARNING):
        return ""
    own = getattr(exc, "hint", None)
    if isinstance(own, str) and own:
        return own
    if getattr(exc, "shared", False):
        return ""
    hint = hint_for(case_id)
    return str(hint) if hint else ""


def _preflight_failure(config: pytest.Config) -> dict[str, Any]:
    failure = config.stash.get(PREFLIGHT_KEY, None)
    return failure.as_dict() if failure is not None else {}


BASELINE_KEY = pytest.StashKey[Baseline]()


def _baseline_mark(config: pytest.Config, case_id: str, outcome: Outcome) -> str:
    """The case's mark against the --dpop-baseline (report/baseline.py), or "" without one."""
    baseline = config.stash.get(BASELINE_KEY, None)
    return "" if baseline is None else baseline.mark(case_id, outcome.value)


def _add_html_evidence(
    report: pytest.TestReport, info: CaseInfo, outcome: Outcome, message: str, evidence: str
) -> None:
    try:
        from pytest_html import extras as html_extras
    except ImportError:  # pragma: no cover - pytest-html is a dependency, but the plugin works without it
        return
    extras = list(getattr(report, "extras", []))
    extras.append(html_extras.html(evidence_block(info, outcome, message, evidence)))
    report.extras = extras  # type: ignore[attr-defined]  # pytest-html reads this attribute


def _props(report: pytest.TestReport | pytest.CollectReport) -> dict[str, str]:
    properties = getattr(report, "user_properties", ())  # collection reports have none
    return {k[len(_PROP) :]: v for k, v in properties if isinstance(k, str) and k.startswith(_PROP)}


def pytest_report_teststatus(
    report: pytest.TestReport | pytest.CollectReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    if report.when != "call":  # setup and teardown reports carry the same properties: count a case once
        return None
    outcome = _props(report).get("outcome")
    if outcome == "failed" and report.skipped:
        return "known failure", "k", "KNOWN FAILURE"
    if outcome == "warning" and report.skipped:
        return "known warning", "w", "KNOWN WARNING"
    if outcome == "warning" and report.passed:
        return "warning", "W", "WARNING"
    if outcome == "info" and report.passed:
        return "info", "i", "INFO"
    if outcome == "error":
        return "error", "E", "ERROR"
    return None


class _ResultsCollector:
    """Turns annotated reports into results.json records (on the xdist controller, or in a plain run)."""

    def __init__(self, config: pytest.Config, writer: ResultsWriter, path: str, report: str | None = None) -> None:
        self.config = config
        self.writer = writer
        self.path = path
        self.report = report
        self.details: dict[str, dict[str, str]] = {}  # case id -> doc and evidence, for report.html
        self.evidence_kept = 0  # characters, against RUN_EVIDENCE

    def _check_new_server(self, origin: str) -> None:
        """Warn of plain HTTP to a server the target file does not name (found by discovery, say)."""
        target = self.config.stash.get(TARGET_KEY, None)
        if target is None or origin in {origin_of(url) for _, url in target.urls()}:
            return  # the embedded server is loopback; a named URL was judged when the file was loaded
        warning = plain_http_warning("a discovered endpoint at", origin)
        if warning:
            self.writer.warnings.append(warning)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = _props(report)
        if "case" not in props or (report.when == "teardown" and report.passed):
            return
        for host, count in json.loads(props.get("requests") or "{}").items():
            if host not in self.writer.requests:
                self._check_new_server(host)
            self.writer.requests[host] = self.writer.requests.get(host, 0) + count
        self.writer.waiting_s += float(props.get("waited") or 0.0)
        count, throttle_wait = json.loads(props.get("throttled") or "[0, 0]")
        self.writer.throttled["count"] += int(count)
        self.writer.throttled["waited_s"] = round(self.writer.throttled["waited_s"] + float(throttle_wait), 3)
        self._count_schedule(props, report)
        previous = self.writer.records.get(report.nodeid)
        duration = report.duration + (previous.duration_s if previous else 0.0)
        self.writer.record(
            CaseRecord(
                id=props["case"],
                title=props["title"],
                section=props["section"],
                level=props["level"],
                actor=props["actor"],
                outcome=props["outcome"],
                message=props["message"],
                duration_s=round(duration, 4),
                requirement=props["requirement"],
                rfc_url=f"https://www.rfc-editor.org/rfc/rfc9449#section-{props['section']}",
                nodeid=report.nodeid,
                baseline=props.get("baseline", ""),
                measurements=json.loads(props.get("measurements") or "{}"),
                cause=props.get("cause", ""),
                fix=props.get("fix", ""),
                shared_cause=props.get("shared_cause") == "true",
            )
        )
        preflight = json.loads(props.get("preflight") or "{}")
        if preflight:
            self.writer.preflight = preflight
        if self.report:
            self._keep_details(props["case"], report)

    def _count_schedule(self, props: dict[str, str], report: pytest.TestReport) -> None:
        """results.json `concurrency`: the cases that ran beside others, and those run again alone."""
        mark = props.get("schedule", "")
        if not mark or report.when == "teardown":
            return
        concurrency = self.writer.concurrency
        concurrency["ahead"] += 1
        if mark.startswith("confirm:"):
            concurrency["confirmed_alone"] += 1
        if mark.startswith(("again:", "confirm:")):
            concurrency["again_alone"] += 1
            first = mark.partition(":")[2]
            if first != props["outcome"]:
                concurrency["changed_alone"].append(
                    {"id": props["case"], "concurrently": first, "alone": props["outcome"]}
                )

    def _keep_details(self, case_id: str, report: pytest.TestReport) -> None:
        evidence = str(getattr(report, "dpop_evidence", "") or "")
        previous = self.details.get(case_id, {}).get("evidence", "")
        if not evidence and previous:
            evidence = previous  # a passing teardown after a failed call keeps the call's evidence
        self.evidence_kept += len(evidence) - len(previous)
        if self.evidence_kept > RUN_EVIDENCE:
            self.evidence_kept -= len(evidence)
            evidence = f"(not kept: the run's {RUN_EVIDENCE // 2**20} MiB of evidence were used up; see results.json)"
        self.details[case_id] = {"doc": str(getattr(report, "dpop_doc", "") or ""), "evidence": evidence}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        live = self.config.stash.get(SESSION_KEY, None)  # absent on the xdist controller
        if live is not None:
            if self.writer.target.get("embedded"):  # the embedded server's URLs are known once it runs
                embedded = self.config.getoption("dpop_embedded") or "{}"
                self.writer.target.update(_target_summary(live.target, embedded))
            # endpoints found by discovery are only known once a case has asked for them
            self.writer.target.update({k: v for k, v in live.endpoint_summary().items() if v})
        self.writer.write(self.path)
        if self.report:
            from conformance.report.html import render_report

            page = Path(self.report)
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(render_report(self.writer.as_dict(), self.details), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_report_title(report: Any) -> None:
    report.title = "DPoP conformance (RFC 9449)"


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    """Summary first: target, suite version, date, counts per outcome, the verdict, the failures, a legend."""
    collector = session.config.pluginmanager.get_plugin("dpop-results")
    if not isinstance(collector, _ResultsCollector):
        return
    prefix.extend(summary_html(collector.writer.as_dict()))


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_table_header(cells: list[str]) -> None:
    table_header(cells)


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    table_row(_props(report), cells)


def locate_cases() -> Path:
    """The folder of conformance cases: shipped inside the package, or `cases/` of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the package: conformance/run/ is one level down
    for candidate in (here / "cases", here.parent / "cases"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the conformance cases are missing from this installation; reinstall dpop-conformance")
