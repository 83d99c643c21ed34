"""Likely causes of failures, in a sentence or two, for the people who read the report.

Keyed by shell-style patterns of case ids; the first match wins, so specific patterns come first. The
hint is appended to the message of a failed or warned case.
"""

from __future__ import annotations

import fnmatch

__all__ = ["hint_for"]

_PROXY = "Trust forwarding headers only from your own proxy, or configure the public URL explicitly."

HINTS: list[tuple[str, str]] = [
    ("*-htu-host-spoof", "The server builds the request URI it compares htu with from the Host header. " + _PROXY),
    (
        "*-proof-htu-userinfo",
        "The server compares only scheme, host, port and path of htu (a WHATWG origin + pathname, or what urllib "
        "reads): userinfo makes another URI; compare the whole normalised URI (RFC 3986 §6.2).",
    ),
    (
        "*-proof-htu-backslash-*",
        "The server's URL parser reads a backslash as something else (WHATWG: a slash; urllib: part of the userinfo); "
        "a URI has no backslash (RFC 3986): compare htu as an RFC 3986 URI, or refuse it.",
    ),
    (
        "rs-checks-under-two-authorization-lines-*",
        "The proof checker and the code that grants access read different Authorization lines: refuse a request "
        "with more than one (RFC 6750 §3.1: 400 invalid_request).",
    ),
    (
        "rs-authorization-*",
        'The resource splits Authorization loosely: read it as "DPoP", spaces, exactly one token68 (§7.1), and '
        "refuse trailing text, a tab, or no token.",
    ),
    (
        "*-primed-kid-*",
        "The server remembers a key's thumbprint by its kid: compute the RFC 7638 thumbprint of each proof's own jwk; "
        "a kid names nothing.",
    ),
    (
        "*-primed-jti-*",
        "The server hands an earlier verdict to a proof that reuses a jti it has seen: verify every proof, and refuse "
        "a jti it has seen (§11.1).",
    ),
    (
        "*-primed-nonce-*",
        "The server takes a nonce seen on a verified proof for a verified proof: a nonce vouches for freshness only; "
        "verify every signature.",
    ),
    (
        "*-proof-b64-false",
        'The server\'s JOSE library accepts RFC 7797\'s "b64": false in a JWT (RFC 7797 §7: JWTs MUST NOT use it); '
        "refuse crit [b64] in a DPoP proof.",
    ),
    (
        "rs-challenge-without-credentials",
        'Answer a request without credentials with 401 and WWW-Authenticate: DPoP algs="..." (RFC 9110 §15.5.2, '
        "RFC 9449 §7.1).",
    ),
    (
        "*-htu-x-forwarded-spoof",
        "The server builds the request URI from X-Forwarded-* headers the client sent. " + _PROXY,
    ),
    ("*-htu-forwarded-spoof", "The server builds the request URI from a Forwarded header the client sent. " + _PROXY),
    (
        "rs-htu-query-ignored",
        "The resource compares htu with the full request URI, query included; strip the query "
        "(and fragment) first (§4.3 check 9).",
    ),
    (
        "*-proof-htu-*",
        "The server does not compare htu with its own URI, or builds that URI from the wrong host "
        "(behind a reverse proxy: check the configured public URL).",
    ),
    ("*-htu-*", "The server compares htu as a raw string; normalise both sides per RFC 3986 §6.2.2/§6.2.3 first."),
    (
        "as-proof-accepted",
        "If every valid proof is refused with an htu error, the server probably builds its own "
        "URL with the wrong scheme, host or port (a reverse proxy in front of it).",
    ),
    ("*-proof-htm-*", "The server does not compare htm with the request method, case-sensitively."),
    (
        "rs-proof-ath-*",
        "The resource does not check ath against the SHA-256 of the presented token, base64url without padding (§4.2).",
    ),
    ("rs-key-swap", "The resource does not compare the proof's key thumbprint with the token's cnf.jkt (§6)."),
    (
        "rs-bearer-downgrade*",
        "The resource ignores cnf under the Bearer scheme; refuse tokens with cnf.jkt unless "
        "they come with the DPoP scheme and a proof (§7.2).",
    ),
    ("rs-proof-missing", "The resource accepts the DPoP scheme without checking that a DPoP header came along."),
    (
        "rs-accepts-dpop-request",
        "Check the resource's ath computation (base64url SHA-256 of the token, no padding) "
        "and that it accepts the AS's tokens.",
    ),
    ("*-proof-typ-*", "The server does not check typ == dpop+jwt (§4.3 check 4, §11.5)."),
    (
        "*-proof-alg-*",
        "The server lets the proof choose an algorithm it should refuse; pin an allow-list of "
        "asymmetric algorithms (never none or HS*) and check that it fits the jwk.",
    ),
    ("*-proof-signature-*", "The server does not verify the proof's signature with the key in its jwk header."),
    ("*-proof-signed-by-other-key", "The server does not verify the signature with the jwk of the proof itself."),
    ("*-proof-payload-edited", "The server does not verify the proof's signature."),
    ("*-proof-ecdsa-der", "The server's ECDSA verification accepts DER; JWS uses raw r‖s (RFC 7518 §3.4)."),
    (
        "*-proof-jwk-*",
        "The server does not insist on a public jwk header: refuse private members and proofs "
        "without jwk (§4.2, §4.3 check 7).",
    ),
    ("*-proof-iat-hour-*", "The server does not bound iat to a window around its clock (§4.3 check 11, §11.1)."),
    (
        "*-proof-two-headers-*",
        "The framework returns only the first DPoP header; read them all and refuse more than one (§4.3 check 1).",
    ),
    ("*-proof-comma-joined-proofs", "The server splits a DPoP value on commas; a value holding two proofs is invalid."),
    ("*-proof-not-jwt-*", "The server's parser is lenient; accept exactly one compact JWS."),
    ("*-proof-*-missing", "The server does not require every claim of §4.2 (jti, htm, htu, iat)."),
    (
        "*-replay-*",
        "The server keeps no jti cache; store (a hash of) each jti for the iat window and refuse repeats (§11.1).",
    ),
    (
        "*-nonce-*",
        "The server's nonce handling departs from §8/§9: one DPoP-Nonce of NQCHAR characters with a "
        "use_dpop_nonce challenge, only nonces it issued accepted, and nonces demanded once provided.",
    ),
    ("as-token-type-dpop", "The AS binds the token but calls it Bearer; say token_type DPoP (§5)."),
    (
        "as-token-bound-to-key",
        "cnf.jkt must be the RFC 7638 thumbprint: SHA-256 over the required members only, "
        "in lexicographic order, base64url without padding.",
    ),
    (
        "as-jkt-ignores-extra-jwk-members",
        "The thumbprint is computed over the whole jwk; use only the required members (RFC 7638 §3.2).",
    ),
    ("as-token-no-store", "Add Cache-Control: no-store to token responses (RFC 6749 §5.1)."),
    ("as-refresh-*", "Bind a public client's refresh token to the DPoP key and check the binding on refresh (§5)."),
    (
        "as-dpop-jkt-mismatch",
        "The AS does not compare dpop_jkt with the thumbprint of the proof at the token endpoint (§10).",
    ),
    ("*par*", "The PAR endpoint must check a DPoP proof as the token endpoint does, and bind its key (§10.1)."),
    (
        "rs-scheme-*",
        "The resource parses the Authorization header too strictly: schemes are case-insensitive and "
        "may be followed by several spaces.",
    ),
    (
        "*-fuzz-*",
        "The server accepted (or failed on) a fuzzed proof it must refuse; the case's curl command replays the "
        "shrunk example.",
    ),
    ("browser-*", "Configure CORS: allow the DPoP request header and expose DPoP-Nonce and WWW-Authenticate."),
]


def hint_for(case_id: str) -> str | None:
    """The likely cause of a failure of this case, or None."""
    return next((hint for pattern, hint in HINTS if fnmatch.fnmatchcase(case_id, pattern)), None)
