"""Evidence: every HTTP exchange the suite makes, recorded, redacted and rendered.

Secrets (client secrets, private keys, access and refresh tokens, authorization codes, client
assertions) are registered with a `Redactor` as soon as the suite sees them, and every piece of text
that leaves the process (report, log, failure message, curl command) passes through `Redactor.redact`.
Redaction happens at render time, so a token learnt after an exchange was recorded is still hidden.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from conformance.jose import JOSEError, decode_jws

try:  # a C extension with wheels for the usual platforms; without it, one search per secret (slower, as correct)
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - the fallback is tested by replacing the module with None
    _ahocorasick = None

__all__ = [
    "CASE_EVIDENCE",
    "RUN_EVIDENCE",
    "Exchange",
    "Redactor",
    "mask_secret_members",
    "render_exchanges",
    "shortened",
]

_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words
# Evidence kept in reports and messages, whatever the target sends (judging reads the whole capped body)
BODY_SHOWN = 4096  # characters of each body
HEADER_SHOWN = 1024  # characters of each header value
HEADERS_SHOWN = 60  # header lines of each message
CASE_EVIDENCE = 256 * 1024  # characters of evidence per case
RUN_EVIDENCE = 16 * 2**20  # characters of evidence in report.html, all cases together
# Values the target handed out (tokens, codes, cookies) are the target's choice: a server that sets a cookie
# "Expected" or "HTTP 200" must not blank those words across the report. Credentials it issues are long
# and never contain white space; at most so many are kept (2,500 cookies an answer cost minutes before).
_MIN_LEARNED_LENGTH = 16
_MAX_LEARNED = 2000
_CHALLENGE_ERROR = re.compile(r'\berror="?([^",\s]+)')


# the value runs to its closing quote, or to the end of a body that was cut short before it
_SECRET_MEMBER = re.compile(
    r'"(access_token|refresh_token|id_token|client_secret|client_assertion|code|code_verifier)"(\s*:\s*)"[^"]*("|$)'
)


def shortened(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with how much was left out; secret JSON members masked first."""
    if len(text) <= limit:
        return text
    return mask_secret_members(text[:limit]) + f" …(cut: {len(text) - limit} more characters)"


def mask_secret_members(text: str) -> str:
    """Replace the values of JSON members that hold credentials, by name.

    For text about to be cut short: a cut token no longer matches the registered secret, so the
    redactor would miss its prefix.
    """
    return _SECRET_MEMBER.sub(lambda m: f'"{m.group(1)}"{m.group(2)}"<redacted:{m.group(1)}>{m.group(3)}', text)


class Redactor:
    """Replaces every registered secret, in every encoding the suite sends it in, by a placeholder.

    One pass over the text, however many secrets there are: an Aho-Corasick automaton (pyahocorasick, in C)
    finds every secret of 16 characters or more by its last 16 characters (its anchor), and each hit is
    confirmed where it ends. Anchoring on the end matters: every JWT begins alike (`eyJ`), their signatures
    do not; and a short anchor keeps rebuilding the automaton cheap. The few shorter secrets (the suite's
    own, 6 to 15 characters) and those added since the automaton was last built are searched for directly.
    Measured (benchmarks/redaction.py): 0.06 ms for 10 KB whether 10 or 2,000 secrets are known, where one
    search per secret took 4.6 ms at 2,000; a compiled regular expression (sre) was slower than either.
    """

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # every registered form -> its placeholder
        self._by_anchor: dict[str, list[tuple[str, str]]] = {}  # the forms in the automaton, by anchor
        self._automaton: Any = None
        self._direct: list[tuple[str, str]] = []  # short forms, and long ones not yet in the automaton
        self._pending = 0  # long forms among _direct
        self._learned = 0
        self._lock = threading.Lock()

    def add(self, value: str | None, label: str, *, learned: bool = False) -> None:
        """Register a secret; its URL-encoded forms are registered too.

        `learned`: a value the target issued (token, code, cookie), kept only when it looks like a credential
        (16 characters or more, no white space) and while fewer than 2,000 are kept.
        """
        if not value or len(value) < _MIN_SECRET_LENGTH or value in self._secrets:
            return  # (the same client credentials come with every request: no need to encode them again)
        if learned and (len(value) < _MIN_LEARNED_LENGTH or any(c.isspace() for c in value)):
            return
        placeholder = f"<redacted:{label}>"
        with self._lock:
            if learned:
                if self._learned >= _MAX_LEARNED:
                    return
                self._learned += 1
            for form in {value, quote_plus(value), quote(value, safe="")}:
                if form not in self._secrets:
                    self._secrets[form] = placeholder
                    self._direct.append((form, placeholder))
                    self._pending += len(form) >= _ANCHOR

    def _searchers(self) -> tuple[Any, dict[str, list[tuple[str, str]]], list[tuple[str, str]]]:
        """The automaton (rebuilt once enough forms wait for it), its forms by anchor, the forms to search."""
        with self._lock:
            if _ahocorasick is not None and self._pending > (_REBUILD_AFTER if self._automaton else 0):
                for form, placeholder in self._direct:
                    if len(form) >= _ANCHOR:
                        self._by_anchor.setdefault(form[-_ANCHOR:], []).append((form, placeholder))
                self._direct = [(f, p) for f, p in self._direct if len(f) < _ANCHOR]
                self._pending = 0
                automaton = _ahocorasick.Automaton()
                for anchor in self._by_anchor:
                    automaton.add_word(anchor, anchor)
                automaton.make_automaton()
                self._automaton = automaton  # a new object: a redact() in another thread keeps the old one
            return self._automaton, self._by_anchor, list(self._direct)

    def redact(self, text: str) -> str:
        """Return `text` with every registered secret replaced; of two that overlap, the longer wins."""
        automaton, by_anchor, direct = self._searchers()
        spans: list[tuple[int, int, str]] = []
        if automaton is not None and text:
            for last, anchor in automaton.iter(text):
                end = last + 1
                for form, placeholder in by_anchor[anchor]:
                    start = end - len(form)
                    if start >= 0 and text.startswith(form, start):
                        spans.append((start, end, placeholder))
        for form, placeholder in direct:
            at = text.find(form)
            while at != -1:
                spans.append((at, at + len(form), placeholder))
                at = text.find(form, at + len(form))
        return _replaced(text, spans) if spans else text


_ANCHOR = _MIN_LEARNED_LENGTH  # characters of a secret's end that the automaton looks for
_REBUILD_AFTER = 32  # long forms searched for directly before the automaton is built again


def _replaced(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with the spans replaced by their placeholders; of two that overlap, the longer is kept."""
    chosen: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):  # by start, the longest first
        if not chosen or span[0] >= chosen[-1][1]:
            chosen.append(span)
        elif span[1] - span[0] > chosen[-1][1] - chosen[-1][0]:
            # it starts after the last one chosen, so it cannot overlap any chosen before that one
            chosen[-1] = span
    out, at = [], 0
    for start, end, placeholder in sorted(chosen):
        out.append(text[at:start])
        out.append(placeholder)
        at = end
    out.append(text[at:])
    return "".join(out)


@dataclass
class Exchange:
    """One request the suite sent and what came back (or the transport error)."""

    label: str
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: str = ""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: str = ""
    error: str | None = None
    duration_s: float = 0.0
    body_truncated: bool = False
    headers_dropped: int = 0  # header lines past the cap (transport.MAX_HEADER_LINES): not kept at all
    # set when the first attempt met a connection the server had closed, and the request went out again
    reconnected: str | None = None
    throttled: str | None = None  # what came first: "HTTP 429 with Retry-After 1, waited 1 s, sent again"

    # --- reading the response ----------------------------------------------------------------
    def header(self, name: str) -> str | None:
        """The first response header of that name (case-insensitive), or None."""
        values = self.headers(name)
        return values[0] if values else None

    def headers(self, name: str) -> list[str]:
        """Every response header line of that name (case-insensitive), in order."""
        return [v for k, v in self.response_headers if k.lower() == name.lower()]

    def json(self) -> Any:
        """The response body parsed as JSON, or None when it is not JSON (or nests deeper than Python can
        parse: a nesting bomb is no answer). Parsed once per body: cases ask again and again."""
        cached = self.__dict__.get("_json_of")
        if cached is not None and cached[0] is self.response_body:
            return cached[1]
        try:
            value = json.loads(self.response_body)
        except (ValueError, TypeError, RecursionError):
            value = None
        self.__dict__["_json_of"] = (self.response_body, value)
        return value

    def json_object(self) -> dict[str, Any]:
        """The response body as a JSON object, or an empty dict."""
        value = self.json()
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        """True when a 2xx response came back."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def proofs(self) -> list[str]:
        """The DPoP header values this request carried."""
        return [v for k, v in self.request_headers if k.lower() == "dpop"]

    # --- rendering ---------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: method, URL and what came back."""
        if self.error:
            return f"{self.method} {self.url} -> no response ({self.error})"
        error = self.json_object().get("error") if self.status and self.status >= 400 else None
        challenge = self.header("WWW-Authenticate")
        extra = f" error={error}" if error else ""
        if challenge and self.status == 401 and not error:
            extra = f" WWW-Authenticate: {challenge}"
        return f"{self.method} {self.url} -> {self.status}{extra}"

    def as_cause(self) -> str:
        """What came back, in words shared by every case it happens to: the key that groups errors by cause.

        "POST https://as.example.com/token answered 401 invalid_client", "GET https://api.example.com/me: no
        answer (timeout)", or the transport's reason for not sending ("the run's deadline has passed").
        """
        where = f"{self.method} {self.url.split('?', 1)[0]}"
        if self.error:
            if self.error.startswith("not sent: "):
                return self.error.removeprefix("not sent: ")
            return f"{where}: no answer ({self.error})"
        code = self.json_object().get("error")
        if not isinstance(code, str):
            challenge = _CHALLENGE_ERROR.search(" ".join(self.headers("WWW-Authenticate")))
            code = challenge.group(1) if challenge else ""
        return f"{where} answered {self.status}{' ' + code[:60] if code else ''}"

    def render(self) -> str:
        """Full text: request line, headers, decoded proofs, body; response status, headers, body."""
        lines = [f"## {self.label}", f"> {self.method} {shortened(self.url, HEADER_SHOWN)}"]
        lines += [f"> {k}: {shortened(v, HEADER_SHOWN)}" for k, v in self.request_headers[:HEADERS_SHOWN]]
        if self.request_body:
            lines += [">", f"> {shortened(self.request_body, BODY_SHOWN)}"]
        for i, proof in enumerate(self.proofs, 1):
            lines.append(f"  decoded DPoP proof{f' #{i}' if len(self.proofs) > 1 else ''}: {decode_for_display(proof)}")
        if self.reconnected:
            lines.append(f"  (sent again on a new connection: {self.reconnected})")
        if self.throttled:
            lines.append(f"  (rate-limited first: {self.throttled})")
        if self.error:
            lines.append(f"< (no response: {self.error})")
        else:
            lines.append(f"< {self.status}   ({self.duration_s * 1000:.0f} ms)")
            lines += [
                f"< {k[:HEADER_SHOWN]}: {shortened(v, HEADER_SHOWN)}" for k, v in self.response_headers[:HEADERS_SHOWN]
            ]
            if len(self.response_headers) > HEADERS_SHOWN:
                lines.append(f"< …(cut: {len(self.response_headers) - HEADERS_SHOWN} more header lines)")
            if self.headers_dropped:
                lines.append(
                    f"< …(dropped on arrival: {self.headers_dropped} more header lines, past the suite's cap of a "
                    "response's header section)"
                )
            if self.response_body:
                body = shortened(self.response_body, BODY_SHOWN)
                if self.body_truncated and len(self.response_body) <= BODY_SHOWN:
                    body += " …(truncated)"
                lines += ["<", f"< {body}"]
        return "\n".join(lines)

    def curl(self) -> str:
        """A curl command that sends this exact request again."""
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        own_host = urlsplit(self.url).netloc.lower()
        for k, v in self.request_headers:
            if k.lower() in ("content-length", "accept-encoding", "connection", "user-agent"):
                continue
            if k.lower() == "host" and v.lower() == own_host:
                continue  # curl sends the URL's own; a Host the request changed is part of what it sent
            # curl drops a header given as "Name:" with no value; "Name;" sends it empty
            parts += ["-H", shlex.quote(f"{k}: {v}" if v else f"{k};")]
        if self.request_body:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)


def decode_for_display(proof: str) -> str:
    """The proof's header and claims as JSON, or a note saying why it does not decode."""
    try:
        decoded = decode_jws(proof)
    except JOSEError as exc:
        return f"(not a decodable JWS: {exc})"
    header = json.dumps(decoded.header, separators=(",", ":"))
    claims = json.dumps(decoded.payload, separators=(",", ":"))
    return f"header={header} claims={claims} signature={len(decoded.signature)} bytes"


def render_exchanges(exchanges: list[Exchange], redactor: Redactor) -> str:
    """All exchanges of a case, rendered and redacted, with a curl command for each."""
    blocks = []
    size = 0
    for i, ex in enumerate(exchanges):
        block = ex.render() + "\n  reproduce: " + shortened(ex.curl(), BODY_SHOWN + HEADER_SHOWN * 4)
        size += len(block)
        if size > CASE_EVIDENCE:
            blocks.append(
                f"…(cut: {len(exchanges) - i} more exchanges; the evidence of one case is kept under "
                f"{CASE_EVIDENCE // 1024} KiB)"
            )
            break
        blocks.append(block)
    return redactor.redact("\n\n".join(blocks))
