"""RFC 9449 §4.3 checks 9, 10 and 12: `htu`, `nonce` and `ath` are compared whole and exactly.

The fixed cases of test_s04_3_checking_proofs.py send a value that is wrong all through (another token's
hash, a nonce never issued, another path). The bugs real servers have are subtler: a prefix comparison
(`startswith`, the first 20 characters), a case-insensitive one, a check of a nonce's form and age but not
of its MAC. Each case here sends the near misses of the right value, one per request, between controls:
the first, a middle and the last character changed, the last one dropped, one appended, the case swapped
(conformance.judge.near_misses), and for `htu` the origin alone and another endpoint of the same server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from conformance.client.proof import ProofDraft
from conformance.client.uri import equivalent
from conformance.jose import b64url_encode
from conformance.judge import nonces
from conformance.judge.catalog import case
from conformance.judge.endpoints import PAR, RESOURCE, TOKEN, Endpoint
from conformance.judge.exactness import Variant, judge_variants
from conformance.judge.near_misses import NearMiss, near_misses
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level, NotApplicable

F = TypeVar("F", bound=Callable[..., Any])


def _documented(doc: str) -> Callable[[F], F]:
    """Give a case function its Sends / Expects text (shared by the AS and the RS case of a pair)."""

    def decorate(fn: F) -> F:
        fn.__doc__ = doc
        return fn

    return decorate


# --- ath ---------------------------------------------------------------------------------------------------


@case(
    "rs-ath-exact",
    "Resource refuses an ath that differs from the token's hash in one position or in case",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-12a",
)
def test_resource_refuses_every_near_miss_of_ath(dpop: DPoPSession, note: Any) -> None:
    """Sends: resource requests whose proofs are valid but for ath, the token's hash with its first, a middle or
    its last character changed, its last character dropped, one appended, or its letters' case swapped, one
    variant per request between controls.
    Expects: a refusal of each: check 12 needs "the value of the ath claim equals the hash of that access
    token", and base64url is case-sensitive, so each variant is the hash of no token the RS issued.
    """
    bound = dpop.bound_token()
    ath = b64url_encode(hashlib.sha256(bound.access_token.encode("ascii")).digest())
    variants = [Variant(miss.name, miss.value) for miss in near_misses(ath)]
    judge_variants(
        dpop,
        RESOURCE,
        claim="ath",
        what="a resource request",
        rule="§4.3 check 12: ath equals the hash of the access token",
        variants=variants,
        note=note,
    )


# --- nonce -------------------------------------------------------------------------------------------------

NONCE_LEVEL = {
    # a server whose nonces are hexadecimal may rightly read them without regard to case: the same nonce
    "letters in the other case": Level.SHOULD,
}


def _nonce_variants(nonce: str) -> list[NearMiss]:
    # the middle character changed is what *-nonce-one-char-changed sends already
    return [miss for miss in near_misses(nonce) if miss.name != "middle character changed"]


def _judge_nonce(dpop: DPoPSession, endpoint: Endpoint, note: Any) -> None:
    nonces.first_request_without_nonce(dpop, endpoint)  # skips where the server demands no nonce
    url = endpoint.url(dpop)
    known = endpoint.known_nonce(dpop)
    if not known:
        raise CouldNotJudge(
            "the server's nonce challenge left no nonce to vary",
            cause=f"the use_dpop_nonce challenge of {url} carries no DPoP-Nonce",
            fix="send the nonce in a DPoP-Nonce header field with every use_dpop_nonce challenge (§8, §9)",
        )
    variants = [Variant(m.name, m.value, NONCE_LEVEL.get(m.name, Level.MUST)) for m in _nonce_variants(known)]

    def current(draft: ProofDraft, variant: Variant) -> str:
        # a server may rotate its nonce between requests: vary the one this proof carries
        value = draft.claims.get("nonce")
        if not isinstance(value, str):
            return variant.value
        by_name = {miss.name: miss.value for miss in _nonce_variants(value)}
        return by_name.get(variant.name, variant.value)

    judge_variants(
        dpop,
        endpoint,
        claim="nonce",
        what=f"a {endpoint.noun}",
        rule="§4.3 check 10 and §8: the nonce exactly matches the one the server provided",
        variants=variants,
        current=current,
        note=note,
    )


_NONCE_DOC = """Sends: {request}s whose proofs carry the {server}'s current nonce with its first or its last
    character changed, its last character dropped, one character appended, or its letters' case swapped,
    one variant per request between controls (the middle character changed is *-nonce-one-char-changed).
    Expects: a refusal of each: "the nonce claim matches the server-provided nonce value" (check 10; §8:
    "does not exactly match", MUST reject). The case swapped is a warning only: a server whose nonces are
    hexadecimal may read them without regard to case. Skipped where the {server} demands no nonce.
    """


@case(
    "as-nonce-exact",
    "Authorization server refuses every near miss of its nonce",
    section="8",
    actor="AS",
    requirement="R-8-4",
    fault="nonce-wrong",
)
@_documented(_NONCE_DOC.format(request="token request", server="authorization server"))
def test_authorization_server_refuses_every_near_miss_of_its_nonce(dpop: DPoPSession, note: Any) -> None:
    _judge_nonce(dpop, TOKEN, note)


@case(
    "rs-nonce-exact",
    "Resource refuses every near miss of its nonce",
    section="9",
    actor="RS",
    requirement="R-8-4",
    fault="nonce-wrong",
)
@_documented(_NONCE_DOC.format(request="resource request", server="resource"))
def test_resource_refuses_every_near_miss_of_its_nonce(dpop: DPoPSession, note: Any) -> None:
    _judge_nonce(dpop, RESOURCE, note)


# --- htu ---------------------------------------------------------------------------------------------------


def _path_changed(url: str, how: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if how == "last path character dropped":
        path = path[:-1]
    elif how == "a character appended to the path":
        path = path + "x"
    else:  # a character in the middle of the path changed
        middle = len(path) // 2
        path = path[:middle] + ("x" if path[middle] != "x" else "y") + path[middle + 1 :]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def htu_variants(url: str, other_endpoint: str | None) -> list[Variant]:
    """The near misses of an htu: another endpoint of the server, the origin alone, the path changed at its
    end, in its middle, or extended; each one that some normalisation a server may apply makes equal to
    `url` is left out (it would be no miss at all)."""
    parts = urlsplit(url)
    found = []
    if other_endpoint:
        found.append(Variant("another endpoint's URL", other_endpoint))
    found.append(Variant("the origin alone", urlunsplit((parts.scheme, parts.netloc, "/", "", ""))))
    for how in ("last path character dropped", "a character appended to the path", "middle path character changed"):
        found.append(Variant(how, _path_changed(url, how)))
    unique: dict[str, Variant] = {}
    for variant in found:
        if not equivalent(variant.value, url):
            unique.setdefault(variant.value, variant)
    return list(unique.values())


_HTU_DOC = """Sends: {request}s whose proofs are valid but for htu: the URL of {other}, the origin
    alone, the {endpoint} URL with the last character of its path dropped, one character appended, or its
    middle character changed, one variant per request between controls (a variant some URI
    normalisation makes equal to the URL is not sent).
    Expects: a refusal of each: "the htu claim matches the HTTP URI value for the HTTP request in which
    the JWT was received, ignoring any query and fragment parts" (check 9); a prefix comparison lets the
    shorter ones through.
    """


def _url_if_any(dpop: DPoPSession, endpoint: Endpoint) -> str | None:
    """The endpoint's URL, or None where the target has no such endpoint."""
    try:
        endpoint.require(dpop)
    except NotApplicable:
        return None
    return endpoint.url(dpop)


def _judge_htu(dpop: DPoPSession, endpoint: Endpoint, other_endpoint: Endpoint, note: Any) -> None:
    """Every near miss of the endpoint's URL, `other_endpoint`'s URL among them (where the target has one)."""
    endpoint.require(dpop)
    url = endpoint.url(dpop)
    other = _url_if_any(dpop, other_endpoint)
    if other and equivalent(other, url):
        other = None
    variants = htu_variants(url, other)
    if not variants:
        pytest.skip("no near miss of this URL differs from it under every normalisation")
    judge_variants(
        dpop,
        endpoint,
        claim="htu",
        what=f"a {endpoint.noun}",
        rule="§4.3 check 9: htu matches the URI of the request, ignoring its query and fragment",
        variants=variants,
        note=note,
    )


@case(
    "as-htu-exact",
    "Token endpoint refuses an htu naming another endpoint, or its own URL cut or extended",
    section="4.3",
    actor="AS",
    fault="htu-mismatch",
)
@_documented(_HTU_DOC.format(request="token request", other="the resource", endpoint="token endpoint"))
def test_token_endpoint_refuses_every_near_miss_of_its_url(dpop: DPoPSession, note: Any) -> None:
    _judge_htu(dpop, TOKEN, RESOURCE, note)


@case(
    "rs-htu-exact",
    "Resource refuses an htu naming another endpoint, or its own URL cut or extended",
    section="4.3",
    actor="RS",
    fault="htu-mismatch",
)
@_documented(_HTU_DOC.format(request="resource request", other="the token endpoint", endpoint="resource"))
def test_resource_refuses_every_near_miss_of_its_url(dpop: DPoPSession, note: Any) -> None:
    _judge_htu(dpop, RESOURCE, TOKEN, note)


@case(
    "par-htu-exact",
    "PAR endpoint refuses an htu naming another endpoint, or its own URL cut or extended",
    section="4.3",
    actor="AS",
    fault="htu-mismatch",
)
@_documented(
    _HTU_DOC.format(request="pushed authorization request", other="the token endpoint", endpoint="PAR endpoint")
    + "Skipped without a [public_client] or a PAR endpoint.\n"
)
def test_par_endpoint_refuses_every_near_miss_of_its_url(dpop: DPoPSession, note: Any) -> None:
    _judge_htu(dpop, PAR, TOKEN, note)
