"""Client conformance end to end: the judging servers, the runner, the reference client clean and with each defect.

The clean reference client must pass every check in every scenario; each defect switch must make exactly the
checks of tests/client_kill_matrix.py fail (or warn, or be info), in exactly those scenarios, and nothing else.
The servers run in this process; the client is a subprocess per scenario, as a real command is.
"""

from __future__ import annotations

import base64
import sys
from urllib.parse import quote

import httpx
import pytest
from client_kill_matrix import KILLS, OBSERVATIONS, differences, not_passed, run_matrix, run_reference

from conformance.judge.client_checks import CHECKS
from conformance.judge.verdicts import Outcome
from conformance.reference.client import DEFECTS, DPoPClient, list_defects
from conformance.reference.judging import SCENARIOS, Bench
from conformance.reference.server import RunningServer
from conformance.run.client_runner import run_client


def test_the_clean_reference_client_passes_every_check_in_every_scenario() -> None:
    run = run_reference()
    assert [s.scenario for s in run.scenarios] == [s.id for s in SCENARIOS]
    assert not_passed(run) == {}
    for s in run.scenarios:
        expected = 0 if next(x for x in SCENARIOS if x.id == s.scenario).completes else 1
        assert s.returncode == expected, (s.scenario, s.output_tail)
    # every check but the observations passed somewhere: none is vacuous
    passed = {check for (_, check), outcome in run.outcomes().items() if outcome is Outcome.PASSED}
    assert passed == set(CHECKS) - OBSERVATIONS
    bearer = run.outcomes()[("token-type-bearer", "bearer-token-type")]
    assert bearer is Outcome.INFO


def test_every_defect_switch_is_listed_with_what_it_breaks_and_has_a_kill_entry() -> None:
    assert list_defects() == DEFECTS
    assert all(DEFECTS.values())
    assert set(KILLS) == set(DEFECTS)
    killed = {check for entry in KILLS.values() for check in entry}
    assert killed == set(CHECKS) - OBSERVATIONS, "every check is proven able to fail by some switch"


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(KILLS))
def test_each_defect_fails_exactly_its_checks(defect: str) -> None:
    # one switch a test, so that pytest-xdist spreads the matrix over its workers beside the other tests
    found = run_matrix([defect], workers=1)
    assert differences(found) == []
    assert found == {defect: KILLS[defect]}


def test_a_command_that_never_calls_is_error_with_its_output() -> None:
    run = run_client([sys.executable, "-c", "print('no calls here')"], scenarios=["no-nonces"])
    (only,) = run.scenarios
    assert {r.outcome for r in only.results.values()} == {Outcome.ERROR}
    assert "never called" in only.results["typ"].message and "no calls here" in only.results["typ"].message


def test_a_command_that_times_out_is_error() -> None:
    run = run_client([sys.executable, "-c", "import time; time.sleep(30)"], scenarios=["no-nonces"], timeout=1)
    (only,) = run.scenarios
    assert only.returncode is None and "timed out" in only.stopped
    assert {r.outcome for r in only.results.values()} == {Outcome.ERROR}


def test_a_crash_without_a_named_cause_is_error_and_the_secret_is_not_in_the_tail() -> None:
    code = "import os, sys; print(os.environ['DPOP_CLIENT_SECRET']); sys.exit(3)"
    run = run_client([sys.executable, "-c", code], scenarios=["no-nonces"])
    (only,) = run.scenarios
    assert {r.outcome for r in only.results.values()} == {Outcome.ERROR}
    assert "<redacted:client_secret>" in only.output_tail


def test_an_endless_loop_is_stopped_and_judged_on_what_it_sent() -> None:
    run = run_reference("endless-retry", scenarios=["challenge-forever"], max_requests=20)
    (only,) = run.scenarios
    assert "stopped after 20 requests" in only.stopped
    assert only.results["retry-bounded"].outcome is Outcome.INFO


def _basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1's Basic credentials: id and secret each form-urlencoded (- and _ escaped too, as
    oauth4webapi writes them), joined by a colon, then Base64."""

    def escape(value: str) -> str:
        return quote(value, safe="").replace("-", "%2D").replace("_", "%5F").replace(".", "%2E")

    return "Basic " + base64.b64encode(f"{escape(client_id)}:{escape(secret)}".encode()).decode("ascii")


def test_the_judging_as_decodes_client_secret_basic_as_rfc_6749_writes_it() -> None:
    # on loopback: a form-urlencoded id and secret (with - and _ escaped as %2D and %5F) are the client's own; a
    # wrong secret, escaped the same way, is refused with invalid_client
    bench = Bench(client_secret="s3cret-with_dash-and_underscore")
    assert "-" in bench.client_id
    client = DPoPClient()
    with RunningServer(app_factory=bench.as_app, date_header=False), httpx.Client(timeout=10) as http:

        def token_request(authorization: str) -> httpx.Response:
            return http.post(
                bench.token_endpoint,
                data={"grant_type": "client_credentials", "scope": bench.scope},
                headers={"Authorization": authorization, "DPoP": client.proof("POST", bench.token_endpoint)},
            )

        escaped = _basic(bench.client_id, bench.client_secret)
        assert "%2D" in _decoded(escaped) and "%5F" in _decoded(escaped)
        accepted = token_request(escaped)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["token_type"] == "DPoP"
        wrong = token_request(_basic(bench.client_id, bench.client_secret + "-x"))
        assert wrong.status_code == 401, wrong.text
        assert wrong.json()["error"] == "invalid_client"
        assert bench.client_secret not in wrong.text


def _decoded(authorization: str) -> str:
    """The decoded credentials of a Basic Authorization value (to see the escapes the test sends)."""
    return base64.b64decode(authorization.split(" ", 1)[1]).decode("ascii")
