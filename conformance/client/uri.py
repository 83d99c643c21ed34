"""When two `htu` spellings name the same resource: the normalisations a server may legitimately apply.

§4.3 check 9 compares `htu` with the request URI "ignoring any query and fragment parts", and says servers
SHOULD normalise both per RFC 3986 §6.2.2 and §6.2.3 first. Servers written in JavaScript parse URLs the
WHATWG way instead, which also reads `127.1`, `0x7f.0.0.1`, `2130706433` and `127.0.0.1.` as 127.0.0.1. A
near miss the suite sends (another host, port, path) must name another resource under every one of
these, or a correct server that accepts it would be blamed: `equivalent` says whether it does.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

__all__ = ["equivalent", "normalisations", "rfc3986", "whatwg", "with_query"]

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)", re.DOTALL)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, host, port, path) of an absolute URL without its query and fragment, or None."""
    match = _ABSOLUTE.match(url)
    if match is None:
        return None
    scheme, authority, path = match.group(1), match.group(2), match.group(3)
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return scheme, host, port, path


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on whole segments (also what the WHATWG parser does with "." and "..")."""
    segments = path.split("/")
    output: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


def _port(scheme: str, port: str) -> str:
    if port == "" or port.lstrip("0") == _DEFAULT_PORTS.get(scheme.lower(), "-"):
        return ""
    return str(int(port)) if port.isdigit() else port


def rfc3986(url: str) -> str:
    """RFC 3986 §6.2.2 and §6.2.3: case, percent-encoding of unreserved characters, dot segments, ports."""
    parts = _split(url)
    if parts is None:
        return url
    scheme, host, port, path = parts

    def percent(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            char = chr(int(m.group(1), 16))
            return char if char in _UNRESERVED else "%" + m.group(1).upper()

        return _PERCENT.sub(repl, text)

    port = _port(scheme, port)
    netloc = percent(host.lower()) + (f":{port}" if port else "")
    return f"{scheme.lower()}://{netloc}{_remove_dot_segments(percent(path)) or '/'}"


def _ipv4_number(part: str) -> int | None:
    radix = 10
    if part[:2] in ("0x", "0X"):
        radix, part = 16, part[2:]
    elif len(part) > 1 and part.startswith("0"):
        radix, part = 8, part[1:]
    if part == "":
        return 0
    try:
        return int(part, radix) if re.fullmatch(r"[0-9A-Fa-f]+", part) else None
    except ValueError:
        return None


def _whatwg_host(host: str) -> str:
    """The WHATWG URL standard's host parser for non-bracketed hosts: lower case, then IPv4 numbers."""
    host = unquote(host).lower()
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts = parts[:-1]
    last = parts[-1] if parts else ""
    ends_in_number = bool(re.fullmatch(r"[0-9]+", last) or re.fullmatch(r"0x[0-9a-f]*", last))
    if not ends_in_number or len(parts) > 4:
        return host
    numbers = [_ipv4_number(p) if p else None for p in parts]
    if any(n is None for n in numbers):
        return host
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return host
    address = values[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(values[:-1]))
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def whatwg(url: str) -> str:
    """The WHATWG URL parser's serialisation (what Node's `new URL()` gives), without query and fragment."""
    parts = _split(url)
    if parts is None:
        return url
    scheme, host, port, path = parts
    host = host.lower() if host.startswith("[") else _whatwg_host(host)
    port = _port(scheme, port)
    return f"{scheme.lower()}://{host}{f':{port}' if port else ''}{_remove_dot_segments(path) or '/'}"


def _exact(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def normalisations() -> dict[str, Callable[[str], str]]:
    """Every normalisation a server may apply to both sides before comparing, by name."""
    return {
        "exact": _exact,
        "RFC 3986": rfc3986,
        "WHATWG": whatwg,
        "WHATWG, then RFC 3986": lambda url: rfc3986(whatwg(url)),
    }


def equivalent(a: str, b: str) -> str | None:
    """The name of a normalisation under which `a` and `b` are the same URI, or None when none makes them so."""
    for name, normalise in normalisations().items():
        if normalise(_exact(a)) == normalise(_exact(b)):
            return name
    return None


def with_query(url: str, name: str, value: str) -> str:
    """`url` with `name=value` added to its query string (a proof's htu leaves the query out, §4.3)."""
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({name: value})))
