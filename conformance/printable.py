"""Text from a target made safe to print: control characters shown as escapes, never obeyed.

A target's answers reach the terminal (error descriptions, headers, nonces, URLs from its metadata). Sent
raw, an ANSI or OSC sequence in them would change the terminal title, clear the screen or write the
clipboard (OSC 52). Every control character (C0, DEL, C1, which includes the one-byte CSI \\x9b) and every
bidirectional override (which can make text read other than it is) is written as a visible escape such as
\\x1b or \\u202e. Tabs become spaces; line breaks are escaped too unless the text may span lines.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_text", "markdown_cell", "printable"]

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control character and bidi override escaped (line breaks kept when `lines`)."""
    text = text.replace("\t", " ")
    return (_UNSAFE if lines else _UNSAFE_ONE_LINE).sub(_escape, text)


def html_text(text: str) -> str:
    """`text` for an HTML page: control characters escaped visibly, then HTML-escaped."""
    return html.escape(printable(text, lines=True))


# Markdown punctuation that could start a span, a link, raw HTML or end a table cell (CommonMark escapes
# any ASCII punctuation with a backslash; GitHub's tables honour \| even inside a code span).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!~&])")


def markdown_cell(text: str) -> str:
    """`text` as the content of one Markdown table cell: one line, escaped, no span or cell break from it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))
