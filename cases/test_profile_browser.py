"""Browser clients (run with --profile browser): CORS readiness of the token endpoint and the resource.

A browser-based client can only send the DPoP header if the preflight allows it, and only read the
DPoP-Nonce and WWW-Authenticate response headers if the server exposes them (RFC 9449 §7.1, §8: they
"need to" be listed in Access-Control-Expose-Headers). No BCP 14 keyword: the cases record info, never
warn or fail (RFC 9449 says nothing of the preflight at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from conformance.client.evidence import Exchange
from conformance.client.request import Request
from conformance.judge.catalog import case_param
from conformance.judge.checks import answer, prerequisite_failed, unanswered, violation, where
from conformance.judge.endpoints import RESOURCE, TOKEN, Endpoint
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level

ORIGIN = "https://app.dpop-conformance.example"


def _listed(exchange: Exchange, header: str) -> set[str]:
    return {v.strip().lower() for value in exchange.headers(header) for v in value.split(",") if v.strip()}


@dataclass(frozen=True)
class Preflight:
    """One CORS preflight case: where it goes and the request headers it asks for."""

    case_id: str
    endpoint: Endpoint
    section: str  # the RFC 9449 section that says what a browser client reads there: §8 (AS), §7.1 (RS)
    asked: str  # Access-Control-Request-Headers: the token endpoint's form adds content-type

    @property
    def param(self) -> Any:
        """The case, declared."""
        who = self.endpoint.who.lower()
        return case_param(
            self.case_id,
            f"The {who}'s CORS preflight allows the DPoP request header",
            self,
            section=self.section,
            level=Level.MAY,
            actor=self.endpoint.actor,
            requirement="R-7.1-5",
            profile="browser",
            doc=f"Sends: an OPTIONS preflight to the {who} from the origin {ORIGIN}, asking for the request "
            "headers dpop and authorization (and content-type at the token endpoint).\nExpects: a 2xx answer "
            "whose Access-Control-Allow-Headers lists dpop (or *), so a browser may send the proof.",
        )


@dataclass(frozen=True)
class Expose:
    """One case on exposed response headers: where it sends, and what a browser must be able to read there."""

    case_id: str
    endpoint: Endpoint
    section: str  # the RFC 9449 section that says what a browser client reads there: §8 (AS), §7.1 (RS)
    exposed: str  # the response headers that carry what a browser client must read there
    without_credentials_first: bool  # a request without credentials first, for the challenge it gets

    @property
    def param(self) -> Any:
        """The case, declared."""
        who = self.endpoint.who.lower()
        return case_param(
            self.case_id,
            f"The {who} exposes {self.exposed} to browser clients",
            self,
            section=self.section,
            level=Level.MAY,
            actor=self.endpoint.actor,
            requirement="R-7.1-5",
            profile="browser",
            doc=f"Sends: a request to the {who} with Origin: {ORIGIN}"
            + (", without credentials and then with valid ones" if self.without_credentials_first else "")
            + f".\nExpects: Access-Control-Expose-Headers listing {self.exposed} (or *) on the responses that "
            "carry them (a DPoP-Nonce only where the server sends nonces), so a browser client can read the "
            'nonce and the challenge: the server "needs to" expose them (§7.1, §8; no BCP 14 keyword, so '
            "info).",
        )


PREFLIGHTS = [
    Preflight("browser-as-preflight", TOKEN, "8", "dpop, authorization, content-type"),
    Preflight("browser-rs-preflight", RESOURCE, "7.1", "dpop, authorization"),
]
EXPOSES = [
    Expose("browser-as-expose", TOKEN, "8", "DPoP-Nonce", without_credentials_first=False),
    Expose("browser-rs-expose", RESOURCE, "7.1", "WWW-Authenticate and DPoP-Nonce", without_credentials_first=True),
]


@pytest.mark.parametrize("row", [row.param for row in PREFLIGHTS])
def test_preflight_allows_the_dpop_header(dpop: DPoPSession, note: Any, row: Preflight) -> None:
    endpoint, asked = row.endpoint, row.asked
    endpoint.require(dpop)
    ex = dpop.send_plain(
        "CORS preflight",
        "OPTIONS",
        endpoint.url(dpop),
        [
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", endpoint.method(dpop)),
            ("Access-Control-Request-Headers", asked),
        ],
    )
    if ex.error:
        raise unanswered("the CORS preflight", [ex])
    allowed = _listed(ex, "Access-Control-Allow-Headers")
    if not ex.ok or not ({"dpop", "*"} & allowed):
        raise violation(
            "a CORS preflight asking for the dpop request header",
            "a 2xx answer with Access-Control-Allow-Headers listing dpop",
            ex,
            cause=f"{where(ex)} does not allow the DPoP request header in its CORS preflight ({answer(ex)})",
            fix=f"answer the preflight from browser origins with 2xx and Access-Control-Allow-Headers: {asked}",
        )
    note(f"Access-Control-Allow-Headers: {', '.join(sorted(allowed))}")


@pytest.mark.parametrize("row", [row.param for row in EXPOSES])
def test_dpop_response_headers_are_exposed(dpop: DPoPSession, note: Any, row: Expose) -> None:
    endpoint, origin = row.endpoint, (("Origin", ORIGIN),)
    responses = []
    if row.without_credentials_first:
        label = f"{endpoint.noun} without credentials from a browser origin"
        request = Request(label=label, without_proof=True, scheme="", extra_headers=origin)
        responses += endpoint.send(dpop, request).exchanges
    sent = endpoint.send(dpop, Request(label=f"{endpoint.noun} from a browser origin", extra_headers=origin))
    responses += sent.exchanges
    for ex in responses:
        if ex.error:
            raise unanswered("a request from a browser origin", [*responses[: responses.index(ex)], ex])
    wanted = []  # (response, header) pairs that a browser must be able to read
    for ex in responses:
        if ex.header("DPoP-Nonce"):
            wanted.append((ex, "dpop-nonce"))
        if ex.status == 401 and ex.header("WWW-Authenticate"):
            wanted.append((ex, "www-authenticate"))
    if not wanted:
        # where the valid request was the only one, its refusal is why nothing could be exposed
        if not row.without_credentials_first and not sent.final.ok:
            raise prerequisite_failed(f"{endpoint.request} from a browser origin", sent)
        pytest.skip("no response carried DPoP-Nonce or a 401 challenge, so there is nothing to expose")
    for ex, header in wanted:
        exposed = _listed(ex, "Access-Control-Expose-Headers")
        if header not in exposed and "*" not in exposed:
            raise violation(
                f"a request with Origin: {ORIGIN}",
                f"Access-Control-Expose-Headers listing {header} on a response that carries it",
                ex,
                cause=f"{where(ex)} sends {header} to browser origins without exposing it",
                fix=f"list {header} in Access-Control-Expose-Headers on the responses that carry it (§7.1, §8)",
                exchanges=responses,
            )
    note("exposed: " + ", ".join(sorted({header for _, header in wanted})))
