"""Judging a DPoP client: the checks on every request it sent to the suite's own AS and RS (issue 30).

The suite plays the authorization server and the resource server; they record every request they receive
(`ReceivedRequest`, with the answer they gave) and these pure functions judge the record afterwards. Nothing here
sends or receives: a scenario's requests in, one `CheckResult` per check out. That keeps the judging testable on
the RFC's own examples and on synthetic requests, with no server.

Every check names one requirement of conformance/judge/requirements.py (the RC-* ids, whose duty is the client's)
and takes its level from that requirement's keyword, so a check cannot be stricter than the words it quotes:
MUST (and the protocol's own definitions) → failed, SHOULD → warning, MAY or no keyword → info. An *observation*
records what the client did where the RFC leaves the choice to it: always info, never passed or failed.

A check that had nothing to look at in a scenario (no resource call, no refresh, no nonce challenge) is skipped,
with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from conformance.client.uri import equivalent
from conformance.jose import (
    PRIVATE_MEMBERS,
    DecodedJWS,
    JOSEError,
    SignatureError,
    access_token_hash,
    alg_fits_key,
    b64url_encode,
    decode_jws,
    thumbprint,
    verify_signature,
)
from conformance.judge.requirements import REQUIREMENTS
from conformance.judge.verdicts import Level, Outcome, outcome_for_level

__all__ = [
    "CHECKS",
    "Answer",
    "CheckResult",
    "ClientCheck",
    "Finding",
    "JudgingContext",
    "ReceivedRequest",
    "jti_bits",
    "judge_client",
    "nonce_challenge",
    "worst_outcome",
]

#: the asymmetric JWS algorithms a proof may use (RFC 7518 §3.1, RFC 8037): what "asymmetric" means here
ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519"}
)
#: how far a proof's iat may be from the time the server received it, in seconds (clocks on one host agree; a
#: proof made a minute before it was sent is a stale one)
IAT_WINDOW = 60.0
#: an iat this many times larger than the time it was received at was written in milliseconds
_MILLIS = 100.0
#: more consecutive nonce challenges at one server than this, each answered by another request, is a loop
MAX_CONSECUTIVE_CHALLENGES = 4
_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """What the suite's server answered to one request."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (names compared case-insensitively), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> dict[str, object]:
        """The body as a JSON object, or {} when it is not one."""
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request a judging server received from the client under test, with the answer it gave.

    `url` is the absolute URL as received (with its query); `headers` are the (name, value) pairs in the order
    they came, repeated names kept apart; `received_at` is the real time it arrived (time.time()), whatever
    clock the scenario's server pretended to have; `server` is "AS" or "RS".
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    received_at: float
    server: str
    scenario: str
    answer: Answer | None = None

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (names compared case-insensitively), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def path_url(self) -> str:
        """The URL without query and fragment: what htu must name."""
        return self.url.split("#", 1)[0].split("?", 1)[0]

    def form(self) -> dict[str, str]:
        """The body read as application/x-www-form-urlencoded (first value of each name)."""
        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        form: dict[str, str] = {}
        for name, value in pairs:
            form.setdefault(name, value)
        return form

    def query(self) -> dict[str, str]:
        """The URL's query parameters (first value of each name)."""
        form: dict[str, str] = {}
        for name, value in parse_qsl(urlsplit(self.url).query, keep_blank_values=True):
            form.setdefault(name, value)
        return form


@dataclass(frozen=True)
class JudgingContext:
    """What the judging needs to know of the scenario: where things are and what the servers said of themselves.

    `clock_offset` is how far (seconds) the servers' clock, as their Date header shows it, is ahead of the real
    one in this scenario; `advertised_algs` is the AS metadata's dpop_signing_alg_values_supported.
    """

    token_endpoint: str
    resource_url: str
    advertised_algs: tuple[str, ...]
    authorization_endpoint: str = ""
    clock_offset: float = 0.0


@dataclass(frozen=True)
class ClientCheck:
    """One check on the client: its id, what it checks, and the requirement whose words give its level."""

    id: str
    title: str
    requirement: str
    observation: bool = False  # records the client's choice: info whenever it applies, never passed or failed
    #: a finding of it, at any level, explains a command that could not finish its flow (a challenge left
    #: unanswered leaves the call refused): the run layer then judges the scenario instead of calling it an error
    explains_exit: bool = False

    @property
    def level(self) -> Level:
        """The level the requirement's keyword gives (docs/cases.md, Levels); an observation is at most MAY."""
        if self.observation:
            return Level.MAY
        keyword = REQUIREMENTS[self.requirement].keyword
        if keyword in ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT", "defined"):
            return Level.MUST
        if keyword in ("SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"):
            return Level.SHOULD
        return Level.MAY


def _checks(*checks: ClientCheck) -> dict[str, ClientCheck]:
    return {check.id: check for check in checks}


#: Every check on a client, by id, in the order reports list them.
CHECKS: dict[str, ClientCheck] = _checks(
    ClientCheck("proof-present", "Every token request and resource request carries a DPoP proof", "RC-5-proof"),
    ClientCheck("one-dpop-header", "Exactly one DPoP header field, carrying one proof", "RC-5-one-header"),
    ClientCheck("typ", "The proof's typ is dpop+jwt", "RC-4.2-typ"),
    ClientCheck("alg", "The proof's alg is an asymmetric algorithm that fits its key", "RC-4.2-alg"),
    ClientCheck(
        "alg-advertised",
        "The proof's alg is one the AS advertised in dpop_signing_alg_values_supported",
        "RC-5.1-alg-advertised",
    ),
    ClientCheck("jwk-public", "The proof's jwk is a public key, with no private member", "RC-4.2-jwk"),
    ClientCheck("signature", "The proof's signature verifies with its jwk", "RC-4.2-signature"),
    ClientCheck("claims-present", "The proof carries jti, htm, htu and iat", "RC-4.2-claims"),
    ClientCheck("jti-unique", "No jti is sent twice in a run, a nonce retry's included", "RC-4.2-jti"),
    ClientCheck("jti-entropy", "Each jti carries at least 96 bits (or is a version 4 UUID)", "RC-4.2-jti-entropy"),
    ClientCheck("htm", "htm is the request's method, exactly", "RC-4.2-htm"),
    ClientCheck("htu", "htu is the request URI without query and fragment", "RC-4.2-htu"),
    ClientCheck("iat", "iat is the proof's creation time, in seconds, near the time it was received", "RC-4.2-iat"),
    ClientCheck("iat-clock", "iat follows the server's clock, as its Date header shows it", "RC-11.1-clock"),
    ClientCheck("ath", "ath at the resource is base64url(SHA-256(access token)), unpadded", "RC-4.2-ath"),
    ClientCheck(
        "nonce",
        "A retry answering a nonce challenge carries the nonce it supplied; a carried nonce is one a server supplied",
        "RC-4.2-nonce",
    ),
    ClientCheck(
        "nonce-kept",
        "A later request carries the nonce the server last supplied in a challenge (its choice)",
        "RC-8.2-nonce-kept",
    ),
    ClientCheck("nonce-origin", "A nonce goes only to the server that issued it", "RC-9-nonce-origin"),
    ClientCheck(
        "as-nonce-from-200", "The next token request carries the nonce an AS delivered on a 200", "RC-8.2-new-nonce"
    ),
    ClientCheck(
        "rs-nonce-from-200", "The next resource request carries the nonce the RS delivered on a 200", "RC-9-new-nonce"
    ),
    ClientCheck(
        "nonce-retry",
        "A use_dpop_nonce challenge is answered by a request carrying its nonce",
        "RC-8-retry",
        explains_exit=True,
    ),
    ClientCheck("retry-bounded", "The client stops retrying a server that keeps challenging", "RC-8-bounded"),
    ClientCheck("auth-scheme", "A DPoP-bound token is sent with the DPoP authentication scheme", "RC-7.1-scheme"),
    ClientCheck("key-binding", "Every resource proof is signed by the key the token is bound to", "RC-7-key"),
    ClientCheck(
        "refresh-same-key-public",
        "A public client refreshes with the key the refresh token is bound to",
        "RC-5-refresh-public",
    ),
    ClientCheck(
        "refresh-same-key-confidential",
        "A confidential client refreshes with the key it had (its choice)",
        "RC-5-refresh-confidential",
    ),
    ClientCheck("dpop-jkt", "dpop_jkt is the thumbprint of the key the code is redeemed with", "RC-10-dpop-jkt"),
    ClientCheck(
        "bearer-token-type",
        "What the client does with a token answer saying Bearer",
        "RC-5-token-type",
        observation=True,
    ),
)


@dataclass(frozen=True)
class Finding:
    """One thing a check found: its outcome (passed, or the outcome of a violation), what, and which request."""

    check: str
    outcome: Outcome
    message: str
    request: int | None = None  # index into the scenario's requests of the evidence


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome in one scenario: the worst of its findings (skipped when it had none), and the findings."""

    check: str
    outcome: Outcome
    message: str
    findings: tuple[Finding, ...] = ()


_ORDER = {Outcome.PASSED: 0, Outcome.INFO: 1, Outcome.WARNING: 2, Outcome.FAILED: 3, Outcome.ERROR: 4}


# What the judging works with -------------------------------------------------------------------------------------


@dataclass
class _Proof:
    """A proof as received: the JWS when it parses, or why not."""

    raw: str
    jws: DecodedJWS | None
    problem: str = ""

    @property
    def claims(self) -> dict[str, object]:
        return self.jws.payload if self.jws else {}

    @property
    def header(self) -> dict[str, object]:
        return self.jws.header if self.jws else {}

    @property
    def jkt(self) -> str | None:
        jwk = self.header.get("jwk")
        if not isinstance(jwk, dict):
            return None
        try:
            return thumbprint(jwk)
        except JOSEError:
            return None


@dataclass
class _Token:
    token_type: str
    jkt: str | None
    issued_by: int


@dataclass
class _State:
    """What the servers had said to the client before the request being judged."""

    nonces: dict[str, list[tuple[int, str, bool]]] = field(default_factory=lambda: {"AS": [], "RS": []})
    tokens: dict[str, _Token] = field(default_factory=dict)
    refresh_tokens: dict[str, str | None] = field(default_factory=dict)  # refresh token → jkt it was obtained with
    dpop_jkts: list[str] = field(default_factory=list)
    jtis: dict[str, int] = field(default_factory=dict)


class _Findings:
    def __init__(self) -> None:
        self.found: dict[str, list[Finding]] = {check: [] for check in CHECKS}
        self.skipped: dict[str, str] = {}

    def ok(self, check: str, message: str, index: int | None = None) -> None:
        self.found[check].append(Finding(check, Outcome.PASSED, message, index))

    def bad(self, check: str, message: str, index: int | None = None) -> None:
        outcome = outcome_for_level(CHECKS[check].level)
        self.found[check].append(Finding(check, outcome, message, index))

    def note(self, check: str, message: str, index: int | None = None) -> None:
        self.found[check].append(Finding(check, Outcome.INFO, message, index))


def _proof_of(request: ReceivedRequest) -> _Proof | None:
    values = request.header_values("dpop")
    if not values:
        return None
    raw = values[0].strip()
    try:
        return _Proof(raw, decode_jws(raw))
    except (ValueError, RecursionError) as exc:
        return _Proof(raw, None, str(exc) if isinstance(exc, JOSEError) else "not a well-formed JWS")


def nonce_challenge(request: ReceivedRequest) -> str | None:
    """The nonce of a use_dpop_nonce challenge the request was answered with (AS: 400 JSON; RS: 401), or None."""
    answer = request.answer
    if answer is None or answer.status not in (400, 401):
        return None
    nonces = answer.header_values("dpop-nonce")
    if not nonces:
        return None
    if answer.json().get("error") == "use_dpop_nonce":
        return nonces[0]
    challenges = " ".join(answer.header_values("www-authenticate"))
    return nonces[0] if "use_dpop_nonce" in challenges else None


def _granted(request: ReceivedRequest) -> bool:
    return request.answer is not None and 200 <= request.answer.status < 300


def jti_bits(jti: str) -> float:
    """The entropy a jti can carry at most, in bits, from its length and the alphabet it is written in.

    A version 4 UUID carries 122 random bits. Otherwise the smallest alphabet the value fits decides the bits per
    character: decimal digits 3.3, hexadecimal 4, base64url 6, any other printable ASCII 6.5.
    """
    if _UUID4.fullmatch(jti):
        return 122.0
    if jti.isdigit():
        per = math.log2(10)
    elif re.fullmatch(r"[0-9a-fA-F]+", jti):
        per = 4.0
    elif re.fullmatch(r"[A-Za-z0-9_-]+=*", jti):
        per = 6.0
    else:
        per = math.log2(95)
    return len(jti.rstrip("=")) * per


# The checks on one proof ------------------------------------------------------------------------------------------


def _judge_proof(
    request: ReceivedRequest, index: int, proof: _Proof, ctx: JudgingContext, state: _State, out: _Findings
) -> None:
    """typ, alg, jwk, signature, claims, jti, htm, htu, iat: what a proof says of itself and of its request."""
    where = f"#{index} {request.method} {request.path_url}"
    if proof.jws is None:
        out.bad("signature", f"{where}: the DPoP header is not a compact JWS ({proof.problem})", index)
        return
    header, claims = proof.header, proof.claims
    typ = header.get("typ")
    if typ == "dpop+jwt":
        out.ok("typ", where, index)
    else:
        out.bad("typ", f"{where}: typ is {typ!r}, not 'dpop+jwt'", index)
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        out.bad("jwk-public", f"{where}: the proof's header has no jwk object", index)
        jwk = None
    elif PRIVATE_MEMBERS & set(jwk):
        out.bad("jwk-public", f"{where}: the jwk carries private members {sorted(PRIVATE_MEMBERS & set(jwk))}", index)
    else:
        out.ok("jwk-public", where, index)
    alg = header.get("alg")
    alg_ok = False
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGS:
        out.bad("alg", f"{where}: alg {alg!r} is not an asymmetric JWS algorithm", index)
    elif jwk is not None and not alg_fits_key(alg, jwk):
        out.bad("alg", f"{where}: alg {alg} does not fit the jwk (kty {jwk.get('kty')!r})", index)
    else:
        alg_ok = True
        out.ok("alg", where, index)
    if isinstance(alg, str) and alg in ASYMMETRIC_ALGS:
        if alg in ctx.advertised_algs:
            out.ok("alg-advertised", where, index)
        else:
            advertised = " ".join(ctx.advertised_algs)
            out.bad("alg-advertised", f"{where}: alg {alg} is not one the AS advertised ({advertised})", index)
    if jwk is not None and isinstance(alg, str) and alg_ok:  # under a wrong alg the fault is alg's alone
        try:
            verify_signature(alg, jwk, proof.jws.signing_input, proof.jws.signature)
            out.ok("signature", where, index)
        except SignatureError as exc:
            out.bad("signature", f"{where}: the signature does not verify with the jwk ({exc})", index)
    missing = [name for name in ("jti", "htm", "htu", "iat") if name not in claims]
    if missing:
        out.bad("claims-present", f"{where}: the proof lacks {', '.join(missing)}", index)
    else:
        out.ok("claims-present", where, index)
    _judge_jti(claims.get("jti"), where, index, state, out)
    htm = claims.get("htm")
    if htm == request.method:
        out.ok("htm", where, index)
    elif htm is not None:
        out.bad("htm", f"{where}: htm is {htm!r}, the request's method is {request.method}", index)
    _judge_htu(claims.get("htu"), request, where, index, out)
    _judge_iat(claims.get("iat"), request, where, index, ctx, out)


def _judge_jti(jti: object, where: str, index: int, state: _State, out: _Findings) -> None:
    if jti is None:
        return
    if not isinstance(jti, str):
        out.bad("jti-unique", f"{where}: jti is not a string", index)
        return
    first = state.jtis.get(jti)
    if first is not None:
        out.bad("jti-unique", f"{where}: jti {jti!r} was already sent in request #{first}", index)
    else:
        state.jtis[jti] = index
        out.ok("jti-unique", where, index)
    bits = jti_bits(jti)
    if bits < 96:
        out.note("jti-entropy", f"{where}: jti {jti!r} carries at most {bits:.0f} bits (§4.2 names 96)", index)
    else:
        out.ok("jti-entropy", where, index)


def _judge_htu(htu: object, request: ReceivedRequest, where: str, index: int, out: _Findings) -> None:
    if htu is None:
        return
    if not isinstance(htu, str):
        out.bad("htu", f"{where}: htu is not a string", index)
        return
    if "?" in htu or "#" in htu:
        out.bad("htu", f"{where}: htu {htu!r} carries a query or a fragment; §4.2 leaves them out", index)
        return
    how = equivalent(htu, request.path_url)
    if how is None:
        out.bad("htu", f"{where}: htu {htu!r} does not name the request URI {request.path_url}", index)
    elif how == "exact":
        out.ok("htu", where, index)
    else:
        out.ok("htu", f"{where}: htu {htu!r} equals {request.path_url} after {how} normalisation", index)


def _judge_iat(
    iat: object, request: ReceivedRequest, where: str, index: int, ctx: JudgingContext, out: _Findings
) -> None:
    if iat is None:
        return
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        out.bad("iat", f"{where}: iat {iat!r} is not a NumericDate (a number of seconds)", index)
        return
    real, server = request.received_at, request.received_at + ctx.clock_offset
    if iat > real * _MILLIS:
        out.bad("iat", f"{where}: iat {iat} is in milliseconds; a NumericDate counts seconds", index)
        return
    near_real, near_server = abs(iat - real) <= IAT_WINDOW, abs(iat - server) <= IAT_WINDOW
    if near_real or near_server:
        out.ok("iat", f"{where}: iat is {iat - real:+.0f} s from the time received", index)
    else:
        out.bad("iat", f"{where}: iat is {iat - real:+.0f} s from the time it was received", index)
        return
    if not ctx.clock_offset:
        return
    if near_server:
        out.ok("iat-clock", f"{where}: iat follows the server's Date ({ctx.clock_offset:+.0f} s)", index)
    else:
        out.note(
            "iat-clock",
            f"{where}: iat follows the client's own clock; the server's Date said {ctx.clock_offset:+.0f} s "
            "(a server with a narrow iat window refuses it)",
            index,
        )


# The checks that depend on what the servers said before -------------------------------------------------------------


def _judge_nonce(
    request: ReceivedRequest,
    index: int,
    proof: _Proof,
    state: _State,
    retry_of: dict[int, tuple[int, str]],
    out: _Findings,
) -> None:
    """nonce, nonce-kept, nonce-origin, as-nonce-from-200 and rs-nonce-from-200: each request's nonce claim.

    Which request each check judges (one fault, one check, one level):

    - `nonce` (§4.2's MUST, read as the proof answering the response that supplied the nonce): a *retry* (the
      very next request to the URL a use_dpop_nonce challenge refused, as `nonce-retry` defines it) carries the
      nonce that challenge supplied; and any request's nonce is a value some server supplied (a value no server
      ever sent fails). Whether a challenge is retried at all is `nonce-retry`'s.
    - `as-nonce-from-200` (§8.2's MUST): every token request after the AS last supplied a nonce on a 200 carries
      that nonce (missing, or an older one, fails).
    - `rs-nonce-from-200` (§9, no keyword: info): the same at the resource, for the RS's nonce on a 200.
    - `nonce-kept` (§8.2 "is expected", no keyword: info): any other request (not a retry) to a server whose latest
      nonce came in a challenge carries that nonce (a new token or a new key that starts without it is info).
    - `nonce-origin` (§9, "should not be confused", lower case: info): a request other than a retry that sends a
      server the other server's nonce; such a request is judged there and nowhere else, the §8.2 MUST excepted
      (a retry carrying the other server's nonce is judged by `nonce` alone: it lacks the supplied one).
    """
    server, other = request.server, "RS" if request.server == "AS" else "AS"
    supplied = state.nonces[server]
    ours = {nonce for _, nonce, _ in supplied}
    theirs = {nonce for _, nonce, _ in state.nonces[other]} - ours
    sent = proof.claims.get("nonce")
    where = f"#{index} {request.method} {request.path_url}"
    if sent is not None and (not isinstance(sent, str) or sent not in ours | theirs):
        out.bad("nonce", f"{where}: nonce {sent!r} is a value no server supplied", index)
        return
    if index in retry_of:  # the retry must carry the challenge's nonce: any other value is that one fault
        challenged, nonce = retry_of[index]
        if sent == nonce:
            out.ok("nonce", f"{where}: the retry of #{challenged} carries its nonce", index)
            out.ok("nonce-origin", where, index)
        elif sent is None:
            out.bad("nonce", f"{where}: the retry of #{challenged} carries no nonce; the challenge supplied one", index)
        else:
            whose = f"the {other}'s nonce" if sent in theirs else "an older nonce"
            out.bad("nonce", f"{where}: the retry of #{challenged} carries {whose}, not the one supplied", index)
        return
    if sent in theirs:
        out.note("nonce-origin", f"{where}: the {other}'s nonce sent to the {server}", index)
    elif sent is not None:
        out.ok("nonce-origin", where, index)
    if sent in ours:
        out.ok("nonce", f"{where}: a nonce the {server} supplied", index)
    if not supplied or (sent in theirs and not (server == "AS" and supplied[-1][2])):
        return
    last_index, last, on_success = supplied[-1]
    if on_success:
        check = "as-nonce-from-200" if server == "AS" else "rs-nonce-from-200"
        if sent == last:
            out.ok(check, where, index)
        else:
            what = "no nonce" if sent is None else "another nonce"
            out.bad(check, f"{where}: {what}; the {server} delivered a new one on its 200 at #{last_index}", index)
    elif sent == last:
        out.ok("nonce-kept", where, index)
    else:
        what = "no nonce" if sent is None else "an older nonce"
        out.note("nonce-kept", f"{where}: {what}; the {server} supplied one in its challenge at #{last_index}", index)


def _retries(requests: Sequence[ReceivedRequest], ctx: JudgingContext) -> dict[int, tuple[int, str]]:
    """Each retry's index → (the challenged request's index, the nonce its challenge supplied).

    A retry is the very next request, to the same server and URL, after a use_dpop_nonce challenge.
    """
    endpoints = (ctx.token_endpoint, ctx.resource_url.split("?", 1)[0])
    retries: dict[int, tuple[int, str]] = {}
    for index, request in enumerate(requests[:-1]):
        nonce = nonce_challenge(request) if request.path_url in endpoints else None
        following = requests[index + 1]
        if nonce is not None and (following.server, following.path_url) == (request.server, request.path_url):
            retries[index + 1] = (index, nonce)
    return retries


def _judge_resource(request: ReceivedRequest, index: int, proof: _Proof | None, state: _State, out: _Findings) -> None:
    """ath, auth-scheme, key-binding, bearer-token-type: a resource request against the token it presents."""
    where = f"#{index} {request.method} {request.path_url}"
    lines = request.header_values("authorization")
    if len(lines) != 1:
        out.bad("auth-scheme", f"{where}: {len(lines)} Authorization header fields; one carries the token", index)
        return
    scheme, _, token = lines[0].strip().partition(" ")
    token = token.strip()
    issued = state.tokens.get(token)
    if issued is not None and issued.token_type.lower() == "bearer":
        used = "under the DPoP scheme" if scheme.lower() == "dpop" else f"under the {scheme} scheme"
        out.note("bearer-token-type", f"{where}: the token answered as Bearer (#{issued.issued_by}) is used {used}")
        return
    if scheme.lower() == "dpop":
        out.ok("auth-scheme", where, index)
    else:
        out.bad("auth-scheme", f"{where}: scheme {scheme!r} for a DPoP-bound token; it is sent as DPoP", index)
    if proof is None or proof.jws is None:
        return
    ath = proof.claims.get("ath")
    expected = _ath_of(token)
    if ath == expected:
        out.ok("ath", where, index)
    elif ath is None:
        out.bad("ath", f"{where}: the proof has no ath, though it comes with an access token", index)
    elif isinstance(ath, str) and ath == hashlib.sha256(token.encode("utf-8", "replace")).hexdigest():
        out.bad("ath", f"{where}: ath is the hash in hexadecimal; §4.2 asks for base64url", index)
    elif isinstance(ath, str) and ath.rstrip("=") == expected:
        out.bad("ath", f"{where}: ath is padded with '='; base64url here has no padding", index)
    else:
        out.bad("ath", f"{where}: ath {ath!r} is not the hash of the access token sent", index)
    if issued is None:
        return
    if issued.jkt is not None and proof.jkt == issued.jkt:
        out.ok("key-binding", where, index)
    elif issued.jkt is not None:
        out.bad("key-binding", f"{where}: signed by another key than the token's (#{issued.issued_by})", index)


def _ath_of(token: str) -> str:
    try:
        return access_token_hash(token)
    except UnicodeEncodeError:
        return b64url_encode(hashlib.sha256(token.encode("utf-8")).digest())


def _judge_token_request(
    request: ReceivedRequest, index: int, proof: _Proof | None, state: _State, out: _Findings
) -> None:
    """dpop-jkt and the refresh key, then what the answer gave (tokens, their binding)."""
    where = f"#{index} {request.method} {request.path_url}"
    form = request.form()
    grant = form.get("grant_type")
    confidential = bool(request.header_values("authorization")) or "client_secret" in form
    if grant == "authorization_code" and state.dpop_jkts and proof is not None:
        if proof.jkt == state.dpop_jkts[-1]:
            out.ok("dpop-jkt", where, index)
        else:
            out.bad("dpop-jkt", f"{where}: the code was asked for with another key's dpop_jkt", index)
    if grant == "refresh_token" and proof is not None:
        bound = state.refresh_tokens.get(form.get("refresh_token", ""))
        check = "refresh-same-key-confidential" if confidential else "refresh-same-key-public"
        if bound is not None and proof.jkt == bound:
            out.ok(check, where, index)
        elif bound is not None:
            out.bad(check, f"{where}: the refresh is signed by another key than the one that obtained it", index)
    answer = request.answer
    if answer is None or answer.status != 200:
        return
    body = answer.json()
    token, token_type = body.get("access_token"), body.get("token_type")
    jkt = proof.jkt if proof is not None else None
    if isinstance(token, str) and isinstance(token_type, str):
        state.tokens[token] = _Token(token_type, jkt, index)
    refresh = body.get("refresh_token")
    if isinstance(refresh, str):
        state.refresh_tokens[refresh] = jkt


def _record_answer(request: ReceivedRequest, index: int, state: _State) -> None:
    """The nonce a server handed out in its answer, on a challenge or a success."""
    answer = request.answer
    if answer is None:
        return
    for nonce in answer.header_values("dpop-nonce")[:1]:
        state.nonces[request.server].append((index, nonce, _granted(request)))


def _judge_challenges(requests: Sequence[ReceivedRequest], ctx: JudgingContext, out: _Findings) -> None:
    """nonce-retry and retry-bounded: what the client sent right after each use_dpop_nonce challenge.

    A retry is the very next request, to the same URL: a later request that carries the nonce (the next call of
    the flow) did not retry the refused one. A challenge after a retry that the client leaves unanswered is a
    client that stopped, which is what it should do when a server keeps challenging. Whether the retry carries
    the challenge's nonce is the `nonce` check's (one fault, one check).
    """
    endpoints = (ctx.token_endpoint, ctx.resource_url.split("?", 1)[0])
    runs: dict[tuple[str, str], int] = {}
    for index, request in enumerate(requests):
        if request.path_url not in endpoints:
            continue
        place = (request.server, request.path_url)
        nonce = nonce_challenge(request)
        if nonce is None:
            runs[place] = 0
            continue
        runs[place] = run = runs.get(place, 0) + 1
        following = requests[index + 1] if index + 1 < len(requests) else None
        retried = following is not None and (following.server, following.path_url) == place
        where = f"#{index} {request.method} {request.path_url}"
        if retried:
            out.ok("nonce-retry", f"{where}: retried at #{index + 1}", index)
        elif run == 1:
            out.bad("nonce-retry", f"{where}: challenged with a nonce, and not retried", index)
        else:
            out.ok("nonce-retry", f"{where}: stopped after {run - 1} retries", index)
        if run > MAX_CONSECUTIVE_CHALLENGES:
            out.note("retry-bounded", f"{where}: {run} requests in a row challenged, and still retrying", index)
        else:
            out.ok("retry-bounded", where, index)


# The whole scenario ---------------------------------------------------------------------------------------------


def judge_client(requests: Sequence[ReceivedRequest], ctx: JudgingContext) -> dict[str, CheckResult]:
    """Judge every request one scenario recorded, in order; one CheckResult per check of CHECKS."""
    out = _Findings()
    state = _State()
    retry_of = _retries(requests, ctx)
    token_url, resource_url = ctx.token_endpoint, ctx.resource_url.split("?", 1)[0]
    for index, request in enumerate(requests):
        at_token = request.server == "AS" and request.method == "POST" and request.path_url == token_url
        at_resource = request.server == "RS" and request.path_url == resource_url
        if request.server == "AS" and request.path_url == ctx.authorization_endpoint:
            jkt = request.query().get("dpop_jkt")
            if jkt:
                state.dpop_jkts.append(jkt)
        if at_resource and _bearer_token(request, state):
            _judge_resource(request, index, _proof_of(request), state, out)  # an observation only
        elif at_token or at_resource:
            proof = _proof_of(request)
            _judge_presence(request, index, proof, out)
            if proof is not None:
                _judge_proof(request, index, proof, ctx, state, out)
                _judge_nonce(request, index, proof, state, retry_of, out)
            if at_token:
                _judge_token_request(request, index, proof, state, out)
            else:
                _judge_resource(request, index, proof, state, out)
        _record_answer(request, index, state)
    _judge_challenges(requests, ctx, out)
    return _results(out, requests, ctx)


def _bearer_token(request: ReceivedRequest, state: _State) -> bool:
    """Whether a resource request presents a token its answer called Bearer (no proof is due with it)."""
    lines = request.header_values("authorization")
    token = lines[0].strip().partition(" ")[2].strip() if len(lines) == 1 else ""
    issued = state.tokens.get(token)
    return issued is not None and issued.token_type.lower() == "bearer"


def _judge_presence(request: ReceivedRequest, index: int, proof: _Proof | None, out: _Findings) -> None:
    where = f"#{index} {request.method} {request.path_url}"
    values = request.header_values("dpop")
    if proof is None:
        out.bad("proof-present", f"{where}: no DPoP header", index)
        return
    out.ok("proof-present", where, index)
    if len(values) > 1:
        out.bad("one-dpop-header", f"{where}: {len(values)} DPoP header fields", index)
    elif "," in values[0]:
        out.bad("one-dpop-header", f"{where}: the DPoP value holds several proofs (a comma)", index)
    else:
        out.ok("one-dpop-header", where, index)


_SKIP_REASONS: dict[str, str] = {
    "iat-clock": "the servers' clock agrees with the client's in this scenario",
    "ath": "no resource request with a proof was received",
    "auth-scheme": "no resource request was received",
    "key-binding": "no resource request presented a token issued with a proof",
    "nonce": "no nonce challenge was retried and no proof carried a nonce",
    "nonce-kept": "no server supplied a nonce in a challenge before a later request",
    "alg-advertised": "no proof carried an asymmetric alg",
    "nonce-origin": "no nonce was supplied or sent",
    "as-nonce-from-200": "the AS delivered no nonce on a 200 before a token request",
    "rs-nonce-from-200": "the RS delivered no nonce on a 200 before a resource request",
    "nonce-retry": "no server challenged for a nonce",
    "retry-bounded": "no server challenged for a nonce",
    "refresh-same-key-public": "no public client refreshed a token",
    "refresh-same-key-confidential": "no confidential client refreshed a token",
    "dpop-jkt": "no authorization request carried dpop_jkt",
    "bearer-token-type": "no token answer said Bearer, or no such token was used",
}


def _results(out: _Findings, requests: Sequence[ReceivedRequest], ctx: JudgingContext) -> dict[str, CheckResult]:
    results: dict[str, CheckResult] = {}
    for check_id, findings in out.found.items():
        if not findings:
            reason = _SKIP_REASONS.get(check_id, "no token or resource request carried a proof to check")
            results[check_id] = CheckResult(check_id, Outcome.SKIPPED, reason)
            continue
        worst = max(findings, key=lambda f: _ORDER[f.outcome])
        bad = [f for f in findings if f.outcome is not Outcome.PASSED]
        if worst.outcome is Outcome.PASSED:
            message = f"{len(findings)} checked, all as the RFC says"
        else:
            message = worst.message + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
        results[check_id] = CheckResult(check_id, worst.outcome, message, tuple(findings))
    return results


def worst_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    """The worst of some outcomes (skipped counts as nothing): failed over warning over info over passed."""
    seen = [o for o in outcomes if o in _ORDER]
    return max(seen, key=lambda o: _ORDER[o]) if seen else Outcome.SKIPPED
