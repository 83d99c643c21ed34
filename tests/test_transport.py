"""The wire (conformance/client/transport.py) against real loopback servers: a connection the server closed is
not the target's answer; the request goes out once more on a new connection."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from conformance.client.transport import Transport

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class ClosingServer:
    """Answers the first request of each connection, then closes it a moment later without saying so.

    Nothing in the answer says the connection ends (no `Connection: close`), so a client keeps it for its
    next request, writes that request into it, and the server closes it unread: the race every server
    that drops idle or failed connections has with its clients.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.answered = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                if conn.recv(65536):
                    conn.sendall(ANSWER)
                    self.answered += 1
                    # the client writes its next request into this connection: read it, then close unanswered
                    # (waiting a fixed moment instead raced a loaded machine: the client came after the close,
                    # saw the connection gone and opened a new one, with nothing to repair)
                    with contextlib.suppress(OSError):
                        conn.recv(65536)


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    yield server
    server.stop.set()
    server.listener.close()


def test_a_request_into_a_connection_the_server_closed_goes_out_again(closing_server: ClosingServer) -> None:
    transport = Transport(timeout=5)
    url = f"http://127.0.0.1:{closing_server.port}/resource"
    try:
        first = transport.send("first", "GET", url)
        second = transport.send("second", "GET", url)
    finally:
        transport.close()
    assert first.status == 200 and first.reconnected is None
    assert second.status == 200 and second.error is None, second.error
    assert second.reconnected and "before any answer" in second.reconnected
    assert transport.reconnects == 1
    assert transport.requests_sent == {f"http://127.0.0.1:{closing_server.port}": 3}
    assert closing_server.answered == 2
    assert "sent again on a new connection" in second.render()


def test_a_server_that_never_answers_is_not_retried_forever() -> None:
    """A connection closed without an answer, twice: one retry, then the exchange records the error."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)  # read the request, close without a word

    threading.Thread(target=serve, daemon=True).start()
    transport = Transport(timeout=5)
    try:
        ex = transport.send("request", "GET", f"http://127.0.0.1:{port}/")
    finally:
        transport.close()
        stop.set()
        listener.close()
    assert ex.status is None and ex.error and "RemoteProtocolError" in ex.error
    assert transport.requests_sent == {f"http://127.0.0.1:{port}": 2}
