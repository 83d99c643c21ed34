"""Run the reference server in-process: uvicorn in a daemon thread on a loopback socket."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.reference.app import CloseConnection, create_app
from conformance.reference.settings import ServerSettings

__all__ = ["RunningServer"]

_START_TIMEOUT = 10.0


def _not_a_close(record: logging.LogRecord) -> bool:
    """Keeps uvicorn from logging the exception `close-after-error` raises to drop a connection."""
    return not (record.exc_info and isinstance(record.exc_info[1], CloseConnection))


logging.getLogger("uvicorn.error").addFilter(_not_a_close)
_STOP_TIMEOUT = 5.0


def _loopback(host: str) -> tuple[str, socket.AddressFamily, str]:
    """(address to bind, address family, host as written in URLs); ValueError if not loopback."""
    if host == "localhost":
        return "127.0.0.1", socket.AF_INET, "localhost"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the reference server only listens on loopback hosts, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the reference server only listens on loopback hosts, not {host!r}")
    if address.version == 6:
        return str(address), socket.AF_INET6, f"[{address}]"
    return str(address), socket.AF_INET, str(address)


def _toml_string(value: str) -> str:
    """A TOML basic string (TOML 1.0 §String): quotes, backslashes and control characters escaped."""
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for char in value:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class _Swappable:
    """The ASGI app uvicorn serves, whose inner app `reconfigure` can replace between requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.received = 0  # HTTP requests received so far (the event loop's one thread counts them)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.received += 1
        await self.app(scope, receive, send)


class RunningServer:
    """The reference AS + RS served by uvicorn in a background thread.

    Usage: `with RunningServer(ServerSettings(nonce="both")) as server: ... server.base_url ...`.
    The socket is bound by this class (port 0 picks a free port), so the port is known before
    uvicorn starts and no other process can take it in between.
    """

    def __init__(
        self,
        settings: ServerSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str, str] | None = None,
        public_url: str | None = None,
        app_factory: Callable[[str], ASGIApp] | None = None,
        date_header: bool = True,
    ) -> None:
        """`tls` is (certificate file, private key file), both PEM: the server then speaks HTTPS.

        `public_url` is the URL clients reach it at, when that is not where it listens (behind a proxy):
        its issuer, its endpoints and its htu checks then use that one. `app_factory` builds another app than
        the reference server from the base URL (the judging servers of client conformance); `date_header` False
        leaves the Date header to the app (a judging server shows its own clock there).
        """
        self._public_url = public_url.rstrip("/") if public_url else None
        self._bind_host, self._family, self._url_host = _loopback(host)
        self._tls = tls
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        self._settings = settings if settings is not None else ServerSettings()
        self._port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._app: _Swappable | None = None
        self._app_factory = app_factory
        self._date_header = date_header

    @property
    def settings(self) -> ServerSettings:
        """The settings this server runs with."""
        return self._settings

    @property
    def base_url(self) -> str:
        """`http(s)://HOST:PORT`, the issuer and the prefix of every endpoint (a default port is not written)."""
        return self._public_url or self.listen_url

    @property
    def listen_url(self) -> str:
        """Where the server listens (the same as base_url unless it was given a public_url)."""
        if self._port == 0:
            raise RuntimeError("the server has no port yet: call start() first")
        scheme, default_port = ("https", 443) if self._tls else ("http", 80)
        # the canonical form (RFC 3986 §6.2.3), so that a server comparing htu as a plain string still agrees
        if self._port == default_port:
            return f"{scheme}://{self._url_host}"
        return f"{scheme}://{self._url_host}:{self._port}"

    @property
    def requests_received(self) -> int:
        """How many HTTP requests the server has received since it started (tests count what a run sent)."""
        return self._app.received if self._app is not None else 0

    @property
    def running(self) -> bool:
        """True between a successful start() and stop()."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> RunningServer:
        """Bind, start serving and return once connections are accepted (RuntimeError after 10 s)."""
        if self._server is not None:
            raise RuntimeError("this RunningServer was already started")
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(self._family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((self._bind_host, self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self._port = sock.getsockname()[1]
        factory = self._app_factory
        self._app = _Swappable(factory(self.base_url) if factory else create_app(self._settings, self.base_url))
        app = self._app
        # log_config=None: an embedded server must not reconfigure the host program's logging.
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            date_header=self._date_header,
            ssl_certfile=self._tls[0] if self._tls else None,
            ssl_keyfile=self._tls[1] if self._tls else None,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=self._run, name=f"dpop-reference-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise RuntimeError(f"the reference server failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the reference server did not start within {_START_TIMEOUT:.0f} s")
            time.sleep(0.005)
        return self

    def reconfigure(self, settings: ServerSettings) -> None:
        """Serve these settings from the next request on, on the same port: a new app, new keys and stores.

        Tens of times faster than a new server (no socket, no uvicorn start-up); the kill matrix switches
        a running server from one defect to the next so.
        """
        if self._server is None or self._app is None:
            raise RuntimeError("the server is not running: start() it first")
        self._settings = settings
        self._app.app = create_app(settings, self.base_url)

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # uvicorn reports startup failures with SystemExit
            self._failure = exc

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()

    def stop(self) -> None:
        """Stop gracefully and join the thread; forces the exit if that takes more than 5 s."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT - 1.0)
        if thread.is_alive():
            # Graceful shutdown waits for open connections; a client that never closes must not hang us.
            server.force_exit = True
            thread.join(1.0)
        self._close_socket()

    def __enter__(self) -> RunningServer:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def target_toml(self, name: str = "reference") -> str:
        """The target file describing this server for `dpop-conformance`."""
        base = self.base_url
        settings = self._settings
        q = _toml_string
        lines = [
            "# Target file written by `dpop-conformance serve` for the embedded reference server.",
            f"name = {q(name)}",
            "",
            "[authorization_server]",
            f"issuer = {q(base)}",
            f"token_endpoint = {q(base + '/token')}",
            f"authorization_endpoint = {q(base + '/authorize')}",
            f"introspection_endpoint = {q(base + '/introspect')}",
            *([f"par_endpoint = {q(base + '/par')}"] if settings.par else []),
            "",
            "[resource_server]",
            f"url = {q(base + '/resource')}",
            'method = "GET"',
            "",
            "[client]",
            f"id = {q(settings.client_id)}",
            f"secret = {q(settings.client_secret)}",
            'auth_method = "client_secret_basic"',
            'grant_type = "client_credentials"',
            f"scope = {q(settings.scope)}",
            "",
            "[public_client]",
            f"id = {q(settings.public_client_id)}",
            f"redirect_uri = {q(settings.redirect_uri)}",
            'login = "auto"',
            f"scope = {q(settings.scope)}",
        ]
        return "\n".join(lines) + "\n"

    def write_target_file(self, path: str | os.PathLike[str], name: str = "reference") -> Path:
        """Write target_toml() to `path` (UTF-8, mode 0600) and return it as a Path.

        Atomically: a script that waits for the file to appear never reads it half written.
        """
        target = Path(path)
        # The file carries the client secret, so it is readable by its owner only.
        scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(self.target_toml(name))
            os.replace(scratch, target)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        return target
