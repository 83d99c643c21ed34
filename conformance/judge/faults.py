"""The fault table: every way a proof can be wrong, with the one requirement and the one level it breaks.

Fixed cases (conformance/judge/mutations.py, cases/test_s04_3_checking_proofs.py) and fuzz strategies
(conformance/judge/strategies.py) both name their fault here, so a fault has one level wherever it is found:
`jti` as a number is a SHOULD in `as-proof-jti-number` and in the claims fuzz case alike.

Two kinds of fault:
- **invalid**: the proof means something else than the valid one (other claims, a signature that does not
  verify over what was sent, another key, `alg: none` in any case). Accepting it breaks the listed level.
- **lenient**: the proof is not well-formed, but it decodes to exactly the header, claims and signature of
  a valid proof signed by the holder of the key (base64 padding, characters a decoder skips, the standard
  alphabet, a `jwk` member a JOSE library ignores beside the holder's key). Accepting it gives an attacker
  nothing they could not send in canonical form, so it is *lenient parsing*: a warning, with the RFC
  sentences it bends (`LENIENT_RULE`), never a MUST failure.

Values the RFC leaves open (`typ` of `application/dpop+jwt`, extra `jwk` members, a fractional `iat`) are
not faults, and nothing here generates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.client.evidence import Exchange
from conformance.client.proof import ProofDraft
from conformance.jose import peek_claims
from conformance.judge.verdicts import Level

__all__ = [
    "FAULTS",
    "LENIENT_RULE",
    "Change",
    "Fault",
    "acceptance_level",
    "answered_as_if_absent",
    "fault",
    "render_fault_table",
]

#: what a lenient encoding bends: the reason accepting one is a warning, not a failure
LENIENT_RULE = (
    "RFC 7515 §2 and §7.1 (base64url without padding, line breaks, whitespace or other additional characters), "
    "RFC 7519 §7.2 (a JWT that is not well-formed is rejected), RFC 9449 §4.3 check 2 (a well-formed JWT); "
    "the decoded proof is the valid one the key holder signed, so nothing is gained that a canonical proof "
    "could not get: lenient parsing, a warning"
)


@dataclass(frozen=True)
class Fault:
    """One way a proof breaks a requirement."""

    id: str
    part: str  # structure | header | claims | signature
    requirement: str  # the row of the requirement catalog
    level: Level  # the level accepting such a proof breaks
    rule: str  # what it breaks, in a phrase: "§4.3 check 4: typ is dpop+jwt"
    lenient: bool = False  # meaning preserved: the decoded proof is the valid one (see the module docstring)
    # accepted with a server nonce in the proof, it is info: freshness may come from the nonce (§4.3 check 11)
    stale_only: bool = False
    # accepted as if no proof were sent (an unbound Bearer token, a PAR request_uri without binding), it is
    # info: §5 lets an AS issue unbound tokens, and a proof is optional at PAR
    absent_is_info: bool = False

    def __post_init__(self) -> None:
        if self.lenient and self.level is not Level.SHOULD:
            raise ValueError(f"fault {self.id}: a lenient encoding is a SHOULD (lenient parsing), never {self.level}")


@dataclass(frozen=True)
class Change:
    """A named change that turns a valid proof draft into a proof with one fault, or, without a fault, into
    another valid proof (a variant that must be accepted).

    The one vocabulary of the fixed cases and the fuzz cases: the fixed cases name theirs
    (conformance/judge/mutations.py), the fuzz strategies draw theirs (conformance/judge/strategies.py), and
    either is judged at its fault's level.
    """

    name: str
    fault: Fault | None  # None: the proof stays valid (a variant that must be accepted)
    description: str  # a noun phrase: "a proof with <description>"
    apply: Callable[[ProofDraft], str]
    part: str  # the part of the proof it acts on: structure | header | claims | signature
    # what identifies a drawn change (maker and parameters): the same key is the same request, so a server's
    # answer to it is observed once (a replay cache would refuse the second copy of a corrupt jti)
    key: tuple[Any, ...] = ()
    requirement_if_valid: str = ""  # the requirement a valid variant checks

    @property
    def fault_id(self) -> str:
        """The fault's id ("" for a valid variant)."""
        return self.fault.id if self.fault else ""

    @property
    def breaks(self) -> Fault:
        """The fault, for a change that has one (every change the fuzz strategies draw)."""
        if self.fault is None:
            raise ValueError(f"the change {self.name} makes a valid proof: it breaks nothing")
        return self.fault

    @property
    def requirement(self) -> str:
        """The catalog requirement the changed proof breaks (or, for a valid variant, checks)."""
        return self.fault.requirement if self.fault else self.requirement_if_valid

    @property
    def stale_only(self) -> bool:
        """True when the change only makes the proof stale: freshness may come from a server nonce instead."""
        return self.fault is not None and self.fault.stale_only

    def __call__(self, draft: ProofDraft) -> str:
        """Apply the change and return the signed (or deliberately mis-signed) compact proof."""
        return self.apply(draft)

    def __repr__(self) -> str:  # what Hypothesis prints for the minimal example
        return f"<{self.fault_id or self.name}: {self.description} ({self.requirement})>"


FAULTS: dict[str, Fault] = {}


def _fault(
    fault_id: str,
    part: str,
    requirement: str,
    level: Level,
    rule: str,
    *,
    lenient: bool = False,
    stale_only: bool = False,
    absent_is_info: bool = False,
) -> None:
    entry = Fault(fault_id, part, requirement, level, rule, lenient, stale_only, absent_is_info)
    if entry.id in FAULTS:  # pragma: no cover - a programming error caught at import
        raise ValueError(f"fault {entry.id!r} declared twice")
    FAULTS[entry.id] = entry


def fault(fault_id: str) -> Fault:
    """Look a fault up by id."""
    try:
        return FAULTS[fault_id]
    except KeyError:
        raise KeyError(f"unknown fault {fault_id!r}; known: {', '.join(sorted(FAULTS))}") from None


def answered_as_if_absent(final: Exchange) -> str | None:
    """What shows that a 2xx answer treated the proof as absent (nothing bound to a key), or None.

    An unbound Bearer token (token_type Bearer, no cnf in a JWT access token), or a PAR request_uri (a
    proof is optional at PAR, and a request without one binds nothing).
    """
    if not final.ok:
        return None
    body = final.json_object()
    if "request_uri" in body:
        return "a request_uri (a DPoP proof is optional at PAR)"
    token_type = str(body.get("token_type", "")).lower()
    if token_type == "bearer" and "cnf" not in (peek_claims(str(body.get("access_token", ""))) or {}):
        return "an unbound Bearer token"
    return None


def acceptance_level(found: Fault, final: Exchange, proof: dict[str, Any] | None) -> tuple[Level, str]:
    """The level at which accepting a proof with `found` counts, and why it is lower than the fault's, if it is.

    Where the RFC allows another reading, acceptance is info (MAY): freshness from a server nonce instead
    of iat (§4.3 check 11), or an empty field read as no DPoP header at all, with nothing bound (§5).
    """
    if found.stale_only and proof is not None and "nonce" in proof:
        return Level.MAY, (
            f"accepted a proof whose iat is {proof.get('iat')} because it carried a valid server nonce: freshness "
            "from the nonce instead of iat (§4.3 check 11) is allowed"
        )
    unbound = answered_as_if_absent(final) if found.absent_is_info else None
    if unbound:
        return Level.MAY, (
            f"an empty DPoP header field was treated as no DPoP header: HTTP {final.status} with {unbound}, nothing "
            "bound to a key (§5 lets an AS issue unbound tokens)"
        )
    return found.level, ""


MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY

# --- structure: the compact serialization (§4.3 checks 1 and 2) ---------------------------------------
_fault("more-than-one-proof", "structure", "R-4.3-1", MUST, "§4.3 check 1: at most one DPoP header field")
_fault("not-a-jws", "structure", "R-4.3-2", MUST, "§4.3 check 2: a single well-formed JWT (a compact JWS)")
_fault(
    "empty-value",
    "structure",
    "R-4.3-2",
    MUST,
    "§4.3 check 2: a well-formed JWT (an empty field holds none)",
    absent_is_info=True,
)
_fault("not-base64url", "structure", "R-4.3-2", MUST, "§4.3 check 2: base64url segments (these decode to other bytes)")
_fault("segment-not-json", "structure", "R-4.3-2", MUST, "§4.3 check 2: header and payload are UTF-8 JSON")
_fault("segment-not-object", "structure", "R-4.3-2", MUST, "§4.3 check 2: header and payload are JSON objects")
_fault(
    "duplicate-member",
    "structure",
    "R-4.3-2",
    MUST,
    "RFC 7515 §4 / RFC 7519 §4: a duplicate member is refused or the last one wins",
)
_fault("b64-padding", "structure", "R-4.3-2", SHOULD, "base64url has no = padding (RFC 7515 §2)", lenient=True)
_fault(
    "b64-foreign-characters",
    "structure",
    "R-4.3-2",
    SHOULD,
    "base64url has no other characters (RFC 7515 §2, RFC 7519 §7.2)",
    lenient=True,
)
_fault(
    "b64-standard-alphabet",
    "structure",
    "R-4.3-2",
    SHOULD,
    "base64url uses - and _, not the standard alphabet's + and / (RFC 7515 §2)",
    lenient=True,
)

# --- header (§4.3 checks 4 to 7) --------------------------------------------------------------------------
_fault("typ-wrong", "header", "R-4.3-4", MUST, "§4.3 check 4: typ is dpop+jwt (§11.5: explicit typing)")
_fault(
    "typ-not-ascii",
    "header",
    "R-4.3-4",
    MUST,
    "§4.3 check 4: typ is dpop+jwt; with a character outside ASCII (inside Latin-1) it is another value",
)
_fault(
    "typ-not-latin1",
    "header",
    "R-4.3-4",
    MUST,
    "§4.3 check 4: typ is dpop+jwt; with a character outside Latin-1 it is another value (which a server that "
    "echoes it into a header cannot send)",
)
_fault("alg-none", "header", "R-4.3-5", MUST, "§4.3 check 5 and §11.6: alg none MUST NOT be allowed")
_fault("alg-symmetric", "header", "R-4.3-5", MUST, "§4.3 check 5: an asymmetric algorithm, never a MAC")
_fault(
    "alg-not-accepted",
    "header",
    "R-4.3-5",
    MUST,
    "§4.3 check 5: a registered algorithm the server accepts, fitting the key",
)
_fault(
    "alg-not-ascii",
    "header",
    "R-4.3-5",
    MUST,
    "§4.3 check 5: a registered algorithm; no registered name has a character outside ASCII",
)
_fault(
    "alg-not-latin1",
    "header",
    "R-4.3-5",
    MUST,
    "§4.3 check 5: a registered algorithm; a look-alike with a character outside Latin-1 is none (and a server "
    "that echoes it into a header cannot send it)",
)
_fault(
    "alg-case",
    "header",
    "R-4.3-5",
    SHOULD,
    "alg names are case-sensitive (RFC 7515 §4.1.1); the signature is the key's own algorithm's",
    lenient=True,
)
_fault("jwk-private", "header", "R-4.3-7", MUST, "§4.3 check 7: the jwk MUST NOT contain a private key")
_fault("jwk-missing", "header", "R-4.3-7", MUST, "§4.2: the jwk header member carrying the public key is required")
_fault("jwk-other-key", "header", "R-4.3-6", MUST, "§4.3 check 6: the signature verifies with the key in jwk")
_fault(
    "jwk-odd-member",
    "header",
    "R-4.3-6",
    SHOULD,
    "a JWK's kty and crv are strings naming the key, and e has no leading zero octet (RFC 7517 §4.1, RFC 7518 "
    "§6.2.1.1, §6.3.1.2); the holder's key material is unchanged",
    lenient=True,
)
_fault("crit-unknown", "header", "R-4.3-2", MUST, "RFC 7515 §4.1.11: an extension in crit the server does not know")
_fault(
    "b64-unencoded",
    "header",
    "RFC7797-7",
    SHOULD,
    'RFC 7797 §7: a JWT MUST NOT use "b64" false (a producer\'s rule); the signature covers the payload segment '
    "as sent, so a recipient that knows b64 and decodes it reads the claims the key holder signed",
    lenient=True,
)

# --- claims (§4.3 checks 3 and 8 to 12) --------------------------------------------------------------------
_fault("claim-missing", "claims", "R-4.3-3", MUST, "§4.3 check 3: jti, htm, htu and iat are required")
_fault(
    "jti-wrong-type",
    "claims",
    "RFC7519-4.1.7",
    SHOULD,
    "jti is a string (RFC 7519 §4.1.7): the producer's duty, so a server that reads another type is lenient",
)
_fault(
    "jti-array",
    "claims",
    "RFC7519-4.1.7",
    SHOULD,
    "jti is a string (RFC 7519 §4.1.7), not an array: the producer's duty",
)
_fault(
    "jti-object",
    "claims",
    "RFC7519-4.1.7",
    SHOULD,
    "jti is a string (RFC 7519 §4.1.7), not an object: the producer's duty",
)
_fault(
    "iat-wrong-type",
    "claims",
    "RFC7519-4.1.6",
    SHOULD,
    "iat is a NumericDate, a JSON number (RFC 7519 §4.1.6); a string of digits still names the same time",
)
_fault(
    "iat-not-a-number",
    "claims",
    "R-4.3-11",
    MUST,
    "§4.3 check 11: a creation time within the window; an iat that names no time (null, true, text, a list) "
    "cannot be in it",
    stale_only=True,
)
_fault("htm-mismatch", "claims", "R-4.3-8", MUST, "§4.3 check 8: htm matches the request method")
_fault(
    "htm-not-a-string",
    "claims",
    "R-4.3-8",
    MUST,
    "§4.3 check 8: htm matches the request method; a number, list or object never does (and code that calls a string "
    "method on it fails)",
)
_fault(
    "htm-case",
    "claims",
    "R-4.3-8",
    SHOULD,
    "§4.3 check 8: methods are case-sensitive (RFC 9110 §9.1), so the lower-case method does not match",
)
_fault("htu-mismatch", "claims", "R-4.3-9", MUST, "§4.3 check 9: htu matches the request URI (another resource)")
_fault(
    "htu-not-a-string",
    "claims",
    "R-4.3-9",
    MUST,
    "§4.3 check 9: htu matches the request URI; a number, list or object never does (and a URL parser fed one fails)",
)
_fault(
    "htu-port-out-of-range",
    "claims",
    "R-4.3-9",
    MUST,
    "§4.3 check 9: htu matches the request URI; one whose port is out of range (over 65535) names no server",
)
_fault(
    "htu-host-malformed",
    "claims",
    "R-4.3-9",
    MUST,
    "§4.3 check 9: htu matches the request URI; one whose host is a malformed IP literal ([::1 without its "
    "bracket, an IPv4 address in brackets) names no URI at all",
)
_fault(
    "htu-truncated",
    "claims",
    "R-4.3-9",
    MUST,
    "§4.3 check 9: htu matches the request URI; a prefix of it names another resource (startswith takes it)",
)
_fault(
    "htu-backslash",
    "claims",
    "R-4.3-9",
    SHOULD,
    "§4.3 check 9: htu is the request URI; a backslash makes it no URI at all to RFC 3986, while WHATWG URL "
    "parsing (Node's) reads it as the slash, naming the request URI",
    lenient=True,
)
_fault("nonce-wrong", "claims", "R-4.3-10", MUST, "§4.3 check 10: the nonce is one the server provided")
_fault(
    "iat-outside-window",
    "claims",
    "R-4.3-11",
    MUST,
    "§4.3 check 11 and §11.1: created within an acceptable window",
    stale_only=True,
)
# RFC 9449 does not use exp or nbf: a proof is fresh by its iat or a nonce (§4.3 check 11), and RFC 7519 §4 lets a
# recipient ignore the claims its application does not process; what a server does with them is recorded
_fault(
    "exp-passed",
    "claims",
    "RFC7519-4.1.4",
    MAY,
    "RFC 7519 §4.1.4 (exp) where a JWT application processes it; RFC 9449 does not, so honouring it is recorded",
)
_fault(
    "nbf-future",
    "claims",
    "RFC7519-4.1.5",
    MAY,
    "RFC 7519 §4.1.5 (nbf) where a JWT application processes it; RFC 9449 does not, so honouring it is recorded",
)
_fault(
    "ath-padded",
    "claims",
    "R-4.3-12a",
    SHOULD,
    "ath is base64url without = padding (§4.2, RFC 7515 §2); a decoder that drops the padding reads the same hash",
    lenient=True,
)
_fault(
    "ath-wrong",
    "claims",
    "R-4.3-12a",
    MUST,
    "§4.3 check 12: ath is base64url(SHA-256(access token)), no padding",
)

# --- the Authorization header carrying the token (§7.1: credentials = "DPoP" 1*SP token68) ------------------
_fault(
    "authorization-trailing-text",
    "authorization",
    "R-7.1-1",
    SHOULD,
    '§7.1: the credentials are "DPoP" 1*SP token68, with nothing after the token; the token itself is intact',
    lenient=True,
)
_fault(
    "authorization-tab",
    "authorization",
    "R-7.1-1",
    SHOULD,
    '§7.1 and RFC 9110 §11.4: spaces (SP), not a tab, after "DPoP"; the token itself is intact',
    lenient=True,
)
_fault(
    "authorization-no-token",
    "authorization",
    "R-7.1-2",
    MUST,
    "§7.1: no access unless all checks are successful, and without a token there is none to bind the proof to",
)

# --- signature (§4.3 check 6) --------------------------------------------------------------------------------
_fault("signature-altered", "signature", "R-4.3-6", MUST, "§4.3 check 6: the signature verifies over what was sent")
_fault("signature-empty", "signature", "R-4.3-6", MUST, "§4.3 check 6: the signature verifies (an empty one cannot)")
_fault(
    "signature-zero",
    "signature",
    "R-4.3-6",
    MUST,
    "§4.3 check 6: the signature verifies (all-zero r and s, CVE-2022-21449)",
)
_fault("signature-other-key", "signature", "R-4.3-6", MUST, "§4.3 check 6: signed by the key in the jwk header")
_fault(
    "signature-der",
    "signature",
    "R-4.3-6",
    MUST,
    "§4.3 check 6: ECDSA signatures are raw r‖s (RFC 7518 §3.4: the value MUST be a 64-octet sequence)",
)


LEVEL_NOTES = """\
The fixed cases and the fuzz cases take their levels from this one table (conformance/judge/faults.py), so a
fault has the same level wherever it is found. What changed when the table was introduced:

- **No fixed case changed level.** `*-proof-jti-number` and `*-proof-iat-string` were already SHOULD; the
  claims fuzz cases judged the same faults as MUST, and now judge them as SHOULD too.
- **The fuzz cases no longer judge an empty `jti` at all**: the claim is present, and its uniqueness is the
  client's duty (§4.2). An empty `DPoP` field is judged as in `as-proof-not-jwt-empty`: info where the AS
  reads it as no header and binds nothing (§5), a MUST failure otherwise.
- **Lenient encodings are new faults, warnings**: a proof that is not well-formed but decodes to exactly the
  valid proof the key holder signed (padding, characters a decoder skips, the standard alphabet, a `jwk`
  written oddly). New fixed cases check each at the token endpoint, the resource and the PAR endpoint
  (`*-proof-b64-padded`, `*-proof-b64-foreign-characters`, `*-proof-b64-standard-alphabet`,
  `*-proof-jwk-odd-member`). Before, the structure fuzz cases judged such proofs as MUST failures, and
  correct servers built on jwcrypto and on Node's jose failed.
- **htu near misses** are drawn only where they name another resource under RFC 3986 normalisation and under
  WHATWG URL parsing (`127.0x0.1` is `127.0.0.1` to a Node server), see conformance/client/uri.py.
"""


def render_fault_table(fixed_cases: dict[str, list[str]]) -> str:
    """The fault table as Markdown, each fault with the fixed cases (case id patterns) that send it."""
    lines = [
        "## Faults and their levels",
        "",
        LEVEL_NOTES,
        "| fault | part | requirement | level | kind | what it breaks | fixed cases |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in FAULTS.values():
        kind = "lenient encoding" if entry.lenient else "invalid"
        if entry.stale_only:
            kind += " (info with a server nonce)"
        if entry.absent_is_info:
            kind += " (info when read as no header)"
        cases = " ".join(f"`{c}`" for c in fixed_cases.get(entry.id, [])) or "fuzz cases only"
        lines.append(
            f"| `{entry.id}` | {entry.part} | {entry.requirement} | {entry.level.value} | {kind} | {entry.rule} | "
            f"{cases} |"
        )
    return "\n".join(lines) + "\n"
