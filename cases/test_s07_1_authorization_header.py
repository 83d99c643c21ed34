"""RFC 9449 §7.1, the Authorization header: every check holds however the credentials are written.

A resource reads `Authorization: DPoP <token>` (credentials = "DPoP" 1*SP token68). Where the code that
takes the header apart is not the code that checks the proof, the two can read different things: two
Authorization lines of which a middleware checks one and the application uses the other, a value with
trailing text or a tab that one parser splits and another refuses, a value with no token at all. Each case
sends a valid request before and after its altered ones (controls).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.client.flow import Sent
from conformance.client.keys import key_for
from conformance.client.request import Request
from conformance.judge.answers import OVERLOADED, is_server_error
from conformance.judge.catalog import case_param
from conformance.judge.checks import (
    attributable_refusal,
    refusal_note,
    server_error,
    unanswered,
    violation,
    where,
)
from conformance.judge.endpoints import RESOURCE
from conformance.judge.faults import LENIENT_RULE, fault
from conformance.judge.mutations import mutation
from conformance.judge.negatives import between_controls
from conformance.judge.refusal import expect_refused
from conformance.judge.session import BoundToken, DPoPSession
from conformance.judge.verdicts import Level

# --- two Authorization lines: every check holds whichever line a layer reads ------------------------------


@dataclass(frozen=True)
class Check:
    """One check of §4.3 (or the key binding, or the proof's presence), broken by one change."""

    name: str
    text: str  # the change, as a noun phrase: "a proof with ..."
    mutation: str = ""  # the named mutation that breaks it ("" for the key swap and the missing proof)
    when: str = ""  # "nonce": only where the resource demands one; "no-nonce": only where it does not


CHECKS = [
    Check("not-a-jwt", "a proof that is not a JWT", "not-jwt-garbage"),
    Check("claim-missing", "a proof without jti", "jti-missing"),
    Check("typ", "a proof with typ JWT", "typ-jwt"),
    Check("alg-none", "a proof with alg none and no signature", "alg-none"),
    Check("signature", "a proof with one signature byte flipped", "signature-flipped-byte"),
    Check("jwk-private", "a proof whose jwk carries the private key", "jwk-private"),
    Check("htm", "a proof whose htm names another method", "htm-wrong"),
    Check("htu", "a proof whose htu names another path", "htu-other-path"),
    Check("nonce", "a proof with a nonce the resource never issued", "nonce-bogus", when="nonce"),
    # with a server nonce in the proof, freshness may come from it (§4.3 check 11): only without one
    Check("iat", "a proof whose iat is an hour old", "iat-hour-past", when="no-nonce"),
    Check("ath", "a proof whose ath hashes another token", "ath-other-token"),
    Check("key-binding", "a valid proof from another key than the bound one"),
    Check("proof-missing", "no DPoP proof at all"),
]

ORDERS = {
    "dpop-first": "Authorization: DPoP <token>, then Authorization: Bearer <other>",
    "bearer-first": "Authorization: Bearer <other>, then Authorization: DPoP <token>",
}


def _lines(order: str, token: str) -> list[tuple[str, str]]:
    other = ("Authorization", f"Bearer dpop-conformance-{secrets.token_urlsafe(12)}")
    dpop = ("Authorization", f"DPoP {token}")
    return [dpop, other] if order == "dpop-first" else [other, dpop]


def _two_lines_params() -> list[Any]:
    return [
        case_param(
            case_id,
            f"Resource checks every proof check and the key binding under two Authorization lines ({order})",
            order,
            section="7.1",
            level=Level.MUST,
            actor="RS",
            requirement="R-7.1-2",
            doc=f"Sends: requests with two Authorization lines ({text}), each with one of: "
            + "; ".join(check.text for check in CHECKS)
            + " (the nonce change only where the resource demands nonces, the iat change only where it does not), "
            'between valid requests.\nExpects: a refusal of each: "The resource server MUST NOT grant access to '
            'the resource unless all checks are successful" (§7.1). A resource that refuses two Authorization lines '
            "at once (400 invalid_request, RFC 6750 §3.1) passes; one whose proof checker reads one line while the "
            "application takes the token from the other grants access without the checks.",
        )
        for case_id, order, text in (
            ("rs-checks-under-two-authorization-lines-dpop-first", "dpop-first", ORDERS["dpop-first"]),
            ("rs-checks-under-two-authorization-lines-bearer-first", "bearer-first", ORDERS["bearer-first"]),
        )
    ]


def _send(dpop: DPoPSession, bound: BoundToken, check: Check, lines: list[tuple[str, str]], label: str) -> Sent:
    request = Request(label=label, scheme="", extra_headers=tuple(lines))
    if check.name == "key-binding":
        request = dataclasses.replace(request, key=key_for(bound.key.alg))
    elif check.name == "proof-missing":
        request = dataclasses.replace(request, without_proof=True)
    else:
        request = dataclasses.replace(request, mutate=mutation(check.mutation))
    return between_controls(dpop, RESOURCE.holding(bound), request)


@pytest.mark.parametrize("order", _two_lines_params())
def test_checks_hold_under_two_authorization_lines(dpop: DPoPSession, note: Any, order: str) -> None:
    bound = dpop.bound_token()
    nonce = RESOURCE.known_nonce(dpop) is not None
    checks = [c for c in CHECKS if not (c.when == "nonce" and not nonce) and not (c.when == "no-nonce" and nonce)]
    accepted: list[tuple[str, Sent]] = []
    failed: list[tuple[str, Sent]] = []
    refused: list[tuple[str, Sent]] = []
    for check in checks:
        label = f"two Authorization lines ({ORDERS[order]}) with {check.text}"
        sent = _send(dpop, bound, check, _lines(order, bound.access_token), label)
        final = sent.final
        if final.error:
            raise unanswered(label, sent.exchanges)
        if final.ok:
            accepted.append((check.text, sent))
        elif is_server_error(final) and final.status not in OVERLOADED:
            failed.append((check.text, sent))
        else:
            refused.append((label, sent))
    if accepted:
        texts = "; ".join(text for text, _ in accepted)
        final = accepted[0][1].final
        raise violation(
            f"requests with two Authorization lines ({ORDERS[order]}), each with {texts}",
            "a refusal of each: no access unless every check passes (§7.1), whichever line a layer reads",
            final,
            cause=f"{where(final)} grants access under two Authorization lines ({order}) to requests with {texts}",
            fix="refuse a request with two Authorization lines with 400 invalid_request (RFC 6750 §3.1), or check the "
            "proof against the very line whose token grants access (§7.1)",
            exchanges=[e for _, s in accepted for e in s.exchanges],
        )
    if failed:
        raise server_error(
            f"requests with two Authorization lines ({ORDERS[order]}), each with "
            + "; ".join(text for text, _ in failed),
            "a refusal of each",
            failed[0][1].final,
            [e for _, s in failed for e in s.exchanges],
            fix="refuse a request with two Authorization lines with 400 invalid_request (RFC 6750 §3.1)",
        )
    for label, sent in refused:  # each refusal is this case's only where it names no other cause
        attributable_refusal(sent, RESOURCE.refusal.dpop_errors, label)
    note(f"{len(checks)} broken checks refused under two Authorization lines ({order})")


# --- Authorization values that are not "DPoP" 1*SP token68 --------------------------------------------------

MALFORMED = {
    "trailing-text": ("authorization-trailing-text", "Authorization: DPoP <token> followed by a space and more text"),
    "tab": ("authorization-tab", "Authorization: DPoP, a tab instead of the space, then the token"),
    "no-token": ("authorization-no-token", "Authorization: DPoP with no token at all"),
}

#: each case of a malformed Authorization value: its id and its kind (MALFORMED)
MALFORMED_CASES = [
    ("rs-authorization-trailing-text", "trailing-text"),
    ("rs-authorization-tab", "tab"),
    ("rs-authorization-no-token", "no-token"),
]


def _malformed_value(name: str, token: str) -> str:
    if name == "trailing-text":
        return f"DPoP {token} dpop-conformance"
    if name == "tab":
        return f"DPoP\t{token}"
    return "DPoP"


def _malformed_params() -> list[Any]:
    params = []
    for case_id, name in MALFORMED_CASES:
        fault_id, text = MALFORMED[name]
        found = fault(fault_id)
        level = (
            "Accepting it is lenient parsing: the token is intact, so it is a warning (RFC 9110 §11.4, RFC 9449 §7.1)."
            if found.lenient
            else "Accepting it grants access with no access token: a failure (§7.1)."
        )
        params.append(
            case_param(
                case_id,
                f"Resource refuses {text}",
                name,
                section="7.1",
                actor="RS",
                fault=fault_id,
                doc=f"Sends: a resource request with {text}, and a valid proof for the bound token (its ath), between "
                f'valid requests.\nExpects: a refusal: the credentials are "DPoP" 1*SP token68 (§7.1). {level}',
            )
        )
    return params


@pytest.mark.parametrize("name", _malformed_params())
def test_malformed_authorization_is_refused(dpop: DPoPSession, note: Any, name: str) -> None:
    fault_id, text = MALFORMED[name]
    found = fault(fault_id)
    bound = dpop.bound_token()
    value = _malformed_value(name, bound.access_token)
    what = f"a resource request with {text}, with a valid proof for the token"
    # the proof is made for the bound token (its ath), whatever the header carries
    request = Request(label=what, scheme="", extra_headers=(("Authorization", value),))
    sent = between_controls(dpop, RESOURCE.holding(bound), request)
    if sent.final.ok:
        lenient = f"\nLenient parsing: {LENIENT_RULE}" if found.lenient else ""
        raise violation(
            what,
            f"a refusal ({found.rule}){lenient}",
            sent.final,
            exchanges=sent.exchanges,
            cause=f"{sent.final.method} {sent.final.url.split('?', 1)[0]} accepts {text}",
            fix='read Authorization as "DPoP", one or more spaces, then exactly one token68 (§7.1, RFC 9110 §11.4)',
        )
    note(refusal_note(expect_refused(sent, RESOURCE.refusal, what=what, rule=found.rule, error_required=False)))
