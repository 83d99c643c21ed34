"""Small HTTP helpers shared by the AS and RS endpoints: form parsing, OAuth error bodies, quoting."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

__all__ = [
    "MAX_FORM_BYTES",
    "NO_STORE",
    "FormError",
    "auth_param",
    "clean_description",
    "internal_error",
    "oauth_error",
    "read_form",
    "unsendable",
]

# Token and introspection requests are tiny; the cap keeps a hostile body from exhausting memory.
MAX_FORM_BYTES = 64 * 1024

# RFC 6749 §5.1: token responses (and, here, every AS error) must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class FormError(ValueError):
    """The request body is not an acceptable application/x-www-form-urlencoded form."""


def clean_description(text: str) -> str:
    """Restrict an error_description to the characters RFC 6749 §5.2 allows.

    Descriptions can echo client input (an alg name, say); dropping quotes and backslashes also keeps
    them safe inside a WWW-Authenticate quoted-string.
    """
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)[:200]


def auth_param(name: str, value: str) -> str:
    """One `name="value"` auth-param of a WWW-Authenticate challenge (RFC 9110 §11.2)."""
    return f'{name}="{clean_description(value)}"'


def oauth_error(
    error: str,
    description: str,
    status: int = 400,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 6749 §5.2 error response; always uncacheable."""
    body = {"error": error, "error_description": clean_description(description)}
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def unsendable(description: str, defects: frozenset[str]) -> bool:
    """`odd-values-500`: an error description the server would copy into a header unescaped, which HTTP cannot
    carry (a character outside Latin-1): the framework then fails to send the answer, and the client gets a 500."""
    if "odd-values-500" not in defects:
        return False
    try:
        description.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


def internal_error() -> Response:
    """The bare 500 a crashing server would send (used only by the `malformed-500` defect)."""
    return PlainTextResponse("Internal Server Error", status_code=500)


async def read_form(request: Request) -> dict[str, str]:
    """Parse a urlencoded request body strictly.

    Empty parameters count as omitted and repeated parameters are an error (RFC 6749 §3.1).
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormError("the request body must be application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise FormError("the request body is too large")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=100)
    except ValueError as exc:  # UnicodeDecodeError, or too many fields
        raise FormError("the request body is not a valid UTF-8 form") from exc
    form: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise FormError(f"parameter {name} is repeated")
        seen.add(name)
        if value:
            form[name] = value
    return form
