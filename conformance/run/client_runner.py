"""Running a client's command once per scenario against the judging servers, and judging what it sent (issue 30).

`run_client` starts the judging AS and RS (conformance/reference/judging) on two loopback origins, runs the
command once per scenario with the contract's environment (DPOP_ISSUER, DPOP_TOKEN_ENDPOINT, DPOP_RESOURCE_URL,
DPOP_CLIENT_ID, DPOP_CLIENT_SECRET, DPOP_SCOPE, DPOP_SCENARIO, and DPOP_REFRESH, DPOP_GRANT, DPOP_REDIRECT_URI where
the scenario asks), and judges each scenario's recorded requests with conformance/judge/client_checks.py.

A command that times out, dies of a signal, never calls, or exits non-zero in a scenario it could complete
without any check naming why, is `error` in every check of that scenario, with its output's tail: never a
verdict. A command that keeps sending (more than `max_requests` in a scenario) is stopped, and judged on what it
sent: that is the evidence of a loop, not a failure to run.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from conformance.judge.client_checks import (
    CHECKS,
    Answer,
    CheckResult,
    JudgingContext,
    ReceivedRequest,
    judge_client,
)
from conformance.judge.verdicts import Outcome
from conformance.reference.judging import PUBLIC_CLIENT_ID, SCENARIOS, Bench, Recorded, Scenario
from conformance.reference.judging.scenarios import RESOURCE_METHOD_VARIABLE
from conformance.reference.server import RunningServer

__all__ = ["ClientRun", "ScenarioRun", "run_client", "to_received"]

_TAIL = 2000  # characters of the command's output kept for an error
_POLL = 0.02
_REDIRECT_URI = "http://127.0.0.1/callback"
#: the environment variables of client conformance's contract (issue 30, item 1, and the capabilities' own)
_CONTRACT = frozenset(
    {
        "DPOP_ISSUER",
        "DPOP_TOKEN_ENDPOINT",
        "DPOP_RESOURCE_URL",
        "DPOP_CLIENT_ID",
        "DPOP_CLIENT_SECRET",
        "DPOP_SCOPE",
        "DPOP_SCENARIO",
        "DPOP_REFRESH",
        "DPOP_GRANT",
        "DPOP_REDIRECT_URI",
        RESOURCE_METHOD_VARIABLE,
    }
)


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario: how the command ended, what it sent, and each check's outcome."""

    scenario: str
    returncode: int | None  # None: stopped (timeout or request budget)
    stopped: str  # "" or why the command was stopped
    seconds: float
    requests: tuple[ReceivedRequest, ...]
    results: dict[str, CheckResult]
    output_tail: str
    #: how far the proofs' iat was from the time they arrived, in seconds (the median; None: no proof with iat)
    clock_offset: float | None = None


@dataclass(frozen=True)
class ClientRun:
    """A whole run: every scenario's outcome, in the order of the scenario table."""

    scenarios: tuple[ScenarioRun, ...]
    token_endpoint: str = ""  # the judging AS's token endpoint in this run (its port changes every run)
    resource_url: str = ""  # the judging RS's resource URL in this run
    client_secret: str = field(default="", repr=False)  # the judging AS's secret for the client: to redact

    def outcomes(self) -> dict[tuple[str, str], Outcome]:
        """(scenario, check) → outcome, for every pair."""
        return {(s.scenario, c): r.outcome for s in self.scenarios for c, r in s.results.items()}


def to_received(record: Recorded) -> ReceivedRequest:
    """The judge's record of a request from the judging server's own (the reference imports nothing of the judge)."""
    answer = record.answer
    return ReceivedRequest(
        record.method,
        record.url,
        record.headers,
        record.body,
        record.received_at,
        record.server,
        record.scenario,
        Answer(answer.status, answer.headers, answer.body) if answer is not None else None,
    )


def _environment(bench: Bench, scenario: Scenario, base: Mapping[str, str]) -> dict[str, str]:
    # the contract's names come from the scenario alone; anything else (the command's own settings) passes through
    env = {k: v for k, v in base.items() if k not in _CONTRACT}
    public = scenario.grant == "authorization_code"
    env.update(
        DPOP_ISSUER=bench.as_url,
        DPOP_TOKEN_ENDPOINT=bench.token_endpoint,
        DPOP_RESOURCE_URL=bench.resource_url,
        DPOP_CLIENT_ID=PUBLIC_CLIENT_ID if public else bench.client_id,
        DPOP_CLIENT_SECRET="" if public else bench.client_secret,
        DPOP_SCOPE=bench.scope,
        DPOP_SCENARIO=scenario.id,
    )
    if scenario.refresh:
        env["DPOP_REFRESH"] = "1"
    if public:
        env.update(DPOP_GRANT="authorization_code", DPOP_REDIRECT_URI=_REDIRECT_URI)
    if scenario.resource_method != "GET":  # the post capability: the resource is called with this method and a body
        env[RESOURCE_METHOD_VARIABLE] = scenario.resource_method
    return env


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted:client_secret>")
    return text


def _run_one(
    command: Sequence[str], bench: Bench, scenario: Scenario, env: Mapping[str, str], timeout: float, max_requests: int
) -> ScenarioRun:
    bench.reset(scenario)
    started = time.monotonic()
    process = subprocess.Popen(
        list(command),
        env=_environment(bench, scenario, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    stopped = ""
    while process.poll() is None:
        if time.monotonic() - started > timeout:
            stopped = f"timed out after {timeout:.0f} s"
        elif len(bench.records) > max_requests:
            stopped = f"stopped after {max_requests} requests in one scenario"
        if stopped:
            process.kill()
            break
        time.sleep(_POLL)
    output, _ = process.communicate()
    seconds = time.monotonic() - started
    tail = _redact(output.decode("utf-8", "replace")[-_TAIL:], [bench.client_secret])
    requests = tuple(to_received(r) for r in bench.taken())
    ctx = JudgingContext(
        token_endpoint=bench.token_endpoint,
        resource_url=bench.resource_url,
        advertised_algs=scenario.algs,
        authorization_endpoint=bench.authorization_endpoint,
        clock_offset=scenario.clock_offset,
    )
    results = judge_client(requests, ctx)
    returncode = None if stopped.startswith("timed") else process.returncode
    reason = _error_reason(scenario, returncode, stopped, requests, results)
    if reason:
        results = {c: CheckResult(c, Outcome.ERROR, f"{reason}; output: {tail[-300:]}") for c in CHECKS}
    return ScenarioRun(scenario.id, returncode, stopped, seconds, requests, results, tail, measured_offset(requests))


def measured_offset(requests: Sequence[ReceivedRequest]) -> float | None:
    """The median of (proof iat - time received) over the scenario's proofs, in seconds; None without one."""
    offsets: list[float] = []
    for request in requests:
        for value in request.header_values("dpop")[:1]:
            claims = _claims(value)
            iat = claims.get("iat")
            if isinstance(iat, int | float) and not isinstance(iat, bool):
                offsets.append(float(iat) - request.received_at)
    if not offsets:
        return None
    offsets.sort()
    middle = len(offsets) // 2
    median = offsets[middle] if len(offsets) % 2 else (offsets[middle - 1] + offsets[middle]) / 2
    return round(median, 3)


def _claims(proof: str) -> dict[str, object]:
    """The payload of a compact JWS, unverified, or {} (what it carries is judged elsewhere)."""
    parts = proof.strip().split(".")
    if len(parts) != 3:
        return {}
    try:
        value = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _error_reason(
    scenario: Scenario,
    returncode: int | None,
    stopped: str,
    requests: Sequence[ReceivedRequest],
    results: Mapping[str, CheckResult],
) -> str:
    """Why a scenario cannot be judged, or "": a run that ended without evidence gives no verdict."""
    if stopped.startswith("timed"):
        return f"the command {stopped}"
    if stopped:
        return ""  # a loop, judged on what it sent
    if returncode is not None and returncode < 0:
        return f"the command died of signal {-returncode}"
    if not any(r.server == "AS" and r.method == "POST" for r in requests):
        return "the command never called the token endpoint"
    if returncode and scenario.completes:
        # only a violation explains a failed run, or a finding of a check that breaks the flow whatever its level
        # (a challenge not retried): an observation of the client's choice (its clock, a Bearer answer) never
        # does, or a crash after one would read as a verdict
        named = any(
            r.outcome in (Outcome.FAILED, Outcome.WARNING)
            or (r.outcome is Outcome.INFO and CHECKS[check].explains_exit)
            for check, r in results.items()
        )
        if not named:
            return f"the command exited {returncode} though no check names a cause"
    return ""


def run_client(
    command: str | Sequence[str],
    *,
    capabilities: Iterable[str] = (),
    scenarios: Iterable[str] | None = None,
    timeout: float = 20.0,
    max_requests: int = 60,
    env: Mapping[str, str] | None = None,
) -> ClientRun:
    """Run `command` once per scenario (those its capabilities allow, or the ids given) and judge each.

    `command` is a shell-like string (split with shlex, no shell) or an argument list. The judging servers listen
    on two loopback origins (127.0.0.1, two ports) for the whole run and switch scenario between runs.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    declared = set(capabilities)
    wanted = set(scenarios) if scenarios is not None else None
    chosen = [s for s in SCENARIOS if (wanted is None or s.id in wanted) and (not s.needs or s.needs in declared)]
    bench = Bench()
    base_env = dict(os.environ if env is None else env)
    runs: list[ScenarioRun] = []
    with (
        RunningServer(app_factory=bench.as_app, date_header=False) as _as,
        RunningServer(app_factory=bench.rs_app, date_header=False) as _rs,
    ):
        for scenario in chosen:
            runs.append(_run_one(argv, bench, scenario, base_env, timeout, max_requests))
    return ClientRun(tuple(runs), bench.token_endpoint, bench.resource_url, bench.client_secret)
