"""A rate limit is no answer: 429/503 with Retry-After is waited out and the request sent again.

The reference server can stand behind a rate limiter of its own (ServerSettings.throttle_every): every Nth
request is answered 429 with Retry-After before the server sees it. The verdicts must be those of the
same run without it, and the run says how often it was throttled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.client.evidence import Exchange
from conformance.client.transport import retry_after
from conformance.reference import RunningServer, ServerSettings

CLI = [sys.executable, "-m", "conformance", "run"]
FIXED = ("--", "-m", "not fuzz")  # the whole catalog without the fuzz cases


def _answer(status: int, value: str | None) -> Exchange:
    headers = [("Retry-After", value)] if value is not None else []
    return Exchange("t", "POST", "http://127.0.0.1/token", [], status=status, response_headers=headers)


def test_retry_after_reads_seconds_and_http_dates_only_on_429_and_503() -> None:
    assert retry_after(_answer(429, "1")) == 1.0
    assert retry_after(_answer(503, "120")) == 120.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = retry_after(_answer(429, later))
    assert wait is not None and 28 <= wait <= 31
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_after(_answer(429, past)) == 0.0
    # the target's answer as it is: another status, no header, a value that is neither form
    assert retry_after(_answer(400, "1")) is None
    assert retry_after(_answer(429, None)) is None
    assert retry_after(_answer(429, "soon")) is None
    assert retry_after(_answer(429, "-1")) is None
    assert retry_after(_answer(429, "1" * 100)) is None


def _run(tmp_path: Path, name: str, settings: ServerSettings, *args: str) -> tuple[int, dict[str, Any], str]:
    with RunningServer(settings) as server:
        config = tmp_path / f"{name}.toml"
        config.write_text(server.target_toml())
        done = subprocess.run(
            [*CLI, "--config", str(config), "--report-dir", str(tmp_path / name), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
    return done.returncode, json.loads((tmp_path / name / "results.json").read_text()), done.stdout


@pytest.mark.slow
def test_a_rate_limited_target_gets_the_verdicts_of_an_unlimited_one(tmp_path: Path) -> None:
    settings = ServerSettings(nonce="both", defects=frozenset({"ath"}))
    # the whole fixed catalog, side by side (the default): a 429 in one thread is waited out while the others go on
    status, plain, _ = _run(tmp_path, "plain", settings, *FIXED)
    limited = ServerSettings(nonce="both", defects=frozenset({"ath"}), throttle_every=10, throttle_retry_after=1)
    throttled_status, throttled, stdout = _run(tmp_path, "limited", limited, *FIXED)
    outcomes = {c["id"]: c["outcome"] for c in plain["cases"]}
    assert {c["id"]: c["outcome"] for c in throttled["cases"]} == outcomes
    assert throttled_status == status == 1 and "failed" in outcomes.values()  # the ath defect still shows
    assert plain["throttled"] == {"count": 0, "waited_s": 0.0}
    count = throttled["throttled"]["count"]
    sent = sum(throttled["requests"].values())
    assert count >= 5 and abs(count - sent / 10) <= 2, (count, sent)
    assert throttled["throttled"]["waited_s"] >= count * 0.99
    assert f"rate-limited {count} time(s)" in stdout
    assert "rate-limited first: HTTP 429 with Retry-After 1" in (tmp_path / "limited" / "report.html").read_text()


def test_a_rate_limit_beyond_the_deadline_is_no_verdict(tmp_path: Path) -> None:
    # every other request limited for 30 s, the run's deadline 5 s away: nothing can be judged
    settings = ServerSettings(throttle_every=2, throttle_retry_after=30)
    status, results, _ = _run(tmp_path, "long", settings, "--deadline", "5", "--case", "rs-proof-ath-*")
    assert status == 3 and results["summary"]["failed"] == 0 and results["summary"]["warning"] == 0
    messages = " ".join(c["message"] for c in results["cases"]) + json.dumps(results["preflight"])
    assert "throttled: HTTP 429 with Retry-After 30, a wait beyond the run's deadline" in messages
