"""The client kill matrix: what each defect switch of the reference client must make fail, and where.

For every switch of conformance/reference/client.py (DEFECTS): check → scenario → outcome, for every outcome that
is not passed or skipped (failed, warning or info: an info check is proven by a switch that turns its pass into
info). tests/test_client_mode.py runs the reference client with each switch over every scenario and holds the
result to this table exactly: a switch fails its checks and nothing else. Observations (info whatever the client
does) are left out of the comparison.
"""

from __future__ import annotations

from conformance.reference.judging import SCENARIOS

__all__ = ["KILLS", "OBSERVATIONS"]

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
        "nonce-retry": _in(CHALLENGED, "failed"),
    },
    "one-nonce-for-all": {
        "nonce-origin": _in(CHALLENGED, "info"),
        "nonce": _in(("both-nonces", "nqchar-nonces"), "failed"),
    },
    "ignore-200-nonce": {
        "as-nonce-from-200": _in(("as-nonce-on-200",), "failed"),
        "rs-nonce-from-200": _in(("rs-nonce-on-200",), "info"),
    },
    "challenge-first-exact": {
        "nonce-retry": _in(CHALLENGE_STYLES, "failed"),
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
    "alg-ignores-metadata": {
        "alg": _in(("uncommon-alg",), "failed"),
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
}
