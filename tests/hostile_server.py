"""A hostile authorization server on loopback: metadata that tries to send the suite's credentials elsewhere.

`HostileServer(attack)` serves RFC 8414 metadata for its own issuer URL, and a second listener, the "sink",
that records every request it receives (method, path, headers, body) and answers 400. The attacks:

- `other-issuer`: the metadata names another `issuer` (and endpoints at the sink);
- `foreign-endpoints`: the right issuer, but token, introspection and PAR endpoints at the sink's origin;
- `control-characters`: honest metadata, and a token endpoint whose every answer carries terminal control
  sequences (CONTROL) in its error, error_description and a header;
- `huge-answers`: every answer but the metadata is a refusal padded to just under the body cap (1 MiB);
- `nesting-bomb`: every answer but the metadata is 200 with JSON nested half a million levels deep;
- `many-cookies`: every answer but the metadata refuses the proof (400 `invalid_dpop_proof`) and sets 2,500
  cookies, some named after words of the suite's own messages (COOKIE_WORDS), the rest 24 random characters.

Standard library only (`http.server`), so that what the suite does is seen from outside it.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

ATTACKS = ("other-issuer", "foreign-endpoints", "control-characters", "huge-answers", "nesting-bomb", "many-cookies")
COOKIE_WORDS = ("HTTP 400", "Expected", "refusal", "invalid_dpop_proof")
COOKIES = 2500
HUGE = (1 << 20) - 200  # just under the suite's body cap

#: terminal sequences: clear the screen, set the title, write the clipboard (OSC 52), a one-byte CSI, a bidi
#: override
CONTROL = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x9b31m\u202etxt.exe"


@dataclass
class Received:
    """One request the sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class _State:
    attack: str
    base: str = ""
    sink: str = ""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: _State, *, sink: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("latin-1") if length else ""
            if sink:
                with state.lock:
                    state.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
                self._answer(400, {"error": "invalid_request"})
                return
            if state.attack in ("huge-answers", "nesting-bomb") and not self.path.startswith("/.well-known/"):
                if state.attack == "huge-answers":
                    status, data = 400, json.dumps({"error": "invalid_dpop_proof", "pad": "x" * HUGE}).encode()
                else:
                    status, data = 200, b"[" * 500_000 + b"]" * 500_000
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if state.attack == "many-cookies" and not self.path.startswith("/.well-known/"):
                data = json.dumps({"error": "invalid_dpop_proof"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                for i in range(COOKIES):
                    value = COOKIE_WORDS[i] if i < len(COOKIE_WORDS) else secrets.token_urlsafe(18)
                    self.send_header("Set-Cookie", f"c{i}={value}; Path=/")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if state.attack == "control-characters" and not self.path.startswith("/.well-known/"):
                data = json.dumps({"error": f"invalid_client{CONTROL}", "error_description": CONTROL}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("WWW-Authenticate", f'Basic realm="{CONTROL.encode("unicode_escape").decode()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if self.path.startswith("/.well-known/"):
                issuer = state.base if state.attack != "other-issuer" else "https://attacker.example"
                here = state.sink if state.attack in ("other-issuer", "foreign-endpoints") else state.base
                self._answer(
                    200,
                    {
                        "issuer": issuer,
                        "token_endpoint": f"{here}/token",
                        "introspection_endpoint": f"{here}/introspect",
                        "pushed_authorization_request_endpoint": f"{here}/par",
                        "authorization_endpoint": f"{state.base}/authorize",
                        "dpop_signing_alg_values_supported": ["ES256"],
                    },
                )
                return
            self._answer(404, {"error": "not_found"})

        do_GET = do_POST = _any  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class HostileServer:
    """The hostile issuer and its sink, each on its own loopback port (see the module docstring)."""

    def __init__(self, attack: str) -> None:
        assert attack in ATTACKS, attack
        self.state = _State(attack)
        self._servers = [
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state, sink=False)),
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state, sink=True)),
        ]
        self.state.base = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.state.sink = f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    @property
    def issuer(self) -> str:
        """The issuer URL the target file names."""
        return self.state.base

    @property
    def sink(self) -> str:
        """The origin the metadata tries to send credentials to."""
        return self.state.sink

    @property
    def received(self) -> list[Received]:
        """Every request the sink received."""
        with self.state.lock:
            return list(self.state.received)

    def __enter__(self) -> HostileServer:
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
