"""A case's evidence as HTML: the curl command first, long JWTs folded with their header and claims decoded
beside them, the message once, and the full exchanges one click away.

Everything here is the target's text or derived from it: escaped with `html_text` (HTML and control
characters), and nothing is allowed to widen the page (the stylesheet wraps long words).
"""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.jose import b64url_decode
from conformance.printable import html_text

__all__ = ["case_evidence", "decoded_jwt", "folded"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_FOLD_AT = 48  # a JWT longer than this shows its first characters and its length
_DECODE_LIMIT = 16 * 1024  # a longer JWT is not decoded (the target's text, whatever its size)
_JWTS_DECODED = 3  # per case


def folded(text: str) -> str:
    """`text` escaped, with every JWT longer than a line shown as its beginning and its length."""
    out: list[str] = []
    last = 0
    for match in _JWT.finditer(text):
        token = match.group(0)
        out.append(html_text(text[last : match.start()]))
        if len(token) > _FOLD_AT:
            out.append(f'<span class="jwt" title="{len(token)} characters">{html_text(token[:20])}…</span>')
        else:
            out.append(html_text(token))
        last = match.end()
    out.append(html_text(text[last:]))
    return "".join(out)


def decoded_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and claims of a compact JWT, or None when it is not one (or too large to bother)."""
    if len(token) > _DECODE_LIMIT:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = (json.loads(b64url_decode(p)) for p in parts[:2])
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


def _json_block(value: dict[str, Any]) -> str:
    # one member a line, a nested value (the jwk) on its own: short enough to sit beside the other part
    members = (f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
    text = "{\n" + ",\n".join(members) + "\n}"
    return html_text(text if len(text) <= 4096 else text[:4096] + " …")


def _jwts_beside(curl: str) -> str:
    shown: list[str] = []
    for token in dict.fromkeys(m.group(0) for m in _JWT.finditer(curl)):
        decoded = decoded_jwt(token)
        if decoded is None:
            continue
        header, claims = decoded
        kind = "DPoP proof" if header.get("typ") == "dpop+jwt" else "JWT"
        shown.append(
            f'<div class="jwt-decoded"><div><b>{kind} header</b><pre>{_json_block(header)}</pre></div>'
            f"<div><b>claims</b><pre>{_json_block(claims)}</pre></div></div>"
        )
        if len(shown) == _JWTS_DECODED:
            break
    return "".join(shown)


def case_evidence(message: str, evidence: str) -> str:
    """The body of a case in report.html: curl first (folded, the whole command a click away, the JWTs in it
    decoded), then the rest of the message, then the requests and responses."""
    lines = message.splitlines()
    curl = next((line.removeprefix("Reproduce:").strip() for line in lines if line.startswith("Reproduce:")), "")
    rest = "\n".join(line for line in lines if not line.startswith("Reproduce:")).strip()
    parts: list[str] = []
    if curl:
        parts.append(
            f'<details class="curl"><summary><code>{folded(curl)}</code></summary>'
            f"<pre>{html_text(curl)}</pre></details>{_jwts_beside(curl)}"
        )
    if rest:
        parts.append(f'<pre class="message">{folded(rest)}</pre>')
    if evidence:
        parts.append(
            f'<details class="exchanges"><summary>requests and responses</summary><pre>{html_text(evidence)}</pre>'
            "</details>"
        )
    return "".join(parts)
