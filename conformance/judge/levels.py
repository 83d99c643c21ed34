"""How a case's level is decided, and what changed: the rules behind every verdict, written once for docs/cases.md.

tests/test_requirements.py holds the rules against the catalog: no case is stricter than its words allow, a
rule on the client is at most a warning at a server, a claim RFC 9449 does not use is info.
"""

from __future__ import annotations

__all__ = ["CHANGED_SINCE_0_1_0", "render_levels"]

#: (what the words say, whose duty, what a server that departs from them gets)
RULES: tuple[tuple[str, str, str], ...] = (
    ("MUST, MUST NOT, REQUIRED, SHALL (BCP 14, upper case)", "the server's", "failed"),
    ("SHOULD, SHOULD NOT, RECOMMENDED", "the server's", "warning"),
    ('MAY, OPTIONAL, "can", a lower-case "should", no keyword at all', "the server's", "info"),
    ("any keyword", "the client's: the key holder's, the proof's producer's", "warning at most"),
    ("a claim RFC 9449 does not use (exp, nbf)", "nobody's (RFC 7519 §4: ignore what you do not process)", "info"),
    ('a profile\'s "shall" (FAPI 2.0 §5.4.1 on RSA key sizes, ...)', "the server's, in that profile", "failed"),
    ("a definition of the protocol's own messages (a 401's challenge)", "the server's", "failed"),
)

#: what a server's answer gets, whatever the case's requirement: the answer's form is judged on its own
FORM: tuple[tuple[str, str], ...] = (
    (
        "a refusal whose status or error code departs from the RFC's (a 401 at a token endpoint, no error code)",
        "warning, one cause for every case it shows in, in a case of any level",
    ),
    ("a 5xx where a refusal was due (never a refusal, never a pass)", "warning, in a case of any level"),
    ("a 5xx to a valid variant, between valid requests that succeeded", "the case's own level: not accepted"),
    (
        "a DPoP error (invalid_dpop_proof, use_dpop_nonce; invalid_token at a resource) in any status, in the JSON "
        "body or a challenge",
        "the server's answer to the proof: judged as a refusal",
    ),
    (
        "an answer that names the client or its configuration (invalid_client, unauthorized_client, invalid_scope, "
        "unsupported_grant_type), or a bare 401 to a control",
        "error: the setup, never a verdict",
    ),
    (
        "a refusal that names another cause than the case's change (a lost or used grant, a rate limit, 502-504, a "
        "nonce challenge the request could not answer)",
        "sent again with fresh controls; error when it keeps happening",
    ),
    (
        "a pass beside other cases that rests on a refusal naming no DPoP error",
        "run again alone before it counts (results.json concurrency.confirmed_alone)",
    ),
)

CHANGED_SINCE_0_1_0 = """\
- `as-proof-exp-past`, `as-proof-nbf-future`, `rs-proof-exp-past`, `rs-proof-nbf-future`, `par-proof-exp-past`,
  `par-proof-nbf-future`: MUST → MAY. RFC 9449 does not use exp or nbf; RFC 7519 §4 lets a server ignore a claim
  its application does not process, so a server that does is recorded as info (refusing passes).
- `as-proof-rsa-small-key`, `rs-proof-rsa-small-key`: MUST → SHOULD. "A key of size 2048 bits or larger MUST be
  used" (RFC 7518 §3.3) binds the key holder; §4.3 check 5 leaves a server's acceptance to local policy. New
  `fapi2-as-rsa-small-key-refused` and `fapi2-rs-rsa-small-key-refused` (MUST, `--profile fapi2`): FAPI 2.0 §5.4.1
  puts key sizes on the server too.
- `rs-challenge-without-credentials`: judged by RFC 9110 §15.5.2 (requirement `RFC9110-15.5.2`): a 401 without a
  challenge, or whose challenges name only schemes the resource answers like no credentials, fails; a Bearer
  challenge without a DPoP one is info (§7.1: a resource "can" send one); another 4xx than 401 is a warning.
- `rs-token-in-two-places`: a warning only where the resource is shown to read the access_token query parameter
  (RFC 6750 §2.3 is a MAY); info otherwise.
- `rs-advertised-algs-accepted`: where the resource advertises no algs, the AS's list is tried and a refusal is
  info (nothing binds a resource to its AS's list).
- A refusal's form (status, error code) is a warning of its own in a case of any level (it was lowered to info
  in MAY cases); a 5xx where a refusal was due is a warning in a case of any level (a replay case passed on it).
- A 5xx to a valid variant between successful controls is that case's verdict (it was `error`); a 401 with a DPoP
  error at a token endpoint is a refusal with a status finding (it was `error`, "check the client's secret").
- `*-proof-jti-number`, `*-proof-iat-string`: level unchanged (SHOULD), their requirement now `RFC7519-4.1.7` and
  `RFC7519-4.1.6`, whose duty is the producer's.
- Fuzz cases: `b64` false is its own fault, `b64-unencoded` (SHOULD: RFC 7797 §7 binds the JWT's producer), no
  longer "an extension in crit the server does not know" (MUST); every 5xx a fuzz case meets is a warning of its
  own; new faults `alg-not-ascii`, `alg-not-latin1`, `typ-not-ascii`, `typ-not-latin1`, `jti-array`, `jti-object`,
  `htm-not-a-string`, `htu-not-a-string`, `htu-port-out-of-range`, `htu-host-malformed`, `htu-truncated`, each
  sent once in every run.
- New cases: `as|rs|par-proof-alg-non-latin1`, `as|rs|par-proof-b64-false`, `as|rs|par-proof-htu-userinfo`,
  `as|rs|par-proof-htu-backslash-authority`, `as|rs|par-proof-htu-backslash-path`, `as-htu-host-spoof`,
  `rs-htu-host-spoof`, `rs-checks-under-two-authorization-lines-dpop-first` and `-bearer-first`,
  `rs-authorization-trailing-text`, `rs-authorization-tab`, `rs-authorization-no-token`, `rs-primed-kid-key-swap`,
  `as-primed-kid-binding`, `as|rs-primed-jti-signature`, `as|rs-primed-nonce-signature`,
  `rs-proof-alg-not-advertised`.
"""


def render_levels() -> str:
    """The "Levels" section of docs/cases.md: the rules, the form of answers, and what changed since 0.1.0."""
    lines = [
        "## Levels: whose duty, and what an answer is",
        "",
        "A verdict is a claim about someone else's implementation, so each case's level comes from the words of",
        "the RFC (or profile) it checks and from whose duty those words are. A case fails, warns or errs only for",
        "the reason it names (it is *attributable*).",
        "",
        "| the words | whose duty | a server that departs gets |",
        "|---|---|---|",
        *(f"| {words} | {duty} | {outcome} |" for words, duty, outcome in RULES),
        "",
        "| an answer | is judged as |",
        "|---|---|",
        *(f"| {answer} | {judged} |" for answer, judged in FORM),
        "",
        "### Levels changed since 0.1.0",
        "",
        CHANGED_SINCE_0_1_0,
    ]
    return "\n".join(lines)
