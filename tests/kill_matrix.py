"""The kill matrix: which defect of the reference server each conformance case catches.

Every entry runs the whole suite against the reference server with the named defect(s) switched on and
states exactly which cases must then fail, warn or report info; every other case must pass, be skipped
or end in error (a prerequisite the defect broke). tests/test_kill_matrix.py runs each entry;
`python tests/kill_matrix.py` writes docs/kill-matrix.md from this table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Kill:
    """One run: defect(s) and leniencies switched on, and the cases that must fail, warn or give info."""

    defects: str  # space-separated defect names
    failed: str = ""
    warned: str = ""
    info: str = ""
    nonce: str = "both"
    args: tuple[str, ...] = field(default=())
    fuzz: bool = False  # run only the fuzz cases (with a fixed seed) instead of every other case
    leniencies: str = ""  # space-separated leniency names: legal behaviour of real libraries (only warnings)
    every_case: bool = False  # run the fixed and the fuzz cases together
    par: bool = True  # the reference server has its PAR endpoint
    only: bool = False  # run only the listed cases (an entry repeated in another nonce or PAR mode)

    @property
    def name(self) -> str:
        """What the entry switches on, for test ids and the doc."""
        return " ".join(filter(None, (self.defects, *(f"leniency:{n}" for n in self.leniencies.split())))) or "clean"

    @property
    def waits(self) -> bool:
        """True when a case that waits seconds is among the expected ones (it runs for no other entry)."""
        return bool(WAITING & self.expected.keys())

    @property
    def expected(self) -> dict[str, str]:
        """case id -> outcome for every case that must not pass."""
        outcomes = {case: "failed" for case in self.failed.split()}
        outcomes |= {case: "warning" for case in self.warned.split()}
        outcomes |= {case: "info" for case in self.info.split()}
        return outcomes

    @property
    def cli_args(self) -> list[str]:
        """The dpop-conformance run arguments of this entry."""
        defects = [arg for name in self.defects.split() for arg in ("--reference-defect", name)]
        lenient = [arg for name in self.leniencies.split() for arg in ("--reference-leniency", name)]
        # a fixed seed keeps the fuzz cases deterministic; the fixed cases run apart from them
        marker = [] if self.every_case else ["-m", "fuzz" if self.fuzz else "not fuzz"]
        par = [] if self.par else ["--reference-par", "off"]
        return [
            "--reference-nonce",
            self.nonce,
            *par,
            *defects,
            *lenient,
            *self.args,
            "--fuzz-seed",
            "1",
            "--",
            *marker,
        ]


#: the cases that wait seconds between their requests (marked `waits`): each entry runs them only when it
#: expects them to catch its defect
WAITING = frozenset({"as-replay-after-seconds", "rs-replay-after-seconds"})

FAPI2 = ("--profile", "fapi2", "--reference-algs", "ES256,PS256,EdDSA")
NONCES = ("none", "as", "rs", "both")

KILLS: list[Kill] = [
    Kill(
        "multiple-proofs",
        failed="as-proof-two-headers-same-proof as-proof-two-headers-different-proofs as-proof-comma-joined-proofs rs-proof-two-headers-same-proof rs-proof-two-headers-different-proofs rs-proof-comma-joined-proofs par-proof-two-headers-same-proof par-proof-two-headers-different-proofs par-proof-comma-joined-proofs",
    ),
    Kill(
        "malformed-500",
        warned="as-proof-not-jwt-garbage as-proof-not-jwt-two-segments as-proof-not-jwt-jwe as-proof-not-jwt-empty as-proof-not-jwt-base64 as-proof-not-jwt-header-not-json rs-proof-not-jwt-garbage rs-proof-not-jwt-two-segments rs-proof-not-jwt-jwe rs-proof-not-jwt-empty rs-proof-not-jwt-base64 rs-proof-not-jwt-header-not-json par-proof-not-jwt-garbage par-proof-not-jwt-two-segments par-proof-not-jwt-jwe par-proof-not-jwt-empty par-proof-not-jwt-base64 par-proof-not-jwt-header-not-json as-proof-b64-padded rs-proof-b64-padded par-proof-b64-padded as-proof-b64-foreign-characters rs-proof-b64-foreign-characters par-proof-b64-foreign-characters as-proof-b64-standard-alphabet rs-proof-b64-standard-alphabet par-proof-b64-standard-alphabet",
    ),
    Kill(
        "missing-claims",
        failed="as-proof-jti-missing as-proof-htm-missing as-proof-htu-missing as-proof-iat-missing rs-proof-jti-missing rs-proof-htm-missing rs-proof-htu-missing rs-proof-iat-missing par-proof-jti-missing par-proof-htm-missing par-proof-htu-missing par-proof-iat-missing",
    ),
    Kill(
        "claim-types",
        warned="as-proof-iat-string as-proof-jti-number rs-proof-iat-string rs-proof-jti-number par-proof-iat-string par-proof-jti-number",
    ),
    Kill(
        "typ",
        failed="as-proof-typ-jwt as-proof-typ-at-jwt as-proof-typ-missing rs-proof-typ-jwt rs-proof-typ-at-jwt rs-proof-typ-missing par-proof-typ-jwt par-proof-typ-at-jwt par-proof-typ-missing",
    ),
    Kill("alg-none", failed="as-proof-alg-none rs-proof-alg-none par-proof-alg-none"),
    Kill("alg-hs256", failed="as-proof-alg-hs256-oct-jwk par-proof-alg-hs256-oct-jwk"),
    Kill(
        "alg-policy",
        failed="as-proof-alg-unknown as-proof-alg-key-mismatch rs-proof-alg-unknown rs-proof-alg-key-mismatch par-proof-alg-unknown par-proof-alg-key-mismatch as-proof-alg-non-latin1 rs-proof-alg-non-latin1 par-proof-alg-non-latin1",
        info="as-proof-alg-not-advertised rs-proof-alg-not-advertised",
    ),
    Kill(
        "signature",
        failed="as-proof-alg-key-mismatch as-proof-signature-flipped-byte as-proof-signature-empty as-proof-payload-edited as-proof-signed-by-other-key as-proof-ecdsa-der rs-proof-alg-key-mismatch rs-proof-signature-flipped-byte rs-proof-signature-empty rs-proof-payload-edited rs-proof-ecdsa-der par-proof-alg-key-mismatch par-proof-signature-flipped-byte par-proof-signature-empty par-proof-payload-edited par-proof-signed-by-other-key par-proof-ecdsa-der as-primed-nonce-signature rs-primed-nonce-signature",
        warned="as-proof-rsa-small-key rs-proof-rsa-small-key",
    ),
    Kill(
        "jwk-private", failed="as-proof-jwk-private rs-proof-jwk-private par-proof-jwk-private as-proof-jwk-private-rsa"
    ),
    Kill(
        "htm",
        failed="as-proof-htm-wrong rs-proof-htm-wrong par-proof-htm-wrong",
        warned="as-proof-htm-lowercase rs-proof-htm-lowercase par-proof-htm-lowercase",
    ),
    Kill("htm-case", warned="as-proof-htm-lowercase rs-proof-htm-lowercase par-proof-htm-lowercase"),
    Kill(
        "htu",
        failed="as-proof-htu-other-path as-proof-htu-other-host as-proof-htu-other-port as-proof-htu-other-scheme as-proof-htu-path-case rs-proof-htu-other-path rs-proof-htu-other-host rs-proof-htu-other-port rs-proof-htu-other-scheme rs-proof-htu-path-case par-proof-htu-other-path par-proof-htu-other-host par-proof-htu-other-port par-proof-htu-other-scheme par-proof-htu-path-case as-htu-exact par-htu-exact rs-htu-exact as-proof-htu-backslash-authority as-proof-htu-userinfo par-proof-htu-backslash-authority par-proof-htu-userinfo rs-proof-htu-backslash-authority rs-proof-htu-userinfo",
        warned="as-proof-htu-backslash-path par-proof-htu-backslash-path rs-proof-htu-backslash-path",
    ),
    Kill(
        "htu-normalization",
        warned="as-htu-uppercase-scheme-host as-htu-percent-encoded as-htu-dot-segment rs-htu-uppercase-scheme-host rs-htu-percent-encoded rs-htu-dot-segment",
    ),
    Kill("htu-query", failed="rs-htu-query-ignored"),
    Kill(
        "htu-forwarded",
        failed="as-htu-x-forwarded-spoof as-htu-forwarded-spoof rs-htu-x-forwarded-spoof rs-htu-forwarded-spoof",
    ),
    Kill("htu-https-assumed", failed="as-proof-accepted as-advertised-algs-accepted"),
    Kill(
        "replay",
        info="as-replay-identical as-replay-same-jti rs-replay-identical rs-replay-same-jti rs-replay-other-query par-replay-identical as-replay-refresh",
    ),
    Kill(
        "nonce-value",
        failed="as-nonce-bogus as-nonce-one-char-changed rs-nonce-bogus rs-nonce-one-char-changed as-nonce-exact rs-nonce-exact",
        info="as-nonce-from-rs rs-nonce-from-as",
    ),
    Kill("nonce-cross-server", info="as-nonce-from-rs rs-nonce-from-as"),
    Kill("nonce-optional", failed="as-nonce-required-once-provided rs-nonce-required-once-provided"),
    Kill("nonce-rejects-own", failed="as-proof-accepted as-advertised-algs-accepted as-nonce-retry"),
    Kill("jws-json", failed="as-proof-not-jwt-jws-json rs-proof-not-jwt-jws-json par-proof-not-jwt-jws-json"),
    Kill(
        "jwk-optional",
        failed="as-proof-jwk-missing-kid as-proof-jwk-missing-jku as-proof-jwk-missing-x5c rs-proof-jwk-missing-kid rs-proof-jwk-missing-jku rs-proof-jwk-missing-x5c par-proof-jwk-missing-kid par-proof-jwk-missing-jku par-proof-jwk-missing-x5c",
    ),
    Kill("unknown-members", failed="as-proof-unknown-members-accepted rs-proof-unknown-members-accepted"),
    Kill("nonce-no-store", info="as-nonce-challenge-no-store rs-nonce-challenge-no-store"),
    Kill("nonce-200-unusable", failed="as-nonce-from-2xx-accepted rs-nonce-from-2xx-accepted"),
    Kill("as-alg-eddsa-rejected", failed="as-advertised-algs-accepted"),
    Kill("rs-alg-eddsa-rejected", failed="rs-advertised-algs-accepted"),
    Kill("token-type", failed="as-token-type-dpop as-refresh-same-key-bound"),
    Kill(
        "cnf-jkt",
        failed="as-refresh-same-key-bound as-token-bound-to-key as-jkt-ignores-extra-jwk-members as-introspection-cnf as-jkt-every-key-type as-refresh-chain-stays-bound as-primed-kid-binding",
    ),
    Kill("no-store", failed="as-token-no-store"),
    Kill("as-nonce-status", warned="as-nonce-challenge"),
    Kill("nonce-header-count", failed="as-nonce-challenge"),
    Kill("nonce-syntax", failed="as-nonce-challenge"),
    Kill("refresh-binding", failed="as-refresh-other-key-refused as-refresh-chain-stays-bound"),
    Kill("dpop-jkt", failed="as-dpop-jkt-mismatch as-par-binds-code as-dpop-jkt-exact"),
    Kill("metadata-algs", failed="as-metadata-algs"),
    Kill("introspection-cnf", info="as-introspection-cnf"),
    Kill("refresh-cnf-stale", failed="as-refresh-same-key-bound as-refresh-chain-stays-bound"),
    Kill(
        "par-proof",
        failed="par-proof-jti-missing par-proof-htm-missing par-proof-htu-missing par-proof-iat-missing par-proof-typ-jwt par-proof-typ-at-jwt par-proof-typ-missing par-proof-alg-none par-proof-alg-hs256-oct-jwk par-proof-alg-unknown par-proof-alg-key-mismatch par-proof-signature-flipped-byte par-proof-signature-empty par-proof-payload-edited par-proof-signed-by-other-key par-proof-ecdsa-der par-proof-jwk-private par-proof-htm-wrong par-proof-htu-other-path par-proof-htu-other-host par-proof-htu-other-port par-proof-htu-other-scheme par-proof-htu-path-case par-proof-two-headers-same-proof par-proof-two-headers-different-proofs par-htu-exact par-proof-alg-non-latin1 par-proof-htu-backslash-authority par-proof-htu-userinfo",
        warned="par-proof-iat-string par-proof-jti-number par-proof-htm-lowercase par-proof-b64-false par-proof-htu-backslash-path",
        info="par-proof-iat-hour-past par-proof-iat-hour-future par-replay-identical par-proof-exp-past par-proof-nbf-future",
    ),
    Kill("par-binding", failed="as-par-binds-code"),
    Kill("par-dpop-jkt", failed="as-par-dpop-jkt-mismatch"),
    Kill(
        "ath",
        failed="rs-proof-ath-missing rs-proof-ath-other-token rs-proof-ath-hex rs-proof-ath-dpop-prefix rs-ath-exact",
        warned="rs-proof-ath-padded",
    ),
    Kill("ath-hex", failed="rs-accepts-dpop-request rs-nonce-retry"),
    Kill(
        "key-binding",
        failed="rs-key-swap rs-key-swap-kid-of-bound-key rs-key-swap-okp rs-key-swap-other-type rs-key-swap-rsa rs-primed-kid-key-swap",
    ),
    Kill(
        "bearer-downgrade",
        failed="rs-bearer-downgrade rs-bearer-downgrade-with-proof rs-bearer-downgrade-form-body rs-bearer-downgrade-query",
    ),
    Kill("proof-optional", failed="rs-proof-missing"),
    Kill("scheme-case", failed="rs-scheme-case-insensitive"),
    Kill("challenge-algs", warned="rs-challenge-algs", info="rs-advertised-algs-accepted"),
    Kill("challenge-error", warned="rs-challenge-no-error"),
    Kill("rs-nonce-status", warned="rs-nonce-challenge"),
    Kill("rs-nonce-header", failed="rs-accepts-dpop-request rs-nonce-challenge rs-nonce-retry"),
    Kill("multiple-auth-methods", warned="rs-multiple-auth-methods rs-token-in-two-places"),
    Kill("challenge-missing", failed="rs-challenge-without-credentials", info="rs-advertised-algs-accepted"),
    Kill("challenge-other-scheme", failed="rs-challenge-without-credentials", info="rs-advertised-algs-accepted"),
    Kill("bad-token-no-error", warned="rs-error-on-bad-token"),
    Kill("proxy-authorization", failed="rs-proxy-authorization-refused"),
    Kill(
        "iat",
        failed="as-proof-iat-hour-past as-proof-iat-hour-future par-proof-iat-hour-past par-proof-iat-hour-future rs-proof-iat-hour-past rs-proof-iat-hour-future as-iat-window rs-iat-window",
        nonce="none",
    ),
    Kill(
        "iat",
        failed="fapi2-as-iat-61s-future-refused as-proof-iat-hour-past as-proof-iat-hour-future par-proof-iat-hour-past par-proof-iat-hour-future rs-proof-iat-hour-past rs-proof-iat-hour-future as-iat-window rs-iat-window",
        nonce="none",
        args=FAPI2,
    ),
    Kill("iat-no-future", failed="fapi2-as-iat-10s-future-accepted", nonce="none", args=FAPI2),
    Kill(
        "alg-policy",
        failed="fapi2-as-rejects-other-algs as-proof-alg-unknown as-proof-alg-key-mismatch rs-proof-alg-unknown rs-proof-alg-key-mismatch par-proof-alg-unknown par-proof-alg-key-mismatch as-proof-alg-non-latin1 rs-proof-alg-non-latin1 par-proof-alg-non-latin1",
        info="as-proof-alg-not-advertised",
        args=FAPI2,
    ),
    Kill("metadata-algs", failed="as-metadata-algs", warned="fapi2-metadata-algs", args=FAPI2),
    Kill(
        "dpop-jkt",
        failed="fapi2-dpop-jkt-supported as-dpop-jkt-mismatch as-par-binds-code as-dpop-jkt-exact",
        args=FAPI2,
    ),
    Kill("cors-headers", info="browser-as-preflight browser-rs-preflight", args=("--profile", "browser")),
    Kill("cors-expose", info="browser-as-expose browser-rs-expose", args=("--profile", "browser")),
    Kill(
        "htu-normalization",
        warned="as-htu-uppercase-scheme-host as-htu-default-port as-htu-percent-encoded as-htu-dot-segment rs-htu-uppercase-scheme-host rs-htu-default-port rs-htu-percent-encoded rs-htu-dot-segment",
        args=("--reference-port", "80"),
    ),
    Kill("nonce-rejects-own", failed="rs-accepts-dpop-request rs-nonce-retry", nonce="rs"),
    Kill(
        "alg-hs256 key-binding",
        failed="as-proof-alg-hs256-oct-jwk rs-proof-alg-hs256-oct-jwk par-proof-alg-hs256-oct-jwk rs-key-swap rs-key-swap-kid-of-bound-key rs-key-swap-okp rs-key-swap-other-type rs-key-swap-rsa rs-primed-kid-key-swap",
    ),
    Kill(
        "signature key-binding",
        failed="as-proof-alg-key-mismatch as-proof-signature-flipped-byte as-proof-signature-empty as-proof-payload-edited as-proof-signed-by-other-key as-proof-ecdsa-der rs-proof-alg-key-mismatch rs-proof-signature-flipped-byte rs-proof-signature-empty rs-proof-payload-edited rs-proof-signed-by-other-key rs-proof-ecdsa-der par-proof-alg-key-mismatch par-proof-signature-flipped-byte par-proof-signature-empty par-proof-payload-edited par-proof-signed-by-other-key par-proof-ecdsa-der rs-key-swap rs-key-swap-kid-of-bound-key rs-key-swap-okp rs-key-swap-other-type rs-key-swap-rsa as-primed-nonce-signature rs-primed-nonce-signature rs-primed-kid-key-swap",
        warned="as-proof-rsa-small-key rs-proof-rsa-small-key",
    ),
    # needs both: without refresh-proof-optional, the AS refuses any token request without a proof
    Kill(
        "refresh-binding refresh-proof-optional",
        failed="as-refresh-other-key-refused as-refresh-without-proof-refused as-refresh-chain-stays-bound",
    ),
    Kill("scheme-single-space", warned="rs-scheme-extra-space"),
    Kill("empty-signature", failed="as-proof-signature-empty rs-proof-signature-empty par-proof-signature-empty"),
    Kill("iat-numeric-string", warned="as-proof-iat-string rs-proof-iat-string par-proof-iat-string"),
    # the fuzz cases, alone, in the default profile, catch defects no fixed case was written for
    Kill("zero-signature", failed="as-fuzz-signature-refused rs-fuzz-signature-refused", fuzz=True),
    Kill("crit-skips-signature", failed="as-fuzz-header-refused rs-fuzz-header-refused", fuzz=True),
    Kill("empty-signature", failed="as-fuzz-signature-refused rs-fuzz-signature-refused", fuzz=True),
    Kill("iat-numeric-string", warned="as-fuzz-claims-refused rs-fuzz-claims-refused", fuzz=True),
    Kill(
        "malformed-500",
        warned="as-fuzz-no-server-error rs-fuzz-no-server-error as-fuzz-structure-refused rs-fuzz-structure-refused",
        fuzz=True,
    ),
    Kill(
        "typ",
        failed="as-fuzz-header-refused rs-fuzz-header-refused as-fuzz-structure-refused rs-fuzz-structure-refused",
        fuzz=True,
    ),
    # a truncated htu (a prefix of the request URI) is drawn once in every run
    Kill("htu-prefix", failed="as-fuzz-claims-refused rs-fuzz-claims-refused", fuzz=True),
]

# Binding, downgrade, rotation, time and exact comparison (issue 13): each of these defects is also run in
# the other nonce modes and with PAR off (IN_EVERY_MODE, below), running only its own cases there.
NEW_KILLS: list[Kill] = [
    Kill(
        "iat-integer-only",
        warned="as-proof-iat-exponent-accepted as-proof-iat-fraction-accepted rs-proof-iat-exponent-accepted rs-proof-iat-fraction-accepted",
    ),
    Kill("replay-forgets", info="as-replay-after-seconds rs-replay-after-seconds"),
    Kill("replay-with-query", info="rs-replay-other-query"),
    Kill("replay-par", info="par-replay-identical"),
    Kill("replay-refresh", info="as-replay-refresh"),
    Kill("htu-prefix", failed="as-htu-exact par-htu-exact rs-htu-exact"),
    Kill(
        "nonce-mac-unchecked",
        failed="as-nonce-exact as-nonce-one-char-changed rs-nonce-exact rs-nonce-one-char-changed",
        info="as-nonce-from-rs rs-nonce-from-as",
    ),
    Kill("cnf-jkt-rsa-members", failed="as-jkt-every-key-type"),
    Kill("refresh-unbound-after-second", failed="as-refresh-chain-stays-bound"),
    Kill("refresh-reuse", info="as-refresh-rotated-out-refused"),
    Kill("code-proof-optional", failed="as-dpop-jkt-without-proof-refused as-par-dpop-jkt-without-proof-refused"),
    Kill("dpop-jkt-case", failed="as-dpop-jkt-exact"),
    Kill("key-binding-ec-only", failed="rs-key-swap-okp rs-key-swap-other-type rs-key-swap-rsa"),
    Kill("key-binding-by-kid", failed="rs-key-swap-kid-of-bound-key"),
    Kill("rs-jkt-all-members", failed="rs-jwk-optional-members-accepted"),
    Kill("ath-prefix", failed="rs-ath-exact", warned="rs-proof-ath-padded"),
    Kill("ath-lowercase-scheme", failed="rs-checks-under-every-scheme-spelling"),
    Kill("bearer-query", failed="rs-bearer-downgrade-query"),
    Kill("bearer-body", failed="rs-bearer-downgrade-form-body"),
    Kill("token-two-places", warned="rs-token-in-two-places"),
]
KILLS += NEW_KILLS
# Verdicts that must be attributable (issue 26): each defect once, both nonces and PAR (nothing in them turns on
# the nonce mode but the nonce cache's, whose cases need nonces)
ATTRIBUTABLE_KILLS: list[Kill] = [
    Kill(
        "replay-500",
        warned="as-replay-after-seconds as-replay-identical as-replay-refresh as-replay-same-jti par-replay-identical rs-replay-after-seconds rs-replay-identical rs-replay-other-query rs-replay-same-jti",
    ),
    Kill(
        "odd-values-500",
        warned="as-proof-alg-non-latin1 rs-proof-alg-non-latin1 par-proof-alg-non-latin1 as-proof-htu-backslash-path rs-proof-htu-backslash-path par-proof-htu-backslash-path",
    ),
    Kill(
        "authorization-last-line-checked",
        failed="rs-checks-under-two-authorization-lines-dpop-first",
        warned="rs-multiple-auth-methods",
    ),
    Kill(
        "authorization-first-line-checked",
        failed="rs-checks-under-two-authorization-lines-bearer-first",
        warned="rs-multiple-auth-methods",
    ),
    Kill("htu-from-host", info="as-htu-host-spoof rs-htu-host-spoof"),
    Kill(
        "jkt-cache-by-kid",
        # (rs-jwk-optional-members-accepted fails too where as-jkt-every-key-type ran first with its kid)
        failed="as-jkt-every-key-type as-primed-kid-binding rs-primed-kid-key-swap",
    ),
    Kill(
        "jti-verified-cache",
        failed="as-primed-jti-signature rs-primed-jti-signature",
        info="as-replay-after-seconds as-replay-identical as-replay-refresh as-replay-same-jti par-replay-identical rs-replay-after-seconds rs-replay-identical rs-replay-other-query rs-replay-same-jti",
    ),
    Kill("nonce-verified-cache", failed="as-primed-nonce-signature rs-primed-nonce-signature"),
    Kill(
        "htu-hostname-only",
        failed="as-proof-htu-backslash-authority as-proof-htu-userinfo par-proof-htu-backslash-authority par-proof-htu-userinfo rs-proof-htu-backslash-authority rs-proof-htu-userinfo",
        warned="as-htu-dot-segment as-htu-percent-encoded rs-htu-dot-segment rs-htu-percent-encoded",
    ),
    Kill("token-cache-by-ath", failed="rs-authorization-no-token"),
    Kill("rs-algs-unenforced", info="rs-proof-alg-not-advertised"),
]
KILLS += ATTRIBUTABLE_KILLS
KILLS += [
    Kill(
        "odd-values-500",
        warned="as-fuzz-claims-refused as-fuzz-header-refused as-fuzz-no-server-error rs-fuzz-claims-refused rs-fuzz-header-refused rs-fuzz-no-server-error",
        fuzz=True,
    ),
    # FAPI 2.0 puts RSA key sizes on the server (§5.4.1): what RFC 9449 leaves to local policy is a MUST there
    Kill(
        "",
        leniencies="rsa-small-keys",
        failed="fapi2-as-rsa-small-key-refused fapi2-rs-rsa-small-key-refused",
        warned="as-proof-rsa-small-key rs-proof-rsa-small-key",
        args=FAPI2,
        only=True,
    ),
]
# The iat window is judged against the policy limit only where no server nonce vouches for freshness.
_IAT_WINDOW = {
    "none": ("as-iat-window rs-iat-window", ""),
    "as": ("rs-iat-window", "as-iat-window"),
    "rs": ("as-iat-window", "rs-iat-window"),
    "both": ("", "as-iat-window rs-iat-window"),
}
KILLS += [
    Kill("iat-window-wide", warned=warned, info=info, nonce=nonce, only=nonce != "both")
    for nonce, (warned, info) in _IAT_WINDOW.items()
]

# Leniencies: what common JOSE libraries and real servers do, legal. Each one alone warns exactly these cases
# (its lenient fixed cases and the fuzz cases of the part it is found in), or records them as info, and none fails.
LENIENT_WARNINGS: dict[str, str] = {
    "b64-padding": "as-proof-b64-padded rs-proof-b64-padded par-proof-b64-padded "
    "as-fuzz-structure-refused rs-fuzz-structure-refused",
    "b64-foreign-characters": "as-proof-b64-foreign-characters rs-proof-b64-foreign-characters "
    "par-proof-b64-foreign-characters as-fuzz-structure-refused rs-fuzz-structure-refused",
    "b64-standard-alphabet": "as-proof-b64-standard-alphabet rs-proof-b64-standard-alphabet "
    "par-proof-b64-standard-alphabet as-fuzz-structure-refused rs-fuzz-structure-refused",
    "jwk-odd-member": "as-proof-jwk-odd-member rs-proof-jwk-odd-member par-proof-jwk-odd-member "
    "as-fuzz-header-refused rs-fuzz-header-refused",
    "jti-any-type": "as-proof-jti-number rs-proof-jti-number par-proof-jti-number "
    "as-fuzz-claims-refused rs-fuzz-claims-refused",
    # an equivalent htu spelling is no fault, and the suite sends none as one; a backslash makes no URI at all
    "htu-whatwg": "as-proof-htu-backslash-path rs-proof-htu-backslash-path par-proof-htu-backslash-path",
    "close-after-error": "",  # connections closed after an answer are normal: the suite reconnects
    "as-proof-401": "",  # (its warnings depend on the nonce mode: AS_PROOF_401 below)
    "rsa-small-keys": "as-proof-rsa-small-key rs-proof-rsa-small-key",
    "challenge-400": "rs-challenge-without-credentials",
    "lossy-store": "",  # nothing is lost while one request is in flight at a time (tests/test_concurrency.py)
    "authorization-lenient-split": "rs-authorization-tab rs-authorization-trailing-text",
    "b64-unencoded": "as-proof-b64-false rs-proof-b64-false par-proof-b64-false as-fuzz-header-refused "
    "rs-fuzz-header-refused",
}
#: the leniencies that record info: legal, and nothing to warn of
LENIENT_INFO: dict[str, str] = {
    "exp-nbf-ignored": "as-proof-exp-past as-proof-nbf-future par-proof-exp-past par-proof-nbf-future "
    "rs-proof-exp-past rs-proof-nbf-future",
    "challenge-scheme": "rs-challenge-without-credentials rs-advertised-algs-accepted",
    "bearer-header-only": "rs-token-in-two-places",
    "nonce-named-invalid-proof": "",  # (its info depends on which server demands nonces: nonce_named_info)
}
#: what a server that demands its nonce with invalid_dpop_proof records, per side that demands one
NONCE_NAMED_INFO = {
    "as": "as-nonce-challenge as-nonce-bogus as-nonce-one-char-changed",
    "rs": "rs-nonce-challenge rs-nonce-bogus rs-nonce-one-char-changed",
}


def nonce_named_info(nonce: str) -> str:
    """The info of `nonce-named-invalid-proof` in a nonce mode: each demanding side's nonce cases, and where
    both demand one, each side refusing the other's nonce."""
    sides = {"as": ["as"], "rs": ["rs"], "both": ["as", "rs"]}.get(nonce, [])
    cases = [NONCE_NAMED_INFO[side] for side in sides]
    return " ".join(cases + (["as-nonce-from-rs rs-nonce-from-as"] if nonce == "both" else []))


#: what a token endpoint that answers a refused proof with 401 warns of: every refusal judged for its form there
AS_PROOF_401 = (
    "as-htu-forwarded-spoof as-htu-x-forwarded-spoof as-primed-jti-signature as-proof-alg-hs256-oct-jwk "
    "as-proof-alg-key-mismatch as-proof-alg-non-latin1 as-proof-alg-none as-proof-alg-unknown as-proof-b64-false "
    "as-proof-b64-foreign-characters as-proof-b64-padded as-proof-b64-standard-alphabet as-proof-comma-joined-proofs "
    "as-proof-ecdsa-der as-proof-exp-past as-proof-htm-lowercase as-proof-htm-missing as-proof-htm-wrong "
    "as-proof-htu-backslash-authority as-proof-htu-backslash-path as-proof-htu-missing as-proof-htu-other-host "
    "as-proof-htu-other-path as-proof-htu-other-port as-proof-htu-other-scheme as-proof-htu-path-case "
    "as-proof-htu-userinfo as-proof-iat-hour-future as-proof-iat-hour-past as-proof-iat-missing as-proof-iat-string "
    "as-proof-jti-missing as-proof-jti-number as-proof-jwk-missing-jku as-proof-jwk-missing-kid "
    "as-proof-jwk-missing-x5c as-proof-jwk-odd-member as-proof-jwk-private as-proof-jwk-private-rsa "
    "as-proof-nbf-future as-proof-not-jwt-base64 as-proof-not-jwt-empty as-proof-not-jwt-garbage "
    "as-proof-not-jwt-header-not-json as-proof-not-jwt-jwe as-proof-not-jwt-jws-json as-proof-not-jwt-two-segments "
    "as-proof-payload-edited as-proof-rsa-small-key as-proof-signature-empty as-proof-signature-flipped-byte "
    "as-proof-signed-by-other-key as-proof-two-headers-different-proofs as-proof-two-headers-same-proof "
    "as-proof-typ-at-jwt as-proof-typ-jwt as-proof-typ-missing as-proof-alg-not-advertised"
)
AS_PROOF_401_NONCE = "as-primed-nonce-signature"  # only where the AS demands nonces


def _lenient_kill(name: str, nonce: str = "both", par: bool = True) -> Kill:
    """The entry of one leniency alone: its warnings and its info, in that nonce mode (PAR on or off)."""
    warned = LENIENT_WARNINGS.get(name, "")
    if name == "as-proof-401":
        warned = AS_PROOF_401 + (" " + AS_PROOF_401_NONCE if nonce in ("as", "both") else "")
        warned += " " + " ".join(f"par-{c[3:]}" for c in AS_PROOF_401.split() if c.startswith("as-proof-"))
    keep = (lambda c: not c.startswith("par-")) if not par else (lambda c: True)
    return Kill(
        "",
        warned=" ".join(c for c in warned.split() if keep(c) and c not in _PAR_ABSENT),
        info=nonce_named_info(nonce) if name == "nonce-named-invalid-proof" else LENIENT_INFO.get(name, ""),
        leniencies=name,
        nonce=nonce,
        par=par,
        only=True,
        every_case=True,  # fixed and fuzz cases alike, those listed only
    )


#: cases of the AS proof checks with no PAR twin
_PAR_ABSENT = {"par-proof-jwk-private-rsa", "par-proof-rsa-small-key", "par-proof-alg-not-advertised"}
KILLS += [kill for name in [*LENIENT_WARNINGS, *LENIENT_INFO] if (kill := _lenient_kill(name)).expected]
ALL_LENIENT_WARNINGS = {case for cases in LENIENT_WARNINGS.values() for case in cases.split()}
#: with every leniency on, these skip beside the clean server's skips: no DPoP challenge (challenge-scheme), so
#: no algs to look into; and this one runs, for the AS binds a small RSA key (rsa-small-keys)
LENIENT_SKIPS_ADDED = {"rs-challenge-algs", "rs-proof-alg-not-advertised"}
LENIENT_SKIPS_REMOVED = {"rs-proof-rsa-small-key"}


def all_lenient(nonce: str, *, fuzz: bool = False, par: bool = True) -> Kill:
    """Every leniency on: the union of their findings in that nonce mode (the fuzz cases' too, with `fuzz`).

    A proof one leniency accepts is judged as accepted: exp and nbf ignored are info, whatever status another
    leniency (as-proof-401) would refuse them with.
    """
    outcomes: dict[str, str] = {}
    for name in LENIENT_WARNINGS:
        outcomes |= dict.fromkeys(_lenient_kill(name, nonce, par).warned.split(), "warning")
    for name, cases in LENIENT_INFO.items():
        if name == "nonce-named-invalid-proof":
            cases = nonce_named_info(nonce)
        for case in cases.split():
            # an accepted exp or nbf is info whatever status as-proof-401 refuses others with; any other info
            # gives way to a warning of the same case (a 400 challenge that also names Bearer only)
            if name == "exp-nbf-ignored" or case not in outcomes:
                outcomes[case] = "info"
    if not fuzz:
        outcomes = {case: outcome for case, outcome in outcomes.items() if "-fuzz-" not in case}
    if not par:
        outcomes = {case: outcome for case, outcome in outcomes.items() if not case.startswith(tuple(PAR_CASES))}

    def of(outcome: str) -> str:
        return " ".join(sorted(case for case, found in outcomes.items() if found == outcome))

    return Kill("", warned=of("warning"), info=of("info"), nonce=nonce, leniencies="all", par=par)


# Clean runs: nonce mode and arguments -> the cases that do not apply there (skipped, with a reason).
_NONCE_NAMES = (
    "challenge",
    "challenge-no-store",
    "retry",
    "bogus",
    "one-char-changed",
    "required-once-provided",
    "from-2xx-accepted",
    "exact",
)
# skipped where the AS (RS) demands no nonce: the nonce cases, and the nonce a cache is primed with
AS_NONCE = {f"as-nonce-{name}" for name in _NONCE_NAMES} | {"as-primed-nonce-signature"}
RS_NONCE = {f"rs-nonce-{name}" for name in _NONCE_NAMES} | {"rs-primed-nonce-signature"}
CROSS_NONCE = {"as-nonce-from-rs", "rs-nonce-from-as"}  # skipped unless both demand nonces
DEFAULT_PORT = {"as-htu-default-port", "rs-htu-default-port"}  # skipped on a non-default port
#: skipped on a correct server: the AS refuses to bind a token to a small RSA key, so the RS has none to judge
SMALL_RSA = {"rs-proof-rsa-small-key"}
PAR_CASES = {"par-", "as-par-"}  # the prefixes of the cases that need the PAR endpoint

CLEAN: list[tuple[str, tuple[str, ...], set[str]]] = [
    ("none", (), AS_NONCE | RS_NONCE | CROSS_NONCE | DEFAULT_PORT | SMALL_RSA),
    ("as", (), RS_NONCE | CROSS_NONCE | DEFAULT_PORT | SMALL_RSA),
    ("rs", (), AS_NONCE | CROSS_NONCE | DEFAULT_PORT | SMALL_RSA),
    ("both", (), DEFAULT_PORT | SMALL_RSA),
    # FAPI 2.0's algorithms leave the resource nothing unadvertised to try (RS256 is the one it leaves out)
    (
        "both",
        (*FAPI2, "--profile", "browser"),
        DEFAULT_PORT | SMALL_RSA | {"fapi2-rs-rsa-small-key-refused", "rs-proof-alg-not-advertised"},
    ),
    ("both", ("--reference-port", "80"), SMALL_RSA),
    # without a PAR endpoint every case that needs one is skipped too (tests/test_kill_matrix.py adds them)
    ("both", ("--reference-par", "off"), DEFAULT_PORT | SMALL_RSA),
]


def applies(case: str, nonce: str, par: bool) -> bool:
    """Whether a case judges anything against the clean reference server in that nonce mode and PAR setting."""
    if not par and case.startswith(tuple(PAR_CASES)):
        return False
    skipped = next(s for n, args, s in CLEAN if n == nonce and not args)
    return case not in skipped


#: the other modes each issue-13 entry runs in, besides both nonces with PAR on: its cases alone
EXTRA_MODES = (("none", True), ("as", True), ("rs", True), ("both", False))


def in_mode(kill: Kill, nonce: str, par: bool) -> Kill | None:
    """The entry in another mode, with only its cases that apply there (None when none does)."""

    def keep(group: str) -> str:
        return " ".join(case for case in group.split() if applies(case, nonce, par))

    failed, warned, info = keep(kill.failed), keep(kill.warned), keep(kill.info)
    if not (failed or warned or info):
        return None
    return Kill(kill.defects, failed=failed, warned=warned, info=info, nonce=nonce, par=par, only=True)


IN_EVERY_MODE = [
    entry for kill in NEW_KILLS for nonce, par in EXTRA_MODES if (entry := in_mode(kill, nonce, par)) is not None
]
IN_EVERY_MODE += [
    Kill("iat-window-wide", warned=_IAT_WINDOW["both"][0], info=_IAT_WINDOW["both"][1], par=False, only=True)
]
KILLS += IN_EVERY_MODE


def render() -> str:
    """docs/kill-matrix.md: defect -> the cases that catch it, and case -> the defects that kill it."""
    lines = [
        "# Kill matrix",
        "",
        "Generated from `tests/kill_matrix.py` (`python tests/kill_matrix.py`); `tests/test_kill_matrix.py` runs",
        "every row against the reference server and checks that exactly these cases fail, warn or give info.",
        "A case that no defect can make fail would be a case that cannot fail: `test_every_case_is_killed`",
        "forbids that.",
        "",
        "## Defect → cases that catch it",
        "",
        "| defect(s) | nonces | other options | cases run | failed | warning | info |",
        "|---|---|---|---|---|---|---|",
    ]
    for kill in KILLS:
        cells = [
            kill.name,
            kill.nonce,
            " ".join((*kill.args, *(() if kill.par else ("PAR off",)))),
            "its own" if kill.only else "all" if kill.every_case else "fuzz" if kill.fuzz else "fixed",
            *(" ".join(f"`{c}`" for c in group.split()) for group in (kill.failed, kill.warned, kill.info)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    by_case: dict[str, list[str]] = {}
    for kill in KILLS:
        for case, outcome in kill.expected.items():
            by_case.setdefault(case, []).append(f"{kill.name} ({outcome})")
    lines += ["", "## Case → defects that kill it", "", "| case | killed by |", "|---|---|"]
    lines += [f"| `{case}` | {'; '.join(killers)} |" for case, killers in sorted(by_case.items())]
    return "\n".join(lines) + "\n"


DOC = Path(__file__).resolve().parent.parent / "docs" / "kill-matrix.md"

if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
