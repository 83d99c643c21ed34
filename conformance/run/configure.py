"""A run's set-up inside pytest: the options checked, the target loaded, the baseline read, the scheduler and the
results collector made; and what the header says of the target.

Registered through the `pytest11` entry point `conformance.run.plugin` (run/plugin.py gathers the hooks), so
`pytest cases --dpop-config FILE` works wherever the package is installed. Without a target file the plugin
starts the embedded reference server for the session and runs against it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any

import pytest

from conformance.client.evidence import Redactor
from conformance.client.target import ConfigError, Target, load_target
from conformance.report.baseline import BaselineError, load_baseline, target_identity
from conformance.report.results import ResultsWriter
from conformance.run.collection import selection_record
from conformance.run.fuzz_settings import configure_fuzzing, fuzz_examples
from conformance.run.options import OPTIONS, add_pytest_options, option_problem
from conformance.run.scheduler import Scheduler
from conformance.run.stash import BASELINE_KEY, REDACTOR_KEY, SCHEDULER_KEY, TARGET_KEY

__all__ = [
    "fail_on_option",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "target_summary",
]

_MARKERS = (
    "dpop_case(info): a DPoP conformance case (set by @conformance.judge.catalog.case)",
    "fuzz: a Hypothesis fuzz case (select with -m fuzz, leave out with -m 'not fuzz')",
    "waits: a case that waits seconds between its requests (leave out with -m 'not waits')",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The `--dpop-*` options (run/options.py, the table the CLI's arguments come from too)."""
    add_pytest_options(parser.getgroup("dpop", "DPoP conformance (dpop-conformance)"))
    parser.addini("dpop_config", "target file used when --dpop-config is not given")


def pytest_configure(config: pytest.Config) -> None:
    """Check the options, then make what the run shares: scheduler, baseline, redactor, target, results."""
    for marker in _MARKERS:
        config.addinivalue_line("markers", marker)
    configure_fuzzing(config)
    worker = hasattr(config, "workerinput")  # an xdist worker: the controller watches, counts and writes
    parent = config.getoption("dpop_parent_pid")
    if parent and not worker:
        threading.Thread(target=_watch_parent, args=(int(parent),), name="dpop-parent-watch", daemon=True).start()
    problem = option_problem(_option_values(config))
    if problem:
        raise pytest.UsageError(problem)
    # an xdist worker runs the items the controller sends it, not the session's list: it runs them in turn
    config.stash[SCHEDULER_KEY] = Scheduler(1 if worker else int(config.getoption("dpop_concurrency")))
    _load_baseline(config)
    config.stash[REDACTOR_KEY] = Redactor()
    _load_target(config)
    results = config.getoption("dpop_results")
    if results and not worker:  # the xdist controller (or a plain run) writes it
        from conformance.run.collector import ResultsCollector  # it renders report.html: only when it is written

        report = config.getoption("dpop_report")
        collector = ResultsCollector(config, _results_writer(config), str(results), str(report) if report else None)
        config.pluginmanager.register(collector, "dpop-results")


def _option_values(config: pytest.Config) -> dict[str, Any]:
    """The `--dpop-*` values, by the option names the table checks them by."""
    return {option.name: config.getoption(option.pytest_dest) for option in OPTIONS if option.pytest is not None}


def _watch_parent(parent: int) -> None:
    """End this process group when the CLI that started it is gone (killed outright: SIGKILL cannot be
    forwarded): a run without its CLI would keep sending to the target, and write reports no one publishes."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if os.getpgrp() == os.getpid():  # the CLI's child leads a group of its own: its xdist workers are in it
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGTERM)
    os._exit(128 + signal.SIGTERM)


def _load_baseline(config: pytest.Config) -> None:
    baseline = config.getoption("dpop_baseline")
    if not baseline:
        return
    try:
        loaded = load_baseline(baseline, missing_ok=bool(config.getoption("dpop_baseline_missing_ok")))
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[BASELINE_KEY] = loaded


def _load_target(config: pytest.Config) -> None:
    """The target file's target, with the command line's TLS options (--dpop-ca-file, --dpop-insecure) applied."""
    path = _config_path(config)
    if not path:
        return
    try:
        target = load_target(path)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    ca_file = config.getoption("dpop_ca_file")
    if ca_file:
        target = dataclasses.replace(target, ca_file=ca_file)
    if config.getoption("dpop_insecure"):
        target = dataclasses.replace(target, insecure=True)
    config.stash[TARGET_KEY] = target


def _config_path(config: pytest.Config) -> str | None:
    value = config.getoption("dpop_config") or os.environ.get("DPOP_CONFIG") or config.getini("dpop_config")
    return str(value) if value else None


def _results_writer(config: pytest.Config) -> ResultsWriter:
    """The writer of results.json, with what the run knows before its first case."""
    configured = config.stash.get(TARGET_KEY, None)
    writer = ResultsWriter(target_summary(configured, config.getoption("dpop_embedded")))
    writer.warnings = configured.transport_warnings() if configured else []
    writer.baseline = config.stash.get(BASELINE_KEY, None)
    writer.fail_on = fail_on_option(config)
    writer.selection = selection_record(config)
    seed = config.getoption("hypothesis_seed", None)
    seed = int(seed) if isinstance(seed, str) and seed.isdigit() else seed  # Hypothesis keeps it as text
    writer.concurrency["limit"] = int(config.getoption("dpop_concurrency"))
    writer.fuzz = {
        "seed": seed,
        "derandomized": seed is None,
        "profile": config.getoption("dpop_fuzz_profile"),
        "examples_per_case": fuzz_examples(config),
    }
    return writer


def target_summary(target: Target | None, embedded: str | None = None) -> dict[str, Any]:
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


def fail_on_option(config: pytest.Config) -> str:
    """must or should: what the run's gate counts (--dpop-fail-on, or --dpop-strict for should)."""
    chosen = config.getoption("dpop_fail_on")
    return "should" if config.getoption("dpop_strict") or chosen == "should" else "must"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which target the run goes to, and what is wrong with how it is reached (plain HTTP, TLS not verified)."""
    path = _config_path(config)
    if not path:
        return ["dpop: no target file; running against the embedded reference server"]
    target = config.stash.get(TARGET_KEY, None)
    warnings = target.transport_warnings() if target else []
    return [f"dpop: target file {path}", *(f"dpop: WARNING: {w}" for w in warnings)]
