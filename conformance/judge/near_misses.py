"""Near misses of a compared value: the same string changed in one position, cut, extended or re-cased.

A server must compare `ath`, `nonce`, `htu` and the bound `jkt` whole and exactly. Real bugs compare a
prefix (`startswith`, the first 40 characters), compare case-insensitively, or check a value's form and
not its content; each near miss below is the smallest change one of those bugs lets through.

Base64url values need care: the last character of an encoding whose length is not a multiple of four
carries padding bits a decoder ignores, so replacing it with any other character may leave the decoded
bytes unchanged. A changed character here always differs in its top bit (index XOR 32), which is a data
bit in every position, so the decoded bytes differ too and the near miss never has the value's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["B64URL_ALPHABET", "NearMiss", "changed_at", "near_misses"]

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(B64URL_ALPHABET)}


@dataclass(frozen=True)
class NearMiss:
    """One variant of a value: what was changed (for messages) and the changed value."""

    name: str  # "first character changed", ...
    value: str


def changed_at(value: str, position: int) -> str:
    """`value` with the character at `position` replaced by another one that changes its decoded bytes.

    A base64url character becomes the one whose index differs in the top bit (its value XOR 32), another
    character of the alphabet; any other character becomes "A" (or "B" where it is "A").
    """
    c = value[position]
    index = _INDEX.get(c)
    other = B64URL_ALPHABET[index ^ 32] if index is not None else ("A" if c != "A" else "B")
    return value[:position] + other + value[position + 1 :]


def near_misses(value: str, *, case_variant: bool = True) -> list[NearMiss]:
    """The near misses of `value`: each differs from it, and from one another, in exactly one way.

    The first, a middle and the last character changed; the last character dropped; one character
    appended (two after a whole base64 group); and (with `case_variant`) the letters' case swapped, when
    the value has letters. Values shorter than two characters only get the changes that make sense for
    them. For base64url text every near miss decodes to other bytes, even with a lenient decoder.
    """
    if not value:
        return [NearMiss("one character appended", "A")]
    b64 = all(c in _INDEX for c in value)
    found = [NearMiss("first character changed", changed_at(value, 0))]
    if len(value) >= 3:
        found.append(NearMiss("middle character changed", changed_at(value, len(value) // 2)))
    # A base64 text one character past a 4-character group ends in a character no decoder can use (Node's
    # Buffer skips it): changing or dropping it changes nothing decoded, so those near misses are not sent.
    dangling = b64 and len(value) % 4 == 1
    if len(value) >= 2 and not dangling:
        found.append(NearMiss("last character changed", changed_at(value, len(value) - 1)))
        found.append(NearMiss("last character dropped", value[:-1]))
    # One character after a whole 4-character group would dangle in turn: two make a decoded byte more.
    extra = "AA" if b64 and len(value) % 4 == 0 else "A"
    if value.endswith("A"):
        extra = extra.replace("A", "B")
    found.append(NearMiss(f"{'two characters' if len(extra) == 2 else 'one character'} appended", value + extra))
    swapped = value.swapcase()
    if case_variant and swapped != value:
        found.append(NearMiss("letters in the other case", swapped))
    unique: dict[str, NearMiss] = {}
    for miss in found:
        if miss.value != value:
            unique.setdefault(miss.value, miss)
    return list(unique.values())
