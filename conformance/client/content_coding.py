"""Bounded decoding of a response body's content coding (RFC 9110 §8.4): never more bytes than the cap.

A server the suite tests may send a compression bomb: 6 KB of `Content-Encoding: gzip, gzip` that inflates
to gigabytes. httpx decodes each chunk it reads in full, so the suite reads the raw bytes and decodes them
here, with `zlib`'s `max_length`, stopping at the body cap. At most one coding layer is decoded (gzip,
x-gzip or deflate, the ones the suite's requests accept); a stacked or unknown coding is an error for
that exchange, not a body.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ACCEPTED_CODINGS", "CodingError", "DecodedBody", "decode_body"]

#: the codings the suite decodes, and says it accepts (Accept-Encoding)
ACCEPTED_CODINGS = ("gzip", "deflate")
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class CodingError(Exception):
    """The body's content coding is stacked, unknown or corrupt: the answer cannot be read."""


@dataclass(frozen=True)
class DecodedBody:
    """A decoded body, at most `cap` bytes, and whether more was there (cut at the cap)."""

    data: bytes
    truncated: bool


def _codings(header_values: Iterable[str]) -> list[str]:
    codings = [c.strip().lower() for value in header_values for c in value.split(",")]
    return [c for c in codings if c and c != "identity"]


def decode_body(chunks: Iterable[bytes], content_encoding: Iterable[str], cap: int) -> DecodedBody:
    """Decode the raw `chunks` of a body under its Content-Encoding values, keeping at most `cap` bytes.

    Reading stops as soon as `cap` bytes are decoded: a bomb costs the cap, never more. Raises CodingError
    for more than one coding layer, a coding other than gzip or deflate, or data that does not decode.
    """
    codings = _codings(content_encoding)
    if len(codings) > 1:
        raise CodingError(f"the body has {len(codings)} content codings ({', '.join(codings)}): only one is decoded")
    if not codings:
        return _plain(chunks, cap)
    coding = codings[0]
    if coding not in _WBITS:
        raise CodingError(f"the body's content coding {coding!r} is not one the suite asked for (gzip, deflate)")
    return _inflate(chunks, _WBITS[coding], cap, raw_fallback=coding == "deflate")


def _plain(chunks: Iterable[bytes], cap: int) -> DecodedBody:
    kept: list[bytes] = []
    size = 0
    for chunk in chunks:
        kept.append(chunk[: cap + 1 - size])
        size += len(kept[-1])
        if size > cap:
            return DecodedBody(b"".join(kept)[:cap], True)
    return DecodedBody(b"".join(kept), False)


def _inflate(chunks: Iterable[bytes], wbits: int, cap: int, *, raw_fallback: bool) -> DecodedBody:
    decoder = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    first = True
    try:
        for chunk in chunks:
            data = chunk
            if first and raw_fallback and chunk:
                # "deflate" is meant as zlib (RFC 9110 §8.4.1.2), but some servers send raw deflate
                first = False
                try:
                    probe = zlib.decompressobj(wbits)
                    probe.decompress(chunk[:64], 1)
                except zlib.error:
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            while data:
                piece = decoder.decompress(data, cap + 1 - size)
                out.append(piece)
                size += len(piece)
                if size > cap:
                    return DecodedBody(b"".join(out)[:cap], True)
                data = decoder.unconsumed_tail
                if decoder.eof:
                    break
            if decoder.eof:
                break
        out.append(decoder.flush(cap + 1 - size))
    except zlib.error as exc:
        raise CodingError(f"the body does not decode as its content coding says ({exc})") from None
    data = b"".join(out)
    return DecodedBody(data[:cap], len(data) > cap)
