"""Bounded content decoding (conformance/client/content_coding.py), on its own and through the transport against a
real loopback server that sends compression bombs."""

from __future__ import annotations

import contextlib
import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conformance.client.content_coding import CodingError, decode_body
from conformance.client.evidence import Redactor
from conformance.client.transport import MAX_BODY_BYTES, Transport

CAP = 1 << 20


def _gzip_of_zeros(size: int) -> bytes:
    """gzip of `size` zero bytes, compressed piece by piece (the plain data never exists whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


BOMB = _gzip_of_zeros(200 << 20)  # 200 MiB of zeros in about 200 KB
DOUBLE_BOMB = gzip.compress(BOMB, 9)


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_plain_and_single_codings_decode() -> None:
    assert decode_body(_chunks(b"hello"), [], CAP).data == b"hello"
    assert decode_body(_chunks(gzip.compress(b"hello")), ["gzip"], CAP).data == b"hello"
    assert decode_body(_chunks(gzip.compress(b"hello")), ["X-GZIP"], CAP).data == b"hello"
    assert decode_body(_chunks(zlib.compress(b"hello")), ["deflate"], CAP).data == b"hello"
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert decode_body(_chunks(raw.compress(b"hello") + raw.flush()), ["deflate"], CAP).data == b"hello"
    assert decode_body(_chunks(b"x" * 10), ["identity"], CAP).data == b"x" * 10


def test_a_bomb_is_cut_at_the_cap_without_inflating_the_rest() -> None:
    tracemalloc.start()
    body = decode_body(_chunks(BOMB), ["gzip"], CAP)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert body.truncated and len(body.data) == CAP
    assert peak < 8 * CAP, f"decoding a 200 MiB bomb peaked at {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("values", "message"),
    [(["gzip, gzip"], "2 content codings"), (["gzip", "gzip"], "2 content codings"), (["br"], "'br'")],
)
def test_stacked_and_unknown_codings_are_refused(values: list[str], message: str) -> None:
    with pytest.raises(CodingError, match=message):
        decode_body(_chunks(DOUBLE_BOMB), values, CAP)


def test_corrupt_data_is_an_error() -> None:
    with pytest.raises(CodingError, match="does not decode"):
        decode_body(_chunks(b"not gzip at all"), ["gzip"], CAP)


class _Bombing(BaseHTTPRequestHandler):
    """Answers GET /single with a one-layer gzip bomb, /double with `gzip, gzip`, /plain with a small body."""

    def do_GET(self) -> None:
        body, coding = {"/single": (BOMB, "gzip"), "/double": (DOUBLE_BOMB, "gzip, gzip")}.get(
            self.path, (b'{"ok": true}', "")
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if coding:
            self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the suite stopped at its cap
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def bombing() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bombing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_transport_reads_a_bomb_within_the_cap(bombing: str) -> None:
    transport = Transport(timeout=10, redactor=Redactor())
    try:
        tracemalloc.start()
        single = transport.send("bomb", "GET", f"{bombing}/single")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        double = transport.send("double bomb", "GET", f"{bombing}/double")
        plain = transport.send("plain", "GET", f"{bombing}/plain")
    finally:
        transport.close()
    assert single.status == 200 and single.body_truncated and len(single.response_body) == MAX_BODY_BYTES
    assert peak < 16 * MAX_BODY_BYTES, f"reading the bomb peaked at {peak / 2**20:.1f} MiB"
    assert double.error and "2 content codings (gzip, gzip)" in double.error
    assert plain.error is None and plain.json_object() == {"ok": True}
