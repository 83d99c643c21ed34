"""Likely causes of failures, each with its fix, for the people who read the report.

Keyed by shell-style patterns of case ids; the first match wins, so specific patterns come first. A hint
names what many cases share ("the server compares htu as a raw string") in words that are the same for
each of them: report/findings.py groups the failed and warning cases by it (unless a case's violation named
a cause shared by other cases, such as a wrong status code), and the plugin adds it to the case's message.
A case's own cause and fix (what its server did, what to change there) are written where its check is
(conformance/judge/), never here.
"""

from __future__ import annotations

import fnmatch
from typing import NamedTuple

__all__ = ["HINTS", "Hint", "hint_for"]


class Hint(NamedTuple):
    """A likely cause shared by the cases whose ids match, and what to change."""

    cause: str  # what the server likely does, lower case, no final stop
    fix: str  # what to change, as an instruction

    def __str__(self) -> str:
        return f"{self.cause}; fix: {self.fix}"


_PROXY = (
    "trust forwarding headers only from your own proxy, or configure the server's public URL and compare htu with it"
)

#: one family for claims of the wrong JSON type, whichever claim it is
_CLAIM_TYPES = Hint(
    "the server takes claims of another JSON type than RFC 7519 gives them (iat as a string, jti as a number)",
    "refuse a proof whose iat is not a JSON number or whose jti is not a string (RFC 7519 §4.1.6, §4.1.7)",
)

HINTS: list[tuple[str, Hint]] = [
    ("*-htu-host-spoof", Hint("the server builds the URI it compares htu with from the Host header", _PROXY)),
    (
        "*-proof-htu-userinfo",
        Hint(
            "the server compares only scheme, host, port and path of htu (a WHATWG origin and pathname, or what "
            "urllib reads), and userinfo makes another URI",
            "compare the whole normalised URI (RFC 3986 §6.2)",
        ),
    ),
    (
        "*-proof-htu-backslash-*",
        Hint(
            "the server's URL parser reads a backslash as something else (WHATWG: a slash; urllib: part of the "
            "userinfo)",
            "compare htu as an RFC 3986 URI, which has no backslash, or refuse it",
        ),
    ),
    (
        "rs-checks-under-two-authorization-lines-*",
        Hint(
            "the proof checker and the code that grants access read different Authorization lines",
            "refuse a request with more than one Authorization line (RFC 6750 §3.1: 400 invalid_request)",
        ),
    ),
    (
        "rs-authorization-*",
        Hint(
            "the resource splits the Authorization header loosely",
            'read it as "DPoP", spaces, exactly one token68 (§7.1), and refuse trailing text, a tab, or no token',
        ),
    ),
    (
        "*-primed-kid-*",
        Hint(
            "the server remembers a key's thumbprint by its kid",
            "compute the RFC 7638 thumbprint of each proof's own jwk; a kid names nothing",
        ),
    ),
    (
        "*-primed-jti-*",
        Hint(
            "the server hands an earlier verdict to a proof that reuses a jti it has seen",
            "verify every proof, and refuse a jti it has seen (§11.1)",
        ),
    ),
    (
        "*-primed-nonce-*",
        Hint(
            "the server takes a nonce seen on a verified proof for a verified proof",
            "verify every signature: a nonce vouches for freshness only (§4.3 check 6, §8)",
        ),
    ),
    (
        "*-proof-b64-false",
        Hint(
            "the server's JOSE library accepts RFC 7797's \"b64\": false in a JWT (RFC 7797 §7: JWTs MUST NOT use it)",
            "refuse crit [b64] in a DPoP proof",
        ),
    ),
    (
        "rs-challenge-without-credentials",
        Hint(
            "the resource does not answer a request without credentials with a challenge it accepts",
            'answer it with 401 and WWW-Authenticate: DPoP algs="..." (RFC 9110 §15.5.2, RFC 9449 §7.1)',
        ),
    ),
    (
        "*-htu-x-forwarded-spoof",
        Hint("the server builds the request URI from X-Forwarded-* headers the client sent", _PROXY),
    ),
    (
        "*-htu-forwarded-spoof",
        Hint("the server builds the request URI from a Forwarded header the client sent", _PROXY),
    ),
    (
        "rs-htu-query-ignored",
        Hint(
            "the resource compares htu with the full request URI, query included",
            "strip the query (and the fragment) before comparing (§4.3 check 9)",
        ),
    ),
    (
        "*-proof-htu-*",
        Hint(
            "the server does not compare htu with its own URI, or builds that URI from the wrong host",
            "compare htu with the URI the client used (§4.3 check 9); behind a reverse proxy, configure the public URL",
        ),
    ),
    (
        "*-htu-*",
        Hint(
            "the server compares htu as a raw string",
            "normalise both sides per RFC 3986 §6.2.2 and §6.2.3 before comparing (§4.3 check 9)",
        ),
    ),
    (
        "as-proof-accepted",
        Hint(
            "the token endpoint refuses a valid DPoP proof",
            "read the error it answers: an htu error means it builds its own URL with the wrong scheme, host or port "
            "(a reverse proxy in front of it), so configure its public URL",
        ),
    ),
    (
        "*-proof-htm-*",
        Hint(
            "the server does not compare htm with the request method, case-sensitively",
            "refuse a proof whose htm is not exactly the request's method (§4.3 check 8)",
        ),
    ),
    (
        "rs-proof-ath-*",
        Hint(
            "the resource does not check ath against the SHA-256 of the presented token",
            "compare ath with the base64url SHA-256 of the access token, without padding (§4.2, §4.3 check 12)",
        ),
    ),
    (
        "rs-key-swap*",
        Hint(
            "the resource does not compare the proof's key thumbprint with the token's cnf.jkt",
            "refuse a proof whose jwk's RFC 7638 thumbprint is not the token's cnf.jkt, for every key type (§6)",
        ),
    ),
    (
        "rs-bearer-downgrade*",
        Hint(
            "the resource ignores cnf when the token comes as a bearer token",
            "refuse tokens with cnf.jkt unless they come with the DPoP scheme and a proof (§7.2)",
        ),
    ),
    (
        "rs-proof-missing",
        Hint(
            "the resource accepts the DPoP scheme without checking that a DPoP header came along",
            "refuse a DPoP-scheme request that carries no proof (§7.1)",
        ),
    ),
    (
        "rs-accepts-dpop-request",
        Hint(
            "the resource refuses a valid DPoP request",
            "check its ath computation (base64url SHA-256 of the token, no padding) and that it accepts the AS's "
            "tokens (their audience)",
        ),
    ),
    (
        "*-proof-typ-*",
        Hint(
            "the server does not check that typ is dpop+jwt",
            "refuse a proof whose typ is not dpop+jwt (§4.3 check 4, §11.5)",
        ),
    ),
    (
        "*-proof-alg-*",
        Hint(
            "the server lets the proof choose an algorithm it should refuse",
            "pin an allow-list of asymmetric algorithms (never none or HS*) and check that it fits the jwk "
            "(§4.3 check 5)",
        ),
    ),
    (
        "*-proof-signature-*",
        Hint(
            "the server does not verify the proof's signature with the key in its jwk header",
            "verify every proof's signature with its own jwk (§4.3 check 6)",
        ),
    ),
    (
        "*-proof-signed-by-other-key",
        Hint(
            "the server does not verify the signature with the jwk of the proof itself",
            "verify the signature with the proof's own jwk, never another key (§4.3 check 6)",
        ),
    ),
    (
        "*-proof-payload-edited",
        Hint(
            "the server does not verify the proof's signature",
            "verify the signature over the header and payload as sent (§4.3 check 6)",
        ),
    ),
    (
        "*-proof-ecdsa-der",
        Hint(
            "the server's ECDSA verification accepts DER signatures",
            "accept ECDSA signatures only in JWS's raw r‖s form (RFC 7518 §3.4)",
        ),
    ),
    (
        "*-proof-jwk-*",
        Hint(
            "the server does not insist on a public jwk header",
            "refuse private key members and proofs without jwk (§4.2, §4.3 check 7)",
        ),
    ),
    (
        "*-proof-iat-hour-*",
        Hint(
            "the server does not bound iat to a window around its clock",
            "refuse a proof whose iat is outside a window of seconds or minutes (§4.3 check 11, §11.1)",
        ),
    ),
    (
        "*-proof-two-headers-*",
        Hint(
            "the server's framework hands it only the first DPoP header",
            "read every DPoP header field and refuse more than one (§4.3 check 1)",
        ),
    ),
    (
        "*-proof-comma-joined-proofs",
        Hint(
            "the server splits a DPoP value on commas",
            "refuse a DPoP value that holds more than one proof (§4.3 checks 1 and 2)",
        ),
    ),
    ("*-proof-iat-string", _CLAIM_TYPES),
    ("*-proof-jti-number", _CLAIM_TYPES),
    (
        "*-proof-b64-*",
        Hint(
            "the server's base64url decoder is lenient (padding, characters it skips, the standard alphabet)",
            "decode proofs as strict base64url: no padding, no other characters, - and _ (RFC 7515 §2)",
        ),
    ),
    (
        "*-proof-not-jwt-*",
        Hint("the server's proof parser is lenient", "accept exactly one compact JWS and nothing else (§4.3 check 2)"),
    ),
    (
        "*-proof-*-missing",
        Hint(
            "the server does not require every claim of §4.2 (jti, htm, htu, iat)",
            "refuse a proof that lacks any of them (§4.3 check 3)",
        ),
    ),
    (
        "*-replay-*",
        Hint(
            "the server keeps no jti cache",
            "store (a hash of) each jti for the iat window and refuse repeats (§11.1)",
        ),
    ),
    (
        "*-nonce-*",
        Hint(
            "the server's nonce handling departs from §8 and §9",
            "send one DPoP-Nonce of NQCHAR characters with a use_dpop_nonce challenge, accept only nonces it issued, "
            "and demand them once provided (§8, §9, §11.3)",
        ),
    ),
    ("as-token-type-dpop", Hint("the AS binds the token but calls it Bearer", 'say token_type "DPoP" (§5)')),
    (
        "as-token-bound-to-key",
        Hint(
            "cnf.jkt is not the RFC 7638 thumbprint of the proof's key",
            "compute SHA-256 over the required members only, in lexicographic order, base64url without padding (§6.1)",
        ),
    ),
    (
        "as-jkt-*",
        Hint(
            "the AS computes the thumbprint over more of the jwk than its required members",
            "use only the key type's required members (RFC 7638 §3.2)",
        ),
    ),
    (
        "as-token-no-store",
        Hint("token responses may be cached", "add Cache-Control: no-store to token responses (RFC 6749 §5.1)"),
    ),
    (
        "as-refresh-*",
        Hint(
            "the AS does not keep a public client's refresh token bound to its DPoP key",
            "bind it, check the binding on every refresh, and keep it through rotation (§5)",
        ),
    ),
    (
        "as-dpop-jkt-*",
        Hint(
            "the AS does not compare dpop_jkt with the thumbprint of the proof at the token endpoint",
            "reject a redemption whose proof key does not match dpop_jkt exactly (§10)",
        ),
    ),
    (
        "*par*",
        Hint(
            "the PAR endpoint does not check DPoP proofs as the token endpoint does",
            "check a DPoP proof at PAR as at the token endpoint, and bind its key to the code (§10.1)",
        ),
    ),
    (
        "rs-scheme-*",
        Hint(
            "the resource parses the Authorization header too strictly",
            "read the scheme case-insensitively and allow several spaces before the token (RFC 9110 §11.1, §11.4)",
        ),
    ),
    (
        "browser-*",
        Hint(
            "CORS is not set up for DPoP",
            "allow the DPoP request header and expose DPoP-Nonce and WWW-Authenticate to browser origins",
        ),
    ),
]


def hint_for(case_id: str) -> Hint | None:
    """The likely cause of a failure of this case, with its fix, or None."""
    return next((hint for pattern, hint in HINTS if fnmatch.fnmatchcase(case_id, pattern)), None)
