"""Where credentials may go: the configured issuer's origin, and the origins the target file allows.

A target's metadata is the target's own word, and the target is untrusted. Its `issuer` must be the one
the target file names (RFC 8414 §3.3), and an endpoint it names on another origin receives nothing (no
client secret, assertion, token, code or cookie) unless `[authorization_server] allowed_origins` lists
that origin. The session (what is used) and the plan (what `check` and the run print) both ask here.
"""

from __future__ import annotations

from typing import Any

from conformance.client.transport import origin_of

__all__ = ["ENDPOINT_NAMES", "foreign", "foreign_endpoints", "issuer_mismatch"]

#: the metadata members that name endpoints the suite sends credentials to
ENDPOINT_NAMES = (
    "token_endpoint",
    "authorization_endpoint",
    "introspection_endpoint",
    "pushed_authorization_request_endpoint",
)


def _shown(value: object) -> str:
    text = repr(value)  # the target's text: escaped, and short
    return text if len(text) <= 120 else text[:117] + "..."


def issuer_mismatch(issuer: str, metadata: dict[str, Any]) -> str | None:
    """Why metadata fetched for `issuer` must not be used, when it names another issuer; else None."""
    named = metadata.get("issuer")
    if named == issuer:
        return None
    return (
        f"the metadata's issuer is {_shown(named)}, not {issuer} (RFC 8414 §3.3: they must be identical), so "
        "none of its endpoints is used"
    )


def foreign(url: str, issuer: str, allowed: tuple[str, ...] = ()) -> bool:
    """True for a URL on another origin than the issuer's and than the allowed ones."""
    return origin_of(url) not in {origin_of(issuer), *allowed}


def foreign_endpoints(metadata: dict[str, Any], issuer: str, allowed: tuple[str, ...] = ()) -> dict[str, str]:
    """The endpoints the metadata names on an origin that may receive no credential: name -> URL."""
    return {
        name: url
        for name in ENDPOINT_NAMES
        if isinstance(url := metadata.get(name), str) and foreign(url, issuer, allowed)
    }
