"""Defect switches of the reference server.

Each defect breaks exactly one check of the otherwise strict server, so the project's own tests can
prove that every conformance case notices the defect it is written for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ALL_LENIENCIES", "DEFECTS", "LENIENCIES", "UNDER_LOAD", "Defect", "validate_defects", "validate_leniencies"]


@dataclass(frozen=True)
class Defect:
    """One defect switch: its name, the side it affects ("AS", "RS" or "both") and what it breaks."""

    name: str
    actor: str
    description: str


def _catalog(*entries: tuple[str, str, str]) -> dict[str, Defect]:
    return {name: Defect(name=name, actor=actor, description=text) for name, actor, text in entries}


DEFECTS: dict[str, Defect] = _catalog(
    # Proof checks shared by the token endpoint and the resource (RFC 9449 §4.3).
    (
        "multiple-proofs",
        "both",
        "accepts several DPoP header field lines, or several comma-separated proofs in one, and uses the first",
    ),
    ("malformed-500", "both", "answers an unparsable DPoP proof with HTTP 500"),
    ("missing-claims", "both", "does not require jti, htm, htu and iat (still checks those present)"),
    ("claim-types", "both", "accepts iat as a numeric string and jti of any JSON type"),
    ("typ", "both", "skips the typ == dpop+jwt check"),
    ("alg-none", "both", 'accepts alg "none" with an empty signature'),
    ("alg-hs256", "both", 'accepts HS256 proofs with an {"kty":"oct"} jwk, verified by HMAC with its k'),
    (
        "alg-policy",
        "both",
        "skips the alg allow-list and verifies an unknown or ill-fitting alg with the key's own algorithm",
    ),
    ("signature", "both", "skips the proof signature verification"),
    ("jwk-private", "both", "accepts a jwk header that contains private key members"),
    ("htm", "both", "skips the htm check"),
    ("htm-case", "both", "compares htm with the request method case-insensitively"),
    ("htu", "both", "skips the htu check"),
    ("htu-normalization", "both", "compares htu as an exact string, without RFC 3986 normalisation"),
    ("htu-query", "both", "compares the request URL including its query with the htu"),
    ("htu-forwarded", "both", "builds its own URL from X-Forwarded-* / Forwarded request headers"),
    ("htu-https-assumed", "both", "builds its own URL with scheme https (rejects every valid proof)"),
    ("iat", "both", "skips the iat window check"),
    ("replay", "both", "keeps no jti replay cache"),
    ("nonce-value", "both", "accepts any nonce value (only its presence is checked)"),
    ("nonce-cross-server", "both", "AS and RS nonces share one scope"),
    ("nonce-optional", "both", "hands out DPoP-Nonce on 200 responses but never demands a nonce"),
    ("nonce-rejects-own", "both", "rejects every nonce, even its own, with use_dpop_nonce"),
    ("jws-json", "both", "accepts a proof in the JWS JSON serialization (flattened or one-signature general)"),
    ("jwk-optional", "both", "accepts a proof without a jwk header, skipping its signature and key binding"),
    ("unknown-members", "both", "refuses proofs with header members or claims it does not know"),
    ("nonce-no-store", "both", "sends use_dpop_nonce challenges without Cache-Control: no-store"),
    ("nonce-200-unusable", "both", "never accepts the DPoP-Nonce values it sent on 2xx responses"),
    ("as-alg-eddsa-rejected", "AS", "advertises EdDSA but refuses EdDSA proofs at the token and PAR endpoints"),
    ("rs-alg-eddsa-rejected", "RS", "advertises EdDSA (in algs) but refuses EdDSA proofs at the resource"),
    ("iat-no-future", "both", "refuses any proof whose iat is later than the current second"),
    # Defects that only a fuzzer is likely to find (no fixed case sends these exact proofs).
    ("empty-signature", "both", "accepts a proof whose signature segment is empty, whatever its alg"),
    ("zero-signature", "both", "accepts an ECDSA signature of all zero bytes (r = s = 0, CVE-2022-21449)"),
    ("crit-skips-signature", "both", "accepts a crit header member and then skips the signature check"),
    ("iat-numeric-string", "both", "accepts iat as a string of digits"),
    # Realistic bugs of real servers (issue 13): each in the shape real code has it.
    ("iat-integer-only", "both", "refuses an iat that is not a JSON integer (a fraction, or 1.7e9 notation)"),
    ("iat-window-wide", "both", "accepts proofs up to 30 minutes old"),
    ("replay-forgets", "both", "its jti cache forgets a proof after 2 seconds"),
    ("replay-with-query", "both", "its jti cache keys on the request URL with its query string"),
    ("replay-par", "AS", "the PAR endpoint does not consult the jti cache"),
    ("replay-refresh", "AS", "refresh_token requests do not consult the jti cache"),
    ("htu-prefix", "both", "accepts an htu of which the request URL is an extension (a startswith comparison)"),
    ("nonce-mac-unchecked", "both", "checks a nonce's form and age, not its MAC (forged nonces pass)"),
    # Authorization server only.
    ("token-type", "AS", 'answers token_type "Bearer" although the token is DPoP-bound'),
    ("cnf-jkt", "AS", "puts SHA-256 of the jwk JSON as received in cnf.jkt, not the RFC 7638 thumbprint"),
    ("no-store", "AS", "omits Cache-Control: no-store on token responses"),
    ("as-nonce-status", "AS", "answers the AS nonce challenge with 401 instead of 400"),
    ("nonce-header-count", "AS", "sends the DPoP-Nonce header twice in the AS nonce challenge"),
    ("nonce-syntax", "AS", "AS nonce values contain a space and a double quote (not NQCHAR)"),
    ("refresh-binding", "AS", "does not bind public-client refresh tokens to the DPoP key"),
    (
        "refresh-proof-optional",
        "AS",
        "answers a refresh_token request without a DPoP header with an unbound Bearer token",
    ),
    ("dpop-jkt", "AS", "ignores a dpop_jkt mismatch when the authorization code is redeemed"),
    ("metadata-algs", "AS", 'advertises "none" and "HS256" in dpop_signing_alg_values_supported'),
    ("introspection-cnf", "AS", "omits cnf from introspection responses"),
    ("refresh-cnf-stale", "AS", "issues unbound access tokens (no cnf) from the refresh_token grant"),
    ("par-proof", "AS", "does not verify the DPoP proof at the PAR endpoint (still binds its key)"),
    ("par-binding", "AS", "does not bind the PAR proof key to the authorization code"),
    ("par-dpop-jkt", "AS", "does not compare dpop_jkt with the PAR proof key"),
    ("cnf-jkt-rsa-members", "AS", "for RSA keys, puts in cnf.jkt a thumbprint that also covers the jwk's alg member"),
    (
        "refresh-unbound-after-second",
        "AS",
        "from the second refresh of a chain on, the refresh and access tokens it issues are unbound",
    ),
    ("refresh-reuse", "AS", "a refresh token stays usable after it was rotated out"),
    (
        "code-proof-optional",
        "AS",
        "redeems a code (dpop_jkt-bound or not) without a DPoP header, for an unbound Bearer token",
    ),
    (
        "dpop-jkt-case",
        "AS",
        "compares dpop_jkt with the proof key's thumbprint case-insensitively, and only its first 40 characters",
    ),
    # Verdicts that must be attributable (issue 26): each in the shape real servers have it.
    ("replay-500", "both", "answers a replayed proof with HTTP 500 instead of refusing it"),
    (
        "odd-values-500",
        "both",
        "fails with HTTP 500 on an alg it cannot put in a header (outside Latin-1), a jti that is an array or "
        "object, and an htu with an out-of-range port or a malformed IPv6 host",
    ),
    ("jkt-cache-by-kid", "both", "remembers a key's thumbprint by its kid, and gives it to any later key of that kid"),
    (
        "jti-verified-cache",
        "both",
        "remembers the proofs it verified by jti, and answers a later proof with that jti as verified, unchecked",
    ),
    (
        "nonce-verified-cache",
        "both",
        "skips the signature check of a proof whose nonce a proof it verified carried",
    ),
    (
        "htu-hostname-only",
        "both",
        "compares htu by the scheme, host, port and path urllib reads in it (userinfo ignored, a backslash before @ "
        "taken for userinfo)",
    ),
    ("htu-from-host", "both", "builds its own URL from the request's Host header"),
    # Resource server only.
    ("ath", "RS", "skips the ath check (also when ath is missing)"),
    ("ath-hex", "RS", "compares ath with the hex SHA-256 of the token (rejects correct proofs)"),
    ("key-binding", "RS", "skips the cnf.jkt vs proof key check"),
    ("key-binding-ec-only", "RS", "compares the proof key with cnf.jkt only for EC proof keys"),
    ("key-binding-by-kid", "RS", "takes a proof jwk whose kid equals cnf.jkt for the bound key"),
    ("rs-jkt-all-members", "RS", "computes the proof key's thumbprint over all its jwk members (kid, use, alg, ...)"),
    ("ath-prefix", "RS", "compares only the first 20 characters of ath"),
    ("ath-lowercase-scheme", "RS", "skips the ath check when the scheme is written dpop"),
    (
        "bearer-query",
        "RS",
        "takes an access token from the access_token query parameter as a Bearer token, cnf ignored",
    ),
    (
        "bearer-body",
        "RS",
        "takes an access token from a form-encoded body (access_token) as a Bearer token, cnf ignored",
    ),
    (
        "token-two-places",
        "RS",
        "ignores an access_token query parameter or body member beside the Authorization header",
    ),
    ("bearer-downgrade", "RS", "accepts a DPoP-bound token under the Bearer scheme"),
    ("proof-optional", "RS", "accepts the DPoP scheme without a DPoP header"),
    ("scheme-case", "RS", 'compares the Authorization scheme case-sensitively (rejects "dpop")'),
    ("scheme-single-space", "RS", "refuses more than one space between the Authorization scheme and the token"),
    ("challenge-algs", "RS", "omits algs from WWW-Authenticate challenges"),
    ("challenge-error", "RS", 'adds error="invalid_token" to the no-credentials challenge'),
    ("rs-nonce-status", "RS", "answers the RS nonce challenge with 400 instead of 401"),
    ("rs-nonce-header", "RS", "omits DPoP-Nonce from the RS nonce challenge"),
    ("multiple-auth-methods", "RS", "answers Bearer + DPoP Authorization lines with 401 invalid_token"),
    ("challenge-missing", "RS", "answers a request without credentials with 401 and no WWW-Authenticate at all"),
    (
        "challenge-other-scheme",
        "RS",
        'answers a request without credentials with 401 and only WWW-Authenticate: Basic realm="reference"',
    ),
    (
        "bad-token-no-error",
        "RS",
        "a bad or expired token gets a challenge without error (the JSON body alone says invalid_token)",
    ),
    ("proxy-authorization", "RS", "accepts a DPoP access token sent in Proxy-Authorization"),
    ("cors-headers", "RS", "CORS preflights do not allow the DPoP request header (also at /token and /par)"),
    ("cors-expose", "RS", "responses do not expose DPoP-Nonce and WWW-Authenticate to browser scripts"),
    (
        "authorization-last-line-checked",
        "RS",
        "with several Authorization lines, its proof checker reads the last one (and checks nothing unless it is "
        "DPoP) while the resource takes the token of the first DPoP line",
    ),
    (
        "authorization-first-line-checked",
        "RS",
        "with several Authorization lines, its proof checker reads the first one (and checks nothing unless it is "
        "DPoP) while the resource takes the token of the last DPoP line",
    ),
    (
        "token-cache-by-ath",
        "RS",
        "looks the access token up in its cache of verified tokens by the proof's ath, not by the token presented "
        "(Authorization: DPoP with no token passes)",
    ),
    ("rs-algs-unenforced", "RS", "advertises its algs (RS256 left out) but accepts every algorithm the AS does"),
)


#: Leniencies: what common JOSE libraries and servers do that is not strictly well-formed handling, yet breaks
#: no security property (the decoded proof is the valid one, or the URL is the same). A correct server may
#: have them, so with every one on the suite must judge no failure and no error; each gives exactly its
#: warnings, or none.
LENIENCIES: dict[str, Defect] = _catalog(
    ("b64-padding", "both", "decodes base64url with = padding (as jwcrypto 1.6 does); verifies the canonical form"),
    (
        "b64-foreign-characters",
        "both",
        "skips characters outside the base64url alphabet when decoding (as Node's Buffer does)",
    ),
    ("b64-standard-alphabet", "both", "decodes + and / as well as - and _ (as Node's Buffer does)"),
    (
        "jwk-odd-member",
        "both",
        "builds the key from its material whatever crv or kty say (curve from the alg), and reads e as an integer",
    ),
    (
        "htu-whatwg",
        "both",
        "compares htu after WHATWG URL parsing (127.1, 0x7f.0.0.1 and 2130706433 are 127.0.0.1; \\ is a slash)",
    ),
    (
        "jti-any-type",
        "both",
        "accepts a jti of any JSON type (only its presence is checked); the replay cache keeps it",
    ),
    (
        "close-after-error",
        "both",
        "closes the connection after every error response without saying so (no Connection: close)",
    ),
    # issue 26: legal answers real servers give, which the suite must judge for what they are
    (
        "as-proof-401",
        "AS",
        'answers invalid_dpop_proof at the token and PAR endpoints with 401 and WWW-Authenticate: DPoP error="..."',
    ),
    (
        "nonce-named-invalid-proof",
        "both",
        "demands its nonce (a missing or wrong one) with invalid_dpop_proof, not use_dpop_nonce, and a DPoP-Nonce "
        "(as pydpop's middleware does)",
    ),
    ("exp-nbf-ignored", "both", "ignores exp and nbf in a proof (RFC 9449 does not use them; RFC 7519 §4)"),
    ("rsa-small-keys", "both", "accepts RSA proof keys under 2048 bits (and binds tokens to them): local policy"),
    ("challenge-scheme", "RS", "the no-credentials challenge names only the Bearer scheme, which it also accepts"),
    ("challenge-400", "RS", "answers a request without credentials with 400 (and its challenge) instead of 401"),
    (
        "lossy-store",
        "AS",
        "its store loses one authorization code or refresh token in five while more than one request is in flight",
    ),
    ("bearer-header-only", "RS", "reads access tokens from the Authorization header only (never query or body)"),
    (
        "authorization-lenient-split",
        "RS",
        "splits Authorization on any white space and takes its second word as the token (trailing text, a tab)",
    ),
    (
        "b64-unencoded",
        "both",
        'knows RFC 7797: accepts crit ["b64"] with b64 false, verifying the payload segment as it came',
    ),
)


#: leniencies that act only while several requests are in flight: a serial run never meets them, and they slow
#: every request down to make requests overlap, so "all" leaves them out (ask for them by name)
UNDER_LOAD = frozenset({"lossy-store"})
#: what --reference-leniency all switches on: every leniency that changes what a request gets
ALL_LENIENCIES = frozenset(LENIENCIES) - UNDER_LOAD


def _validate(names: Iterable[str], catalog: dict[str, Defect], kind: str) -> frozenset[str]:
    if isinstance(names, str):
        # A bare string would otherwise be split into one "defect" per character.
        names = [names]
    chosen = frozenset(names)
    for name in sorted(chosen):
        if name not in catalog:
            raise ValueError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(catalog)}")
    return chosen


def validate_defects(names: Iterable[str]) -> frozenset[str]:
    """Return the defect names as a frozenset; raise ValueError naming the first unknown one."""
    return _validate(names, DEFECTS, "defect")


def validate_leniencies(names: Iterable[str]) -> frozenset[str]:
    """Return the leniency names as a frozenset ("all": ALL_LENIENCIES, and any others named beside it);
    ValueError names the first unknown one."""
    names = [names] if isinstance(names, str) else list(names)
    if "all" in names:
        return ALL_LENIENCIES | _validate([n for n in names if n != "all"], LENIENCIES, "leniency")
    return _validate(names, LENIENCIES, "leniency")
