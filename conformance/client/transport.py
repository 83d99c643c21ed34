"""The wire: every byte the suite sends to a target and reads back passes through `Transport.send`.

It owns what a hostile or half-broken server must not be able to change: TLS verification, the timeout,
the body cap, no redirects followed, no proxy or .netrc from the environment, the run's limits (deadline,
request budget, requests per second), giving up on a server that stopped answering, and the recording of
each exchange as evidence, with the credentials it carries registered for redaction.

One thing it repairs rather than reports: a kept-alive connection that the server closed after its last
answer (many servers close after an error, some without saying `Connection: close`). A request written to
such a connection fails before any answer arrives; it is sent once more on a new connection, and the
exchange records that it was.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx

from conformance.client import watchdog
from conformance.client.content_coding import ACCEPTED_CODINGS, CodingError, decode_body
from conformance.client.evidence import Exchange, Redactor
from conformance.printable import printable

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINES",
    "Lane",
    "Transport",
    "ca_file_problem",
    "capped_headers",
    "origin_of",
    "tls_verification",
]

MAX_BODY_BYTES = 1 << 20  # evidence keeps at most 1 MiB of a response body
_COOKIES_KEPT = 20  # the cookies of one answer registered for redaction (a session needs a few)
# form fields whose values are credentials (RFC 6749, RFC 7523, RFC 7636, RFC 7662)
SECRET_FORM_FIELDS = (
    "client_secret",
    "client_assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "password",
)
# What a request written to a connection the server had already closed fails with, before any answer:
# the server "disconnected without sending a response", or the write or first read met a reset.
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class _OwnedStream(httpcore.NetworkStream):
    """A connection's stream that remembers which thread used it last, so a watchdog cuts only its own."""

    def __init__(self, inner: httpcore.NetworkStream, backend: _CuttableBackend) -> None:
        self.inner = inner
        self.backend = backend
        self.owner = threading.get_ident()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.owner = threading.get_ident()
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.owner = threading.get_ident()
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return self.backend.kept(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)

    def shut_down(self) -> None:
        sock = self.inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def closed(self) -> bool:
        sock = self.inner.get_extra_info("socket")
        return not isinstance(sock, socket.socket) or sock.fileno() == -1


class _CuttableBackend(httpcore.NetworkBackend):
    """httpcore's own backend, keeping the streams it opens so a watchdog can cut them.

    Closing an httpx client from another thread waits for the lock the request in flight holds; shutting
    its socket down (SHUT_RDWR) wakes the blocked read at once instead. With cases running concurrently,
    a pool's connections carry other threads' requests too: a cut takes only the connections the
    thread of the exchange whose time ran out is using.
    """

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner
        self._streams: list[_OwnedStream] = []
        self._lock = threading.Lock()

    def kept(self, stream: httpcore.NetworkStream) -> httpcore.NetworkStream:
        owned = _OwnedStream(stream, self)
        with self._lock:
            self._streams = [s for s in self._streams if not s.closed()] + [owned]
        return owned

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return self.kept(self.inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return self.kept(self.inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)

    def cut(self, owner: int | None = None) -> None:
        """Shut the open connections down (those `owner`, a thread, used last; all without one)."""
        with self._lock:
            streams = [s for s in self._streams if owner is None or s.owner == owner]
        for stream in streams:
            stream.shut_down()


#: a response's header section is capped like its body: a target that floods it (thousands of Set-Cookie lines)
#: costs no more than a normal answer, in the cookie parser, the evidence and the report. Beyond the cap the
#: lines are dropped, and the evidence says how many.
MAX_HEADER_LINES = 100
MAX_HEADER_BYTES = 64 * 1024
#: lines kept past the cap (up to a few each): what reading the answer and judging it need
_ESSENTIAL = frozenset(
    {
        b"content-type",
        b"content-encoding",
        b"content-length",
        b"www-authenticate",
        b"dpop-nonce",
        b"location",
        b"cache-control",
        b"pragma",
        b"retry-after",
    }
)
_ESSENTIAL_EACH = 8


def capped_headers(raw: Sequence[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], int]:
    """The header lines within the cap (plus a few essential ones past it), and how many were dropped."""
    kept: list[tuple[bytes, bytes]] = []
    size = 0
    essential: dict[bytes, int] = {}
    for name, value in raw:
        size += len(name) + len(value) + 4
        lowered = name.lower()
        within = len(kept) < MAX_HEADER_LINES and size <= MAX_HEADER_BYTES
        if within or (lowered in _ESSENTIAL and essential.get(lowered, 0) < _ESSENTIAL_EACH):
            kept.append((name, value))
            essential[lowered] = essential.get(lowered, 0) + 1
    return kept, len(raw) - len(kept)


class _CappedTransport(httpx.HTTPTransport):
    """httpx's transport, with each response's header section capped before anything reads it (the cookie
    jar included: http.cookiejar parses every Set-Cookie line, which made 2,500 of them cost seconds)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        raw = response.headers.raw
        if len(raw) > MAX_HEADER_LINES or sum(len(k) + len(v) + 4 for k, v in raw) > MAX_HEADER_BYTES:
            kept, dropped = capped_headers(raw)
            response.headers = httpx.Headers(kept)
            response.extensions["dpop_headers_dropped"] = dropped
        return response


_CUTTABLE_LOCK = threading.Lock()


def _cuttable(http: httpx.Client) -> _CuttableBackend | None:
    """The client's cuttable backend, put in place on first use (httpx 0.28 keeps httpcore's pool here)."""
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    with _CUTTABLE_LOCK:  # two threads' first requests must not wrap the backend twice
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _CuttableBackend):
            return backend
        if backend is None:
            return None
        cuttable = _CuttableBackend(backend)
        pool._network_backend = cuttable  # type: ignore[union-attr]
        return cuttable


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL, lower-cased: the key for nonces, request counts and give-ups per server."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def tls_verification(ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext | bool:
    """What httpx verifies server certificates with: the usual CAs plus `ca_file`, or nothing (`insecure`)."""
    if insecure:
        return False
    return _tls_context(ca_file)


def ca_file_problem(path: str) -> str | None:
    """Why `path` cannot serve as extra CA certificates, in a phrase ("holds no PEM certificate"), or None.

    Checked before anything is sent, so that a wrong file is one line naming it rather than every case ending
    in an error with an OpenSSL message that names no file.
    """
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "a folder, not a file"
    except PermissionError:
        return "cannot be read (permission denied)"
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        return (
            "holds no PEM CA certificate (it needs -----BEGIN CERTIFICATE----- blocks; convert DER with openssl x509)"
        )
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # One context per process, shared by every client: httpx would otherwise load the CA bundle again
    # for each client it makes (20 ms each, a tenth of a clean run).
    import certifi  # httpx's own default CA bundle; an extra file adds to it rather than replacing it

    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def _tls_failure(exc: BaseException, origin: str) -> str | None:
    """A one-line explanation when `exc` comes from TLS (an untrusted certificate, a failed handshake)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or "verification failed"
            return (
                f"TLS: the certificate of {origin} is not trusted ({reason}); pass the CA that signed it with "
                "--ca-file FILE (or ca_file in the target file), or --insecure to skip verification (tests only)"
            )
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or str(cause)
            return f"TLS: the handshake with {origin} failed ({reason}); is that port serving HTTPS?"
        cause = cause.__cause__ or cause.__context__
    return None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


#: what a rate limit may ask of one exchange: sent again at most this many times, after at most this wait
MAX_THROTTLED = 5
MAX_RETRY_AFTER = 120.0
THROTTLE_STATUSES = (429, 503)


def retry_after(ex: Exchange) -> float | None:
    """The wait (s) a 429 or 503 with a Retry-After header asks for (RFC 9110 §10.2.3), or None.

    delta-seconds or an HTTP-date; anything else, or another status, is the target's answer as it is.
    """
    if ex.status not in THROTTLE_STATUSES or ex.error:
        return None
    value = (ex.header("retry-after") or "").strip()
    if not value or len(value) > 64:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Lane:
    """What one case sent, while it ran: its exchanges (the evidence) and its requests, waits and limits met.

    A thread works in one lane at a time (`Transport.in_lane`); without one it is the transport's own. Cases
    that run concurrently each get theirs, so each case's evidence and counts are its own.
    """

    log: list[Exchange] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # per origin
    waited_s: float = 0.0
    throttled: int = 0
    throttle_waited_s: float = 0.0


class Transport:
    """Sends requests exactly as given, within the run's limits, and records each one.

    Safe to use from several threads at once: the limits (deadline, request budget, requests per second)
    hold across all of them, and each thread records into its own lane.
    """

    SILENT_LIMIT = 3  # after this many unanswered requests in a row, a server is given up on

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        redactor: Redactor | None = None,
        verify: ssl.SSLContext | bool | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.redactor = redactor or Redactor()
        self.timeout = timeout
        self.verify = tls_verification() if verify is None else verify
        self.http = http or self.new_http_client()
        # API calls keep no cookies: a login's session cookie must not ride along on later requests (a
        # "request without credentials" would carry one), nor end up in the evidence.
        self.http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._main_lane = Lane()
        self._local = threading.local()  # .lane: the lane the thread records into; .sent: what it sent
        self._lock = threading.Lock()  # the counters and the request budget, across threads
        # staying calm with half-broken or shared targets
        self.deadline: float | None = None  # time.monotonic() after which nothing more is sent
        self.max_requests: int | None = None
        self.max_rps: float | None = None
        self.max_in_flight: int | None = None  # requests in flight at once per server, across threads
        self._slots: dict[str, threading.BoundedSemaphore] = {}  # per origin, with max_in_flight
        self.requests_sent: dict[str, int] = {}  # per origin, by every thread
        self.waited_s = 0.0  # total time between sending a request and having its whole answer
        self.reconnects = 0  # requests sent again because the server had closed the connection
        self._silent: dict[str, int] = {}  # consecutive requests per origin that got no answer
        self._given_up: dict[str, str] = {}  # origin -> why nothing more is sent there (a TLS failure)
        self._stopped: str | None = None  # why nothing more is sent at all (stop_sending)
        self._next_slot = 0.0  # with max_rps: when the next request may go out (monotonic)

    # --- lanes: what each case sent ----------------------------------------------------------------
    @property
    def lane(self) -> Lane:
        """The lane this thread records into."""
        lane: Lane | None = getattr(self._local, "lane", None)
        return lane or self._main_lane

    @property
    def log(self) -> list[Exchange]:
        """The exchanges of this thread's lane (the plugin resets it for each case)."""
        return self.lane.log

    @log.setter
    def log(self, value: list[Exchange]) -> None:
        self.lane.log = value

    @contextlib.contextmanager
    def in_lane(self, lane: Lane) -> Iterator[Lane]:
        """Record this thread's requests into `lane` while the block runs."""
        before = getattr(self._local, "lane", None)
        self._local.lane = lane
        try:
            yield lane
        finally:
            self._local.lane = before

    def absorb(self, lane: Lane, *, evidence: bool = True) -> None:
        """Count what `lane` sent (and take its exchanges, with `evidence`) as this thread's lane's own."""
        mine = self.lane
        if evidence:
            mine.log = list(lane.log)
        for origin, n in lane.sent.items():
            mine.sent[origin] = mine.sent.get(origin, 0) + n
        mine.waited_s += lane.waited_s
        mine.throttled += lane.throttled
        mine.throttle_waited_s += lane.throttle_waited_s

    def mark(self) -> tuple[int, int]:
        """Where the requests stand for this thread: equal marks mean it sent nothing in between.

        In a lane of its own (a concurrent case) a thread counts its own requests; otherwise every
        request of the run counts, as a serial run's do.
        """
        if getattr(self._local, "lane", None) is None:
            with self._lock:
                return 0, sum(self.requests_sent.values())
        return threading.get_ident(), int(getattr(self._local, "sent", 0))

    def tally(self) -> tuple[dict[str, int], float]:
        """Requests per origin and time waited since the last tally, in this thread's lane: each request is
        counted once, by the case that was running (or whose set-up was running) when it went out."""
        lane = self.lane
        sent, waited = lane.sent, lane.waited_s
        lane.sent, lane.waited_s = {}, 0.0
        return sent, waited

    def throttle_tally(self) -> tuple[int, float]:
        """Rate limits met (429/503 with Retry-After, each sent again) and seconds waited, since the last call."""
        lane = self.lane
        count, waited = lane.throttled, lane.throttle_waited_s
        lane.throttled, lane.throttle_waited_s = 0, 0.0
        return count, waited

    def new_http_client(self) -> httpx.Client:
        """An HTTP client with the suite's settings: no redirects, nothing taken from the environment."""
        # no redirects (a redirect is evidence, and credentials must not follow it elsewhere), no proxy or
        # .netrc from the environment (the target file says where requests go)
        # Accept-Encoding names only what content_coding.py decodes within the body cap (httpx would add br
        # or zstd when their packages happen to be installed)
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
            transport=_CappedTransport(verify=self.verify, trust_env=False),
            headers={"Accept-Encoding": ", ".join(ACCEPTED_CODINGS)},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def send(
        self,
        label: str,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: str | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> Exchange:
        """Send one request exactly as given (no redirects followed) and record it as an Exchange.

        A 429 or 503 with Retry-After is a rate limit, not the target's answer to the case: the request is
        sent again, the same, after the wait (within the deadline, at most MAX_THROTTLED times). A limit
        that outlasts that leaves the exchange an error, so the case is not judged on it.
        """
        waits: list[str] = []
        for attempt in range(MAX_THROTTLED + 1):
            ex = self._send_once(label, method, url, headers, body, http)
            wait = retry_after(ex)
            if wait is None:
                break
            shown = f"HTTP {ex.status} with Retry-After {printable(ex.header('retry-after') or '')[:40]}"
            left = None if self.deadline is None else self.deadline - time.monotonic()
            if attempt == MAX_THROTTLED:
                ex.error = f"throttled: {shown}, {attempt + 1} times in a row (the case is not judged on it)"
                break
            if wait > MAX_RETRY_AFTER or (left is not None and wait > left):
                limit = "the run's deadline" if left is not None and wait > left else f"{MAX_RETRY_AFTER:g} s"
                ex.error = f"throttled: {shown}, a wait beyond {limit} (the case is not judged on it)"
                break
            self.lane.throttled += 1
            self.lane.throttle_waited_s += wait
            waits.append(f"{shown}, waited {wait:g} s, sent again")
            time.sleep(wait)
        if waits:
            ex.throttled = "; ".join(waits)
        return ex

    def _send_once(
        self,
        label: str,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: str | None,
        http: httpx.Client | None,
    ) -> Exchange:
        """One attempt of send(): the request on the wire, its answer read within the run's bounds."""
        http = http or self.http
        request = http.build_request(method, url, headers=list(headers), content=body)
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        ex = Exchange(label, method, url, raw_headers, body or "")
        origin = origin_of(url)
        refusal = self._refuse_to_send(url)  # and counts the request when it may go out
        if refusal:
            ex.error = refusal
            self.log.append(ex)
            return ex
        slot = self._slot(origin)  # before the clock starts: the wait for a slot is not the server's
        # httpx's timeout bounds each read, not the exchange: a server that drips a byte a second would hold
        # a request for ever. A watchdog cuts the sockets when the exchange's time (or the run's) is up.
        limit = self.timeout
        if self.deadline is not None:
            limit = max(0.05, min(limit, self.deadline - time.monotonic()))
        backends = [_cuttable(http)]
        thread = threading.get_ident()

        def cut_sockets() -> None:
            # the shared pool: only this thread's connections (other threads' requests are not late);
            # a fresh pool made for this exchange alone (a reconnect): all of it
            for i, backend in enumerate(backends):
                if backend is not None:
                    backend.cut(thread if i == 0 else None)

        start = time.perf_counter()
        watched = watchdog.watch(limit, cut_sockets)
        try:
            try:
                response = http.send(request, stream=True)
            except _STALE_CONNECTION as exc:
                if watched.cut:
                    raise  # the watchdog cut it: no second attempt
                # Nothing came back: the server had most likely closed this kept-alive connection after its
                # previous answer. Once more on a new connection (a fresh pool: the others may be stale too).
                ex.reconnected = f"the first attempt failed before any answer ({_error_text(exc)})"
                with self._lock:
                    self.reconnects += 1
                self._count(origin)
                response = self._send_on_new_connection(http, request, backends)
            self._read(response, ex)
        except httpx.TimeoutException:
            ex.error = f"no answer within {self.timeout:g} s (timeout)"
        except httpx.HTTPError as exc:
            tls = _tls_failure(exc, origin)
            if watched.cut:
                pass  # said below
            elif tls is not None:
                # the same certificate fails every time: one explanation, and no more handshakes
                self._given_up[origin] = tls
                ex.error = tls
            else:
                ex.error = _error_text(exc)
        finally:
            watched.finish()
            if slot is not None:
                slot.release()
        if watched.cut:
            ex.status, ex.response_headers, ex.response_body = None, [], ""
            ex.error = (
                f"no complete answer within {limit:g} s (the timeout bounds the whole exchange)"
                if limit >= self.timeout
                else f"cut at the run's deadline (--deadline), {limit:g} s into the exchange"
            )
        ex.duration_s = time.perf_counter() - start
        with self._lock:
            self.waited_s += ex.duration_s
            self._silent[origin] = self._silent.get(origin, 0) + 1 if ex.status is None else 0
        self.lane.waited_s += ex.duration_s
        self.register_secrets(ex, login=http is not self.http)
        self.log.append(ex)
        return ex

    def stop_sending(self, why: str) -> None:
        """Send nothing more, from any thread (an interrupted run): each request is refused with `why`."""
        with self._lock:
            self._stopped = why

    def _slot(self, origin: str) -> threading.BoundedSemaphore | None:
        """Wait for one of the server's max_in_flight slots and return it (None: no limit).

        Taken for the exchange only: a case that signs proofs, generates a key or waits between its
        requests holds no slot meanwhile.
        """
        if not self.max_in_flight:
            return None
        with self._lock:
            slot = self._slots.get(origin)
            if slot is None:
                slot = self._slots[origin] = threading.BoundedSemaphore(self.max_in_flight)
        slot.acquire()
        return slot

    def _count(self, origin: str) -> None:
        with self._lock:
            self.requests_sent[origin] = self.requests_sent.get(origin, 0) + 1
        self._count_here(origin)

    def _count_here(self, origin: str) -> None:
        """Count a request (already in requests_sent) for this thread and its lane."""
        lane = self.lane
        lane.sent[origin] = lane.sent.get(origin, 0) + 1
        self._local.sent = getattr(self._local, "sent", 0) + 1

    def _send_on_new_connection(
        self, http: httpx.Client, request: httpx.Request, backends: list[_CuttableBackend | None]
    ) -> httpx.Response:
        fresh = self.new_http_client()
        backends.append(_cuttable(fresh))  # the watchdog of this exchange cuts this one too
        fresh.cookies = http.cookies  # a login's hops keep their session
        try:
            response = fresh.send(request, stream=True)
        except BaseException:
            fresh.close()
            raise
        # the new pool closes with the response (its only connection is not kept for later requests)
        response.extensions["dpop_fresh_client"] = fresh
        return response

    @staticmethod
    def _read(response: httpx.Response, ex: Exchange) -> None:
        try:
            ex.status = response.status_code
            ex.response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
            ex.headers_dropped = int(response.extensions.get("dpop_headers_dropped", 0))
            # the raw bytes, decoded here within the cap: httpx's own decoding has no bound (a gzip bomb)
            try:
                body = decode_body(response.iter_raw(), response.headers.get_list("content-encoding"), MAX_BODY_BYTES)
            except CodingError as exc:
                ex.error = f"unreadable answer: {exc}"
                return
            ex.body_truncated = body.truncated
            ex.response_body = body.data.decode("utf-8", errors="replace")
        finally:
            response.close()
            fresh = response.extensions.get("dpop_fresh_client")
            if isinstance(fresh, httpx.Client):
                fresh.close()

    def _refuse_to_send(self, url: str) -> str | None:
        """Why this request must not be sent (deadline, request budget, a server that stopped answering).

        When it may go out, it is counted here, in the same step as the budget is checked: with several
        threads sending, --max-requests must hold exactly.
        """
        origin = origin_of(url)
        with self._lock:
            if self._stopped:
                return f"not sent: {self._stopped}"
            if self.deadline is not None and time.monotonic() > self.deadline:
                return "not sent: the run's deadline (--deadline) has passed"
            if self.max_requests is not None and sum(self.requests_sent.values()) >= self.max_requests:
                return f"not sent: the request budget (--max-requests {self.max_requests}) is spent"
            given_up = self._given_up.get(origin)
            if given_up:
                return f"not sent: {given_up}"
            silent = self._silent.get(origin, 0)
            if silent >= self.SILENT_LIMIT:
                return f"not sent: {origin} did not answer the last {silent} requests, so the suite gave up on it"
            wait = 0.0
            if self.max_rps:
                # each request takes the next free slot, 1/max_rps after the one before, whichever thread
                now = time.monotonic()
                slot = max(now, self._next_slot)
                self._next_slot = slot + 1.0 / self.max_rps
                wait = slot - now
            self.requests_sent[origin] = self.requests_sent.get(origin, 0) + 1
        self._count_here(origin)
        if wait > 0:
            time.sleep(wait)
        return None

    def register_secrets(self, ex: Exchange, *, login: bool = False) -> None:
        """Register every credential the exchange carries, whichever code path sent it.

        What the target hands out is learned only from the flows the suite started: tokens from the answers
        to its token requests, session cookies from the hops of its logins (`login`). A value anywhere
        else in an answer is the target's text, and a target must not be able to blank the evidence.
        """
        if login:
            cookies = [value for name, value in ex.response_headers if name.lower() == "set-cookie"]
            for value in cookies[:_COOKIES_KEPT]:
                self.redactor.add(value.split(";", 1)[0].partition("=")[2], "cookie", learned=True)
        for name, value in ex.request_headers:
            if name.lower() == "cookie":
                for pair in value.split(";")[:_COOKIES_KEPT]:
                    self.redactor.add(pair.partition("=")[2].strip(), "cookie", learned=True)
            if name.lower() in ("authorization", "proxy-authorization") and " " in value.strip():
                scheme, _, credential = value.strip().partition(" ")
                self.redactor.add(
                    credential.strip(), "client_credentials" if scheme.lower() == "basic" else "access_token"
                )
        form = parse_qs(ex.request_body) if ex.request_body and "=" in ex.request_body else {}
        for field_name in SECRET_FORM_FIELDS:
            for value in form.get(field_name, []):
                self.redactor.add(value, field_name)
        if "grant_type" not in form:
            return  # not a token request
        body = ex.json_object()
        for field_name in ("access_token", "refresh_token", "id_token"):
            token = body.get(field_name)
            if isinstance(token, str):
                self.redactor.add(token, field_name, learned=True)
