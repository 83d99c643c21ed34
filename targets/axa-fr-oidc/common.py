"""What as_server.py and rs_server.py share: the loopback addresses, the watch on WATCH_PID, and serving.

Everything comes from the environment, with defaults:

    AS_PORT    the authorization server's port (default 4300)
    RS_PORT    the resource server's port (default 4400)
    WATCH_PID  optional: exit when the process with this id is gone (start.sh's caller), so a test run that
               is killed never leaves servers behind

Both servers are the standard library's ThreadingHTTPServer: no web framework stands between the suite and the
library, so every header line the suite sends reaches the glue as it was sent (two Authorization lines stay
two lines), and the library's synchronous validation call needs no event loop.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

HOST = "127.0.0.1"


def _port(name: str, fallback: int) -> int:
    """The port in environment variable `name`, or `fallback` when it is unset or empty."""
    raw = os.environ.get(name, "")
    if raw == "":
        return fallback
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"{name} must be a port number (1-65535), got {raw!r}")
    return int(raw)


AS_PORT = _port("AS_PORT", 4300)
RS_PORT = _port("RS_PORT", 4400)
ISSUER = f"http://{HOST}:{AS_PORT}"
TOKEN_ENDPOINT = f"{ISSUER}/token"
JWKS_URI = f"{ISSUER}/jwks"
# the one protected resource: its URL is the audience of every access token the AS issues
RESOURCE = f"http://{HOST}:{RS_PORT}/resource"


def log(name: str, message: str) -> None:
    """One line on standard error (start.sh sends it to the server's log file)."""
    print(f"{time.strftime('%H:%M:%S')} {name}: {message}", file=sys.stderr, flush=True)


def exit_with_watched_process(name: str) -> None:
    """Exit this process once the process WATCH_PID names is gone (checked every second, in a daemon thread)."""
    raw = os.environ.get("WATCH_PID", "")
    if not raw:
        return
    pid = int(raw)

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log(name, f"process {pid} (WATCH_PID) is gone, exiting")
                os._exit(0)
            except PermissionError:
                pass  # it exists, under another user

    threading.Thread(target=watch, name="watch-pid", daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    """A request handler that speaks HTTP/1.1 with Content-Length on every answer (keep-alive works)."""

    protocol_version = "HTTP/1.1"
    server_name_for_logs = "glue"

    def send(
        self,
        status: int,
        body: Mapping[str, object] | None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Answer with `status`, the header fields `headers` and `body` as JSON (no body when None)."""
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self, limit: int = 64 * 1024) -> bytes | None:
        """The request body (None when it is larger than `limit` or its length is not given as a number).

        A body left unread would be read as the next request on the connection: then the connection closes
        after the answer.
        """
        raw = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers or not raw.isdigit() or int(raw) > limit:
            self.close_connection = True
            return None
        return self.rfile.read(int(raw))

    def log_message(self, format: str, *args: object) -> None:
        log(self.server_name_for_logs, format % args)


def serve(name: str, port: int, handler: type[Handler]) -> None:
    """Serve `handler` on 127.0.0.1:`port` until SIGTERM or SIGINT, or until WATCH_PID's process is gone."""
    handler.server_name_for_logs = name
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as err:
        # start.sh's caller looks for "address already in use" to try other ports
        log(name, f"cannot listen on {HOST}:{port}: {err.strerror.lower() if err.strerror else err}")
        raise SystemExit(1) from err
    server.daemon_threads = True

    def stop(signum: int, _frame: FrameType | None) -> None:
        log(name, f"signal {signum}, stopping")
        # shutdown() waits for serve_forever() to return, which runs in this very thread: ask from another
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_with_watched_process(name)
    log(name, f"listening on http://{HOST}:{port}")
    server.serve_forever(poll_interval=0.5)
    server.server_close()
