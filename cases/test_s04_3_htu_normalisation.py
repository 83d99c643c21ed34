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
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import expect_accepted
from conformance.judge.negatives import (
    accepted_at_as,
    accepted_at_rs,
    refused_at_as,
    refused_at_rs,
    sent_at_as,
    sent_at_rs,
)
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, Observation

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


def _variant_params(actor: str) -> list[Any]:
    who = "Token endpoint" if actor == "AS" else "Resource"
    request = "token request" if actor == "AS" else "resource request"
    return [
        case_param(
            f"{actor.lower()}-htu-{name}",
            f"{who} accepts an htu with {text}",
            name,
            section="4.3",
            level=Level.SHOULD,
            actor=actor,
            requirement="R-4.3-9",
            doc=f"Sends: a valid {request} whose proof's htu equals the request URI but for {text}.\nExpects: "
            "acceptance: servers SHOULD apply syntax-based and scheme-based normalisation (RFC 3986 §6.2.2 "
            "and §6.2.3) before comparing (§4.3 check 9); a refusal is a warning."
            + (" Skipped when the URI has a non-default port." if name == "default-port" else ""),
        )
        for name, (_, text) in VARIANTS.items()
    ]


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


@pytest.mark.parametrize("variant", _variant_params("AS"))
def test_token_endpoint_normalises_htu(dpop: DPoPSession, note: Any, variant: str) -> None:
    final = accepted_at_as(
        dpop,
        what=f"a token request whose htu has {VARIANTS[variant][1]}",
        rule=NORMALISATION_RULE,
        mutate=_rewrite(variant),
    )
    note(f"accepted with HTTP {final.status}")


@pytest.mark.parametrize("variant", _variant_params("RS"))
def test_resource_normalises_htu(dpop: DPoPSession, note: Any, variant: str) -> None:
    final = accepted_at_rs(
        dpop,
        what=f"a resource request whose htu has {VARIANTS[variant][1]}",
        rule=NORMALISATION_RULE,
        mutate=_rewrite(variant),
    )
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
    sent = sent_at_rs(dpop, label="resource request with a query; htu without it", url=with_query)
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


def _spoof_params(actor: str) -> list[Any]:
    who = "Token endpoint" if actor == "AS" else "Resource"
    request = "token request" if actor == "AS" else "resource request"
    return [
        case_param(
            f"{actor.lower()}-htu-{name}-spoof",
            f"{who} refuses an htu naming a host given only in {text}",
            name,
            section="4.3",
            level=Level.MUST,
            actor=actor,
            requirement="R-4.3-9",
            doc=f"Sends: a {request}, straight to the server, with {text} naming {SPOOF_HOST} and a proof whose "
            f"htu names {SPOOF_HOST} (everything else valid).\nExpects: a refusal: the request URI is the one "
            "the client used, not one its own forwarding headers claim (§4.3 check 9). A server that builds its "
            "URI from these headers without a trusted proxy in front accepts proofs made for another host. Skipped "
            f"when the same htu passes without the headers too (the host is not compared at all: "
            f"{actor.lower()}-proof-htu-other-host judges that).",
        )
        for name, text in SPOOFS.items()
    ]


#: the case that judges an htu naming another host, sent without any header that names it
OTHER_HOST_CASE = {"AS": "as-proof-htu-other-host", "RS": "rs-proof-htu-other-host"}


def _skip_when_no_host_is_compared(dpop: DPoPSession, actor: str, mutate: Callable[[ProofDraft], str]) -> None:
    """The control of the spoofing cases: the same htu sent without the header that names its host. A server that
    accepts it compares no host at all (its own case judges that); whether it trusts the header cannot be told."""
    what = f"the same htu naming {SPOOF_HOST}, without a header naming that host (control)"
    sent = sent_at_as(dpop, label=what, mutate=mutate) if actor == "AS" else sent_at_rs(dpop, label=what, mutate=mutate)
    if sent.final.ok:
        pytest.skip(
            f"an htu naming {SPOOF_HOST} is accepted without any header naming that host too (HTTP "
            f"{sent.final.status}): the host is not compared at all, judged by {OTHER_HOST_CASE[actor]}; whether "
            "the server trusts the header cannot be told"
        )


@pytest.mark.parametrize("kind", _spoof_params("AS"))
def test_token_endpoint_ignores_forwarded_headers_from_the_client(dpop: DPoPSession, note: Any, kind: str) -> None:
    dpop.require_authorization_server()
    _skip_when_no_host_is_compared(dpop, "AS", _spoofed_htu)
    headers = _spoof_headers(kind, dpop.token_endpoint)
    final = refused_at_as(
        dpop,
        what=f"a token request with {SPOOFS[kind]} and an htu naming {SPOOF_HOST}",
        rule=SPOOF_RULE,
        mutate=_spoofed_htu,
        extra_headers=headers,
    )
    note(f"refused with HTTP {final.status}")


@pytest.mark.parametrize("kind", _spoof_params("RS"))
def test_resource_ignores_forwarded_headers_from_the_client(dpop: DPoPSession, note: Any, kind: str) -> None:
    url, _, _ = dpop.require_resource()
    _skip_when_no_host_is_compared(dpop, "RS", _spoofed_htu)
    final = refused_at_rs(
        dpop,
        what=f"a resource request with {SPOOFS[kind]} and an htu naming {SPOOF_HOST}",
        rule=SPOOF_RULE,
        mutate=_spoofed_htu,
        extra_headers=_spoof_headers(kind, url),
    )
    note(f"refused with HTTP {final.status}")


# --- the Host header ------------------------------------------------------------------------------------


def _host_params(actor: str) -> list[Any]:
    who = "Token endpoint" if actor == "AS" else "Resource"
    request = "token request" if actor == "AS" else "resource request"
    return [
        case_param(
            f"{actor.lower()}-htu-host-spoof",
            f"{who} refuses an htu naming the host the request's Host header names instead of its own",
            actor,
            section="4.3",
            level=Level.MAY,
            actor=actor,
            requirement="R-4.3-9",
            doc=f"Sends: a {request}, straight to the server, with `Host: {SPOOF_HOST}` and a proof whose htu names "
            f"{SPOOF_HOST} (everything else valid), between valid requests.\nExpects: a refusal. HTTP builds a "
            "request's target URI from its Host header (RFC 9110 §7.2), so a server that takes its own URI from "
            "it compares htu with what the client claims; that a proof made for another host then passes is a "
            "deployment choice the RFC does not rule on: recorded as info, with its fix (configure the server's "
            "public URL and compare htu with it).",
        )
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


@pytest.mark.parametrize("actor", _host_params("AS"))
def test_token_endpoint_ignores_a_host_header_naming_another_host(dpop: DPoPSession, note: Any, actor: str) -> None:
    dpop.require_authorization_server()
    url = dpop.token_endpoint
    _skip_when_no_host_is_compared(dpop, "AS", _host_htu(url))
    what = f"a token request with Host: {SPOOF_HOST} and an htu naming it"
    sent = sent_at_as(dpop, label=what, mutate=_host_htu(url), extra_headers=_host_header(url))
    _judge_host_spoof(sent, what, note)


@pytest.mark.parametrize("actor", _host_params("RS"))
def test_resource_ignores_a_host_header_naming_another_host(dpop: DPoPSession, note: Any, actor: str) -> None:
    url, _, _ = dpop.require_resource()
    _skip_when_no_host_is_compared(dpop, "RS", _host_htu(url))
    what = f"a resource request with Host: {SPOOF_HOST} and an htu naming it"
    sent = sent_at_rs(dpop, label=what, mutate=_host_htu(url), extra_headers=_host_header(url))
    _judge_host_spoof(sent, what, note)
