"""Browser clients (run with --profile browser): CORS readiness of the token endpoint and the resource.

A browser-based client can only send the DPoP header if the preflight allows it, and only read the
DPoP-Nonce and WWW-Authenticate response headers if the server exposes them (RFC 9449 §7.1, §8: they
"need to" be listed in Access-Control-Expose-Headers). No BCP 14 keyword: the cases record info, never
warn or fail (RFC 9449 says nothing of the preflight at all).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client.evidence import Exchange
from conformance.judge.catalog import case_param
from conformance.judge.checks import answer, prerequisite_failed, unanswered, violation, where
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level

ORIGIN = "https://app.dpop-conformance.example"


def _listed(exchange: Exchange, header: str) -> set[str]:
    return {v.strip().lower() for value in exchange.headers(header) for v in value.split(",") if v.strip()}


def _params(kind: str) -> list[Any]:
    params = []
    for actor in ("AS", "RS"):
        who = "token endpoint" if actor == "AS" else "resource"
        if kind == "preflight":
            title = f"The {who}'s CORS preflight allows the DPoP request header"
            doc = (
                f"Sends: an OPTIONS preflight to the {who} from the origin {ORIGIN}, asking for the request "
                "headers dpop and authorization (and content-type at the token endpoint).\nExpects: a 2xx answer "
                "whose Access-Control-Allow-Headers lists dpop (or *), so a browser may send the proof."
            )
        else:
            exposed = "DPoP-Nonce" if actor == "AS" else "WWW-Authenticate and DPoP-Nonce"
            title = f"The {who} exposes {exposed} to browser clients"
            doc = (
                f"Sends: a request to the {who} with Origin: {ORIGIN}"
                + ("" if actor == "AS" else ", without credentials and then with valid ones")
                + f".\nExpects: Access-Control-Expose-Headers listing {exposed} (or *) on the responses that "
                "carry them (a DPoP-Nonce only where the server sends nonces), so a browser client can read the "
                'nonce and the challenge: the server "needs to" expose them (§7.1, §8; no BCP 14 keyword, so '
                "info)."
            )
        params.append(
            case_param(
                f"browser-{actor.lower()}-{kind}",
                title,
                actor,
                section="7.1" if actor == "RS" else "8",
                level=Level.MAY,
                actor=actor,
                requirement="R-7.1-5",
                profile="browser",
                doc=doc,
            )
        )
    return params


def _url_and_method(dpop: DPoPSession, actor: str) -> tuple[str, str]:
    if actor == "AS":
        dpop.require_authorization_server()
        return dpop.token_endpoint, "POST"
    url, method, _ = dpop.require_resource()
    return url, method


@pytest.mark.parametrize("actor", _params("preflight"))
def test_preflight_allows_the_dpop_header(dpop: DPoPSession, note: Any, actor: str) -> None:
    url, method = _url_and_method(dpop, actor)
    asked = "dpop, authorization" + (", content-type" if actor == "AS" else "")
    ex = dpop.client.exchange(
        "CORS preflight",
        "OPTIONS",
        url,
        [("Origin", ORIGIN), ("Access-Control-Request-Method", method), ("Access-Control-Request-Headers", asked)],
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


@pytest.mark.parametrize("actor", _params("expose"))
def test_dpop_response_headers_are_exposed(dpop: DPoPSession, note: Any, actor: str) -> None:
    origin = [("Origin", ORIGIN)]
    if actor == "AS":
        sent = dpop.request_token(extra_headers=origin, label="token request from a browser origin")
        responses = sent.exchanges
    else:
        bound = dpop.bound_token()
        challenge = dpop.call_resource(
            bound.access_token,
            None,
            scheme="",
            extra_headers=origin,
            label="request without credentials from a browser origin",
        )
        sent = dpop.call_resource(
            bound.access_token, bound.key, extra_headers=origin, label="valid resource request from a browser origin"
        )
        responses = [*challenge.exchanges, *sent.exchanges]
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
        if actor == "AS" and not sent.final.ok:
            raise prerequisite_failed("a token request from a browser origin", sent)
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
