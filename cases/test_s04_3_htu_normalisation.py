"""RFC 9449 §4.3 check 9, in depth: which htu values must, should and must not match the request URI.

- The query is ignored (MUST): a request with a query and an htu without it is accepted.
- Syntax- and scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3) SHOULD be applied before comparing:
  an htu that differs only in case of scheme and host, an explicit default port, a percent-encoded
  unreserved character or a dot segment should be accepted (a warning if not).
- A host named only in X-Forwarded-Host or Forwarded request headers, which the client itself sent, is
  not the request URI (a real-world failure class: servers behind proxies that trust these headers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import expect_accepted
from conformance.judge.endpoints import RESOURCE, TOKEN, Endpoint, endpoint_of_case
from conformance.judge.negatives import accepted, between_controls, refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, NotApplicable, Observation

DEFAULT_PORTS = {"http": 80, "https": 443}


def upper_case_scheme_and_host(htu: str) -> str | None:
    parts = urlsplit(htu)
    return urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path, "", ""))


def explicit_default_port(htu: str) -> str | None:
    parts = urlsplit(htu)
    if parts.port is not None:
        return None  # the server listens on another port: there is no default port to spell out
    return urlunsplit((parts.scheme, f"{parts.netloc}:{DEFAULT_PORTS[parts.scheme]}", parts.path, "", ""))


def percent_encoded_unreserved(htu: str) -> str | None:
    parts = urlsplit(htu)
    for i, char in enumerate(parts.path):
        if char.isalpha():
            path = f"{parts.path[:i]}%{ord(char):02X}{parts.path[i + 1 :]}"
            return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return None


def dot_segment(htu: str) -> str | None:
    parts = urlsplit(htu)
    head, _, last = parts.path.rpartition("/")
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/dpop-conformance/../{last}", "", ""))


VARIANTS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "uppercase-scheme-host": (upper_case_scheme_and_host, "scheme and host in upper case"),
    "default-port": (explicit_default_port, "the default port written out"),
    "percent-encoded": (percent_encoded_unreserved, "a path letter percent-encoded (%XX of an unreserved character)"),
    "dot-segment": (dot_segment, "a dot segment (dir/../) in the path"),
}


#: each normalisation case, in the order they run: its id and its variant
VARIANT_CASES = [
    ("as-htu-uppercase-scheme-host", "uppercase-scheme-host"),
    ("as-htu-default-port", "default-port"),
    ("as-htu-percent-encoded", "percent-encoded"),
    ("as-htu-dot-segment", "dot-segment"),
    ("rs-htu-uppercase-scheme-host", "uppercase-scheme-host"),
    ("rs-htu-default-port", "default-port"),
    ("rs-htu-percent-encoded", "percent-encoded"),
    ("rs-htu-dot-segment", "dot-segment"),
]


def _variant_params() -> list[Any]:
    params = []
    for case_id, name in VARIANT_CASES:
        endpoint, text = endpoint_of_case(case_id), VARIANTS[name][1]
        params.append(
            case_param(
                case_id,
                f"{endpoint.who} accepts an htu with {text}",
                endpoint,
                name,
                section="4.3",
                level=Level.SHOULD,
                actor=endpoint.actor,
                requirement="R-4.3-9",
                doc=f"Sends: a valid {endpoint.noun} whose proof's htu equals the request URI but for {text}.\n"
                "Expects: acceptance: servers SHOULD apply syntax-based and scheme-based normalisation (RFC 3986 "
                "§6.2.2 and §6.2.3) before comparing (§4.3 check 9); a refusal is a warning."
                + (" Skipped when the URI has a non-default port." if name == "default-port" else ""),
            )
        )
    return params


def _rewrite(variant: str) -> Callable[[ProofDraft], str]:
    make, _ = VARIANTS[variant]

    def rewrite(draft: ProofDraft) -> str:
        htu = make(str(draft.claims["htu"]))
        if htu is None:
            pytest.skip("the URI has a non-default port, so there is no default port to write out")
        return draft.with_claims(htu=htu).sign()

    return rewrite


#: why an htu that differs only by a normalisation is accepted (the fix of a refusal)
NORMALISATION_RULE = "§4.3 check 9: normalise both URIs (RFC 3986 §6.2.2 and §6.2.3) before comparing"


@pytest.mark.parametrize(("endpoint", "variant"), _variant_params())
def test_normalises_htu(dpop: DPoPSession, note: Any, endpoint: Endpoint, variant: str) -> None:
    request = Request(label=f"a {endpoint.noun} whose htu has {VARIANTS[variant][1]}", mutate=_rewrite(variant))
    final = accepted(dpop, endpoint, request, rule=NORMALISATION_RULE)
    note(f"accepted with HTTP {final.status}")


@case(
    "rs-htu-query-ignored",
    "Resource ignores the request's query when comparing htu",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-9",
)
def test_resource_ignores_the_query(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with a query added (?dpop-conformance=1) and a proof whose htu is the
    URI without it (as §4.2 tells clients to build htu).
    Expects: a 2xx answer: htu is compared "ignoring any query and fragment parts" (§4.3 check 9).
    """
    url, _, _ = dpop.require_resource()
    with_query = f"{url}{'&' if '?' in url else '?'}dpop-conformance=1"
    sent = between_controls(
        dpop, RESOURCE, Request(label="resource request with a query; htu without it", url=with_query)
    )
    expect_accepted(
        sent,
        what="a resource request with a query and a proof whose htu leaves the query out",
        rule="§4.3 check 9: htu is compared ignoring the request's query and fragment",
    )
    note(f"accepted with HTTP {sent.final.status}")


# --- forwarded-header spoofing ----------------------------------------------------------------------------

SPOOF_HOST = "attacker.example"


def _spoofed_htu(draft: ProofDraft) -> str:
    parts = urlsplit(str(draft.claims["htu"]))
    return draft.with_claims(htu=urlunsplit((parts.scheme, SPOOF_HOST, parts.path, "", ""))).sign()


def _spoof_headers(kind: str, url: str) -> list[tuple[str, str]]:
    scheme = urlsplit(url).scheme
    if kind == "x-forwarded":
        return [("X-Forwarded-Host", SPOOF_HOST), ("X-Forwarded-Proto", scheme)]
    return [("Forwarded", f"host={SPOOF_HOST};proto={scheme}")]


SPOOFS = {"x-forwarded": "X-Forwarded-Host and X-Forwarded-Proto", "forwarded": "a Forwarded header (RFC 7239)"}
#: what a proof made for a host named only in the client's own forwarding headers breaks
SPOOF_RULE = (
    "§4.3 check 9: htu matches the URI the client used; trust forwarding headers only from your own proxy, or "
    "configure the public URL"
)


#: each spoofing case, in the order they run: its id and the forwarding headers it sends
SPOOF_CASES = [
    ("as-htu-x-forwarded-spoof", "x-forwarded"),
    ("as-htu-forwarded-spoof", "forwarded"),
    ("rs-htu-x-forwarded-spoof", "x-forwarded"),
    ("rs-htu-forwarded-spoof", "forwarded"),
]


def _spoof_params() -> list[Any]:
    params = []
    for case_id, name in SPOOF_CASES:
        endpoint, text = endpoint_of_case(case_id), SPOOFS[name]
        params.append(
            case_param(
                case_id,
                f"{endpoint.who} refuses an htu naming a host given only in {text}",
                endpoint,
                name,
                section="4.3",
                level=Level.MUST,
                actor=endpoint.actor,
                requirement="R-4.3-9",
                doc=f"Sends: a {endpoint.noun}, straight to the server, with {text} naming {SPOOF_HOST} and a proof "
                f"whose htu names {SPOOF_HOST} (everything else valid).\nExpects: a refusal: the request URI is the "
                "one the client used, not one its own forwarding headers claim (§4.3 check 9). A server that builds "
                "its URI from these headers without a trusted proxy in front accepts proofs made for another host. "
                f"Skipped when the same htu passes without the headers too (the host is not compared at all: "
                f"{endpoint.prefix}-proof-htu-other-host judges that).",
            )
        )
    return params


def _skip_when_no_host_is_compared(dpop: DPoPSession, endpoint: Endpoint, mutate: Callable[[ProofDraft], str]) -> None:
    """The control of the spoofing cases: the same htu sent without the header that names its host. A server that
    accepts it compares no host at all (its own case judges that); whether it trusts the header cannot be told."""
    what = f"the same htu naming {SPOOF_HOST}, without a header naming that host (control)"
    sent = between_controls(dpop, endpoint, Request(label=what, mutate=mutate))
    if sent.final.ok:
        raise NotApplicable(
            f"an htu naming {SPOOF_HOST} is accepted without any header naming that host too (HTTP "
            f"{sent.final.status}): the host is not compared at all, judged by {endpoint.prefix}-proof-htu-other-host; "
            "whether the server trusts the header cannot be told"
        )


@pytest.mark.parametrize(("endpoint", "kind"), _spoof_params())
def test_ignores_forwarded_headers_from_the_client(dpop: DPoPSession, note: Any, endpoint: Endpoint, kind: str) -> None:
    endpoint.require(dpop)
    _skip_when_no_host_is_compared(dpop, endpoint, _spoofed_htu)
    what = f"a {endpoint.noun} with {SPOOFS[kind]} and an htu naming {SPOOF_HOST}"
    headers = tuple(_spoof_headers(kind, endpoint.url(dpop)))
    final = refused(dpop, endpoint, Request(label=what, mutate=_spoofed_htu, extra_headers=headers), rule=SPOOF_RULE)
    note(f"refused with HTTP {final.status}")


# --- the Host header ------------------------------------------------------------------------------------


def _host_params() -> list[Any]:
    return [
        case_param(
            case_id,
            f"{endpoint.who} refuses an htu naming the host the request's Host header names instead of its own",
            endpoint,
            section="4.3",
            level=Level.MAY,
            actor=endpoint.actor,
            requirement="R-4.3-9",
            doc=f"Sends: a {endpoint.noun}, straight to the server, with `Host: {SPOOF_HOST}` and a proof whose htu "
            f"names {SPOOF_HOST} (everything else valid), between valid requests.\nExpects: a refusal. HTTP builds a "
            "request's target URI from its Host header (RFC 9110 §7.2), so a server that takes its own URI from "
            "it compares htu with what the client claims; that a proof made for another host then passes is a "
            "deployment choice the RFC does not rule on: recorded as info, with its fix (configure the server's "
            "public URL and compare htu with it).",
        )
        for case_id, endpoint in (("as-htu-host-spoof", TOKEN), ("rs-htu-host-spoof", RESOURCE))
    ]


def _host_header(url: str) -> list[tuple[str, str]]:
    port = urlsplit(url).port
    return [("Host", f"{SPOOF_HOST}:{port}" if port else SPOOF_HOST)]


def _host_htu(url: str) -> Callable[[ProofDraft], str]:
    def rewrite(draft: ProofDraft) -> str:
        parts = urlsplit(str(draft.claims["htu"]))
        host = _host_header(url)[0][1]
        return draft.with_claims(htu=urlunsplit((parts.scheme, host, parts.path, "", ""))).sign()

    return rewrite


def _judge_host_spoof(sent: Any, what: str, note: Any) -> None:
    final = sent.final
    if final.ok:
        raise Observation(
            f"{what}: accepted (HTTP {final.status}). The server builds the URI it compares htu with from the "
            f"request's Host header: a proof made for {SPOOF_HOST} (another server's) passes here when sent with "
            "that Host. Configure the server's public URL and compare htu with it, not with the Host the client sent."
        )
    note(f"refused with HTTP {final.status}")


@pytest.mark.parametrize("endpoint", _host_params())
def test_ignores_a_host_header_naming_another_host(dpop: DPoPSession, note: Any, endpoint: Endpoint) -> None:
    endpoint.require(dpop)
    url = endpoint.url(dpop)
    _skip_when_no_host_is_compared(dpop, endpoint, _host_htu(url))
    what = f"a {endpoint.noun} with Host: {SPOOF_HOST} and an htu naming it"
    request = Request(label=what, mutate=_host_htu(url), extra_headers=tuple(_host_header(url)))
    _judge_host_spoof(between_controls(dpop, endpoint, request), what, note)
