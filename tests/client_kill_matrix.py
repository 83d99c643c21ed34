"""The client kill matrix: what each defect switch of the reference client must make fail, and where.

For every switch of conformance/reference/client.py (DEFECTS): check → scenario → outcome, for every outcome that
is not passed or skipped (failed, warning or info: an info check is proven by a switch that turns its pass into
info). tests/test_client_mode.py runs the reference client with each switch over every scenario and holds the
result to this table exactly: a switch fails its checks and nothing else. Observations (info whatever the client
does) are left out of the comparison.

The switches run side by side (run_matrix: each run_client starts its own judging servers on free ports). By hand:
`python tests/client_kill_matrix.py [SWITCH ...]` prints every difference from KILLS and the time taken.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conformance.judge.verdicts import Outcome
from conformance.reference.judging import CAPABILITIES, SCENARIOS
from conformance.run.client_runner import ClientRun, run_client

__all__ = ["CLIENT", "KILLS", "OBSERVATIONS", "differences", "not_passed", "run_matrix", "run_reference"]

CLIENT = [sys.executable, "-m", "conformance.reference.client"]
#: switches run at a time: each is a chain of short subprocesses, mostly waiting on the loopback
WORKERS = int(os.environ.get("DPOP_KILL_WORKERS", "6"))

OBSERVATIONS = frozenset({"bearer-token-type"})

EVERY = tuple(s.id for s in SCENARIOS)
#: every scenario whose token is DPoP-bound (token-type-bearer issues an unbound one: no proof at the resource)
BOUND = tuple(i for i in EVERY if i != "token-type-bearer")
#: the scenarios where a server challenges for a nonce
CHALLENGED = tuple(s.id for s in SCENARIOS if s.as_nonce != "none" or s.rs_nonce != "none")
AS_CHALLENGED = tuple(s.id for s in SCENARIOS if s.as_nonce != "none")
RS_CHALLENGED = tuple(s.id for s in SCENARIOS if s.rs_nonce != "none")
CHALLENGE_STYLES = ("challenge-lowercase", "challenge-second", "challenge-unquoted", "challenge-split")


def _in(scenarios: tuple[str, ...], outcome: str) -> dict[str, str]:
    return dict.fromkeys(scenarios, outcome)


KILLS: dict[str, dict[str, dict[str, str]]] = {
    "jti-reuse-on-retry": {
        "jti-unique": _in(CHALLENGED, "failed"),
    },
    "htu-query": {
        "htu": _in(("resource-query",), "failed"),
    },
    "ath-hex": {
        "ath": _in(BOUND, "failed"),
    },
    "no-nonce-retry": {
        "nonce-retry": _in(CHALLENGED, "info"),
    },
    # every retry carries the challenge's own nonce, so only the requests that start with the other server's
    # nonce are judged, and §9's "should not be confused" has no keyword: info, and nothing else
    "one-nonce-for-all": {
        "nonce-origin": _in(CHALLENGED, "info"),
    },
    "ignore-200-nonce": {
        "as-nonce-from-200": _in(("as-nonce-on-200",), "failed"),
        "rs-nonce-from-200": _in(("rs-nonce-on-200",), "info"),
    },
    "challenge-first-exact": {
        "nonce-retry": _in(CHALLENGE_STYLES, "info"),
    },
    "endless-retry": {
        "retry-bounded": _in(("challenge-forever", "rechallenge-same-nonce"), "info"),
    },
    "bearer-scheme": {
        "auth-scheme": _in(BOUND, "failed"),
    },
    "private-jwk": {
        "jwk-public": _in(EVERY, "failed"),
    },
    "iat-ms": {
        "iat": _in(EVERY, "failed"),
    },
    "new-key-per-request": {
        "key-binding": _in(
            (
                "no-nonces",
                "as-nonce",
                "rs-nonce",
                "as-nonce-on-200",
                "rs-nonce-on-200",
                "both-nonces",
                "challenge-lowercase",
                "challenge-second",
                "challenge-unquoted",
                "challenge-split",
                "nqchar-nonces",
                "challenge-forever",
                "rechallenge-same-nonce",
                "token-type-lowercase",
                "uncommon-alg",
                "resource-query",
                "clock-offset",
                "refresh",
                "post",
            ),
            "failed",
        ),
        "refresh-same-key-confidential": _in(("refresh",), "info"),
        "dpop-jkt": _in(("authorization-code",), "failed"),
    },
    "new-key-on-refresh": {
        "refresh-same-key-confidential": _in(("refresh",), "info"),
        "refresh-same-key-public": _in(("authorization-code",), "failed"),
    },
    "typ-jwt": {
        "typ": _in(EVERY, "failed"),
    },
    "htm-lowercase": {
        "htm": _in(EVERY, "failed"),
    },
    "short-jti": {
        "jti-entropy": _in(EVERY, "info"),
    },
    # §5.1 only defines the metadata; ES256 is asymmetric and fits its key, so alg itself passes
    "alg-ignores-metadata": {
        "alg-advertised": _in(("uncommon-alg",), "info"),
    },
    "ignore-date": {
        "iat-clock": _in(("clock-offset",), "info"),
    },
    "token-type-exact": {
        "proof-present": _in(("token-type-lowercase",), "failed"),
        "auth-scheme": _in(("token-type-lowercase",), "failed"),
    },
    "two-dpop-headers": {
        "one-dpop-header": _in(EVERY, "failed"),
    },
    "no-proof-on-refresh": {
        "proof-present": _in(("refresh", "authorization-code"), "failed"),
    },
    "no-jti": {
        "claims-present": _in(EVERY, "failed"),
    },
    "bad-signature": {
        "signature": _in(EVERY, "failed"),
    },
    # the signature under a wrong alg is not judged: the fault is alg's alone
    "alg-hs256": {
        "alg": _in(EVERY, "failed"),
    },
    # the retry happens (nonce-retry passes) but lacks the nonce: §4.2's MUST, judged once
    "retry-without-nonce": {
        "nonce": _in(CHALLENGED, "failed"),
    },
    # a new token starts without the nonces: the retry after the new challenge carries it (nonce passes); the
    # request before it is §8.2's "is expected" (info), but at the AS after a nonce on a 200, §8.2's MUST
    "nonce-per-token": {
        "nonce-kept": _in(tuple(i for i in CHALLENGED if "on-200" not in i), "info"),
        "as-nonce-from-200": _in(("as-nonce-on-200",), "failed"),
        "rs-nonce-from-200": _in(("rs-nonce-on-200",), "info"),
    },
}


def not_passed(run: ClientRun) -> dict[str, dict[str, str]]:
    """check → scenario → outcome, for every outcome but passed and skipped (observations left out)."""
    found: dict[str, dict[str, str]] = {}
    for (scenario, check), outcome in run.outcomes().items():
        if outcome not in (Outcome.PASSED, Outcome.SKIPPED) and check not in OBSERVATIONS:
            found.setdefault(check, {})[scenario] = outcome.value
    return found


def run_reference(defects: str = "", **kw: Any) -> ClientRun:
    """The reference client with these switches (comma-separated) over every scenario its capabilities allow."""
    env = {**os.environ, "DPOP_CLIENT_DEFECTS": defects}
    return run_client(CLIENT, capabilities=CAPABILITIES, env=env, **kw)


def run_matrix(defects: list[str], workers: int = WORKERS) -> dict[str, dict[str, dict[str, str]]]:
    """Each switch's non-passed outcomes, the switches run side by side (each run_client has its own servers)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = dict(zip(defects, pool.map(lambda d: not_passed(run_reference(d)), defects), strict=True))
    return runs


def differences(found: dict[str, dict[str, dict[str, str]]]) -> list[str]:
    """Each (switch, check, scenario) whose outcome differs from KILLS, one line each."""
    lines = []
    for defect, got in sorted(found.items()):
        want = KILLS.get(defect, {})
        for check in sorted(set(got) | set(want)):
            for scenario in sorted(set(got.get(check, {})) | set(want.get(check, {}))):
                g, w = got.get(check, {}).get(scenario, "passed"), want.get(check, {}).get(scenario, "passed")
                if g != w:
                    lines.append(f"{defect}: {check} in {scenario}: {g}, expected {w}")
    return lines


if __name__ == "__main__":
    started = time.monotonic()
    names = sys.argv[1:] or sorted(KILLS)
    found = run_matrix(names)
    for line in differences(found):
        sys.stdout.write(line + "\n")
    sys.stdout.write(f"{len(names)} switches in {time.monotonic() - started:.1f} s ({WORKERS} at a time)\n")
