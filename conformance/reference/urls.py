"""URL handling for the htu check: RFC 3986 normalisation and the server's view of its own URL."""

from __future__ import annotations

import re
import socket
import string
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["normalize_url", "server_url", "strip_query_and_fragment", "whatwg_ipv4", "whatwg_url"]

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)
_PORT = re.compile(r"[0-9]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalize_percent(text: str) -> str:
    """RFC 3986 §6.2.2.1/§6.2.2.2: decode unreserved characters, upper-case the remaining escapes."""

    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(repl, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on a read position instead of a shrinking input buffer (linear time)."""
    output: list[str] = []
    pos, end = 0, len(path)
    while pos < end:
        rest = path[pos : pos + 4]
        if rest.startswith("../"):
            pos += 3
        elif rest.startswith("./"):
            pos += 2
        elif rest.startswith("/./"):
            pos += 2  # the input now starts with the "/" that replaced "/./"
        elif rest == "/.":
            output.append("/")
            pos = end
        elif rest == "/../" or rest == "/..":
            if output:
                output.pop()
            if rest == "/..":
                output.append("/")
                pos = end
            else:
                pos += 3
        elif path[pos:] in (".", ".."):
            pos = end
        else:
            stop = path.find("/", pos + 1)
            stop = end if stop < 0 else stop
            output.append(path[pos:stop])
            pos = stop
    return "".join(output)


_IPV4_SPELLING = re.compile(r"[0-9A-Fa-fXx.]+")


def whatwg_ipv4(url: str) -> str:
    """The `htu-whatwg` leniency: an IPv4 host in any spelling the WHATWG URL parser reads (127.1, 0x7f.0.0.1,
    2130706433, 0177.0.0.1, a trailing dot) written as a dotted quad; other URLs unchanged.

    inet_aton(3) reads the same forms (the WHATWG parser was written after it), so it does the work here.
    """
    match = _ABSOLUTE.fullmatch(url.split("#", 1)[0].split("?", 1)[0])
    if match is None:
        return url
    userinfo, at, hostport = match.group(2).rpartition("@")
    host, colon, port = hostport.partition(":")
    candidate = host[:-1] if host.endswith(".") else host
    if not _IPV4_SPELLING.fullmatch(candidate) or not any(c.isdigit() for c in candidate):
        return url
    try:
        dotted = socket.inet_ntoa(socket.inet_aton(candidate))
    except OSError:
        return url
    start, end = match.span(2)
    return url[:start] + userinfo + at + dotted + colon + port + url[end:]


def whatwg_url(url: str) -> str:
    """The `htu-whatwg` leniency: the URL as the WHATWG parser reads an http(s) URL: a backslash before the query
    is a slash, and an IPv4 host in any spelling is a dotted quad (`whatwg_ipv4`)."""
    if url[:5].lower() in ("http:", "https"):
        head, mark, rest = url.partition("?")
        url = head.replace("\\", "/") + mark + rest
    return whatwg_ipv4(url)


def strip_query_and_fragment(url: str) -> str:
    """Drop the `?query` and `#fragment` parts of a URL, as §4.3 step 9 says to ignore them."""
    return url.split("#", 1)[0].split("?", 1)[0]


def normalize_url(url: str, *, keep_query: bool = False) -> str | None:
    """Normalise an absolute URL per RFC 3986 §6.2.2 and §6.2.3; None when it is not one.

    Lower-cases scheme and host, drops the scheme's default port, decodes percent-encoded unreserved
    characters, upper-cases other escapes, removes dot segments and turns an empty path into "/".
    The fragment is always dropped; the query too unless `keep_query`.
    """
    without_fragment = url.split("#", 1)[0]
    base, has_query, query = without_fragment.partition("?")
    match = _ABSOLUTE.fullmatch(base)
    if match is None:
        return None
    scheme = match.group(1).lower()
    userinfo, has_userinfo, hostport = match.group(2).rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return None
        host, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, _, port = hostport.partition(":")
    if not host:
        return None
    port_text = ""
    if port:
        # An empty port means "no port" (§6.2.3); anything but digits is not a URL we can match.
        if not _PORT.fullmatch(port) or len(port) > 5:
            return None
        if int(port) != _DEFAULT_PORTS.get(scheme):
            port_text = f":{int(port)}"
    host = _normalize_percent(host.lower())
    path = _remove_dot_segments(_normalize_percent(match.group(3))) or "/"
    prefix = _normalize_percent(userinfo) + "@" if has_userinfo else ""
    result = f"{scheme}://{prefix}{host}{port_text}{path}"
    if keep_query and has_query:
        result += "?" + _normalize_percent(query)
    return result


def _first(value: str | None) -> str | None:
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _forwarded_pair(forwarded: str | None, name: str) -> str | None:
    """The value of `name` in the first element of an RFC 7239 Forwarded header."""
    element = _first(forwarded)
    if element is None:
        return None
    for pair in element.split(";"):
        key, _, value = pair.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"') or None
    return None


def server_url(
    base_url: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    defects: frozenset[str] = frozenset(),
) -> str:
    """The URL of the current request as this server sees it: configured base URL + request path.

    Host, X-Forwarded-* and Forwarded request headers are ignored on purpose: trusting them lets a
    client make the server accept proofs minted for another origin. The `htu-forwarded` and
    `htu-https-assumed` defects reintroduce exactly those reverse-proxy bugs.
    """
    parts = urlsplit(base_url)
    scheme, netloc, prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")
    if "htu-forwarded" in defects:
        proto = _first(headers.get("x-forwarded-proto")) or _forwarded_pair(headers.get("forwarded"), "proto")
        host = _first(headers.get("x-forwarded-host")) or _forwarded_pair(headers.get("forwarded"), "host")
        scheme = proto or scheme
        netloc = host or netloc
    if "htu-from-host" in defects:
        netloc = headers.get("host") or netloc  # the bug: its own URL is what the client says it called
    if "htu-https-assumed" in defects:
        scheme = "https"
    url = f"{scheme}://{netloc}{prefix}{path}"
    return f"{url}?{query}" if query else url
