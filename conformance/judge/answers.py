"""What an answer is about, read from its content whatever its status.

A server answers a proof with an error code: in the JSON body (RFC 6749 §5.2) or in a `WWW-Authenticate`
challenge (RFC 6750 §3, RFC 9449 §7.1), and real servers use either at either endpoint. So:

- a **DPoP answer** names `invalid_dpop_proof` or `use_dpop_nonce` anywhere (or `invalid_token` at a
  resource): it is the server's answer to the proof, whatever its status; a status that departs from the
  RFC's is a finding of its own, never a reason to set the answer aside;
- an answer that names **another cause** (a rate limit, an overloaded gateway, a grant that is unknown, used or
  expired, a nonce challenge the case could not answer) is not the server's verdict on what a case changed:
  the case tries again with fresh controls, and says it cannot tell when that keeps happening;
- an answer with neither is a refusal all the same, but not one that proves its own cause: a pass that rests
  on it, reached while other requests were in flight, is confirmed alone (conformance/judge/attribution.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple

from conformance.client.evidence import Exchange
from conformance.client.flow import parse_challenges

__all__ = [
    "DPOP_ERRORS",
    "OVERLOADED",
    "RESOURCE_ERRORS",
    "OtherCause",
    "another_cause",
    "challenge_errors",
    "dpop_error",
    "error_codes",
    "first_error",
    "is_server_error",
]

#: the error codes RFC 9449 defines (§12.2): an answer that names one is the server's answer to the proof
DPOP_ERRORS = frozenset({"invalid_dpop_proof", "use_dpop_nonce"})
#: at a resource, invalid_token answers a proof too (a key that does not match cnf.jkt: RFC 9449 figure 16)
RESOURCE_ERRORS = DPOP_ERRORS | {"invalid_token"}
#: statuses that say the server (or what stands in front of it) could not answer now: no verdict on anything
OVERLOADED = frozenset({429, 502, 503, 504})

# A refusal of the grant itself (authgent: "Authorization code is invalid, expired, or already used",
# "Refresh token not found"), not of the proof or the key: it names the code or the refresh token and says it
# is gone, and names nothing of DPoP. A binding refusal names the key ("refresh token is bound to another DPoP
# key"); a vague one names neither ("grant request is invalid", node-oidc-provider's every invalid_grant).
_GRANT = re.compile(r"\b(code|refresh[ _-]?token)\b", re.IGNORECASE)
_GONE = re.compile(
    r"\b(invalid|expired|already used|used|not found|unknown|revoked|consumed|does not exist|no such)\b",
    re.IGNORECASE,
)
_DPOP_WORDS = re.compile(r"dpop|jkt|jwk|thumbprint|proof|\bkeys?\b|bound|binding|\bcnf\b", re.IGNORECASE)
_SLOW_DOWN = frozenset({"temporarily_unavailable", "slow_down"})


def challenge_errors(ex: Exchange) -> list[str]:
    """The `error` values of every challenge in the response's WWW-Authenticate headers."""
    errors: list[str] = []
    for value in ex.headers("WWW-Authenticate"):
        for _scheme, params in parse_challenges(value):
            if "error" in params:
                errors.append(params["error"])
    return errors


def error_codes(ex: Exchange) -> list[str]:
    """Every error code the answer names: its challenges' first, then its JSON body's `error`."""
    codes = challenge_errors(ex)
    body = ex.json_object().get("error")
    if isinstance(body, str) and body and body not in codes:
        codes.append(body)
    return codes


def first_error(ex: Exchange) -> str | None:
    """The error code a client would act on: the challenge's, else the JSON body's (None: there is none)."""
    codes = error_codes(ex)
    return codes[0] if codes else None


def dpop_error(ex: Exchange, known: Collection[str] = DPOP_ERRORS) -> str | None:
    """The DPoP error code the answer names, or None. `known` are the codes that answer a proof where it was
    sent (RESOURCE_ERRORS at a resource: `invalid_token` too); the codes RFC 9449 defines by default."""
    return next((code for code in error_codes(ex) if code in known), None)


def is_server_error(ex: Exchange) -> bool:
    """A 5xx answer: the server failed, which is never a refusal (nor, at 502-504, an answer of its own)."""
    return (ex.status or 0) >= 500


def _description(ex: Exchange) -> str:
    found = ex.json_object().get("error_description")
    text = found if isinstance(found, str) else ""
    for value in ex.headers("WWW-Authenticate"):
        for _scheme, params in parse_challenges(value):
            text += " " + params.get("error_description", "")
    return text.strip()


class OtherCause(NamedTuple):
    """Another cause than the proof or the key that an answer names: its kind and, in words, what it said."""

    kind: str  # overloaded | slow-down | nonce | grant
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def fix(self) -> str:
        """What the user changes so that the case can be judged despite it (the cause is not the target's DPoP)."""
        if self.kind in ("overloaded", "slow-down"):
            return (
                "run again when the server is not under load, with fewer requests at once (--concurrency 1, --max-rps)"
            )
        if self.kind == "nonce":
            return (
                "nothing on the server: its nonce challenge answers the request before the check the case is "
                "about (a replayed proof cannot take a new nonce); run against a deployment that demands no nonce "
                "there to judge that check"
            )
        return (
            "check the grant the target file gives ([client] grant_type, refresh_token, login): the server says "
            "it is gone, so the case could not send its change with a live one"
        )


def another_cause(ex: Exchange, *, answered_nonce: bool = True) -> OtherCause | None:
    """What else than the proof or the key the answer names as its cause, or None.

    `answered_nonce` False: the request could not answer a nonce challenge (a replayed proof cannot take a
    new nonce and stay a replay), so a `use_dpop_nonce` answer says nothing of what the case changed.
    """
    if ex.error or ex.ok:
        return None
    status = ex.status or 0
    if status in OVERLOADED:
        return OtherCause("overloaded", f"HTTP {status}: the server (or a gateway in front of it) could not answer now")
    codes = error_codes(ex)
    slowed = [code for code in codes if code in _SLOW_DOWN]
    if slowed:
        return OtherCause("slow-down", f"error={slowed[0]}: the server asks the client to come back later")
    if "use_dpop_nonce" in codes and not answered_nonce:
        return OtherCause("nonce", "a use_dpop_nonce challenge the request could not answer (a new nonce changes it)")
    if "invalid_grant" in codes:
        text = _description(ex)
        if _GRANT.search(text) and _GONE.search(text) and not _DPOP_WORDS.search(text):
            return OtherCause("grant", f"invalid_grant for the grant itself, not the proof or key: {text[:160]!r}")
    return None
