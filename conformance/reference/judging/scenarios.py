"""The scenarios of client conformance, as data: how the judging AS and RS behave in each (issue 30, item 3).

Each scenario changes one behaviour of the servers from the plain one (no nonces, challenges written as RFC 9449
writes them, token_type DPoP, every common algorithm advertised), so that what the client does in it shows one
thing: whether it retries on a nonce challenge, reads a challenge written another way, carries a nonce delivered
on a 200, keeps each server's nonce to that server, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CAPABILITIES",
    "CHALLENGE_STYLES",
    "NONCE_MODES",
    "RESOURCE_METHOD_VARIABLE",
    "SCENARIOS",
    "Scenario",
    "scenario",
]

#: how a server asks for nonces: never; on every request without its current one (the nonce stays until it
#: changes it); a new one on every 2xx, the old one refused from then on; a challenge to every request whatever
#: it carries (a new nonce each time); a challenge that names again the nonce the request just carried
NONCE_MODES = ("none", "demand", "rotate", "forever", "same-again")
#: how the resource writes its nonce challenge (RFC 9110 §11.6.1 allows all of them)
CHALLENGE_STYLES = ("standard", "lowercase", "second", "unquoted", "split")
#: what a client may declare it can do, beyond the client_credentials flow every client runs
CAPABILITIES = ("refresh_token", "authorization_code", "post")
#: the variable that tells the command which method to call the resource with (the post capability's own)
RESOURCE_METHOD_VARIABLE = "DPOP_RESOURCE_METHOD"
#: every algorithm a common client library signs with, advertised in the plain scenarios
COMMON_ALGS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")


@dataclass(frozen=True)
class Scenario:
    """How the judging servers behave in one run of the client's command."""

    id: str
    title: str
    as_nonce: str = "none"
    rs_nonce: str = "none"
    challenge: str = "standard"
    nqchar_nonces: bool = False  # nonces spelled with every character NQCHAR allows (RFC 9449 §8.1)
    token_type: str = "DPoP"  # as written in the token answer; "Bearer" issues an unbound token
    algs: tuple[str, ...] = COMMON_ALGS
    resource_query: str = ""  # the resource URL handed to the client carries this query
    clock_offset: int = 0  # seconds the servers' clock (their Date header) is ahead of the real one
    refresh: bool = False  # the AS issues a refresh token and the command refreshes once (DPOP_REFRESH=1)
    grant: str = "client_credentials"  # or "authorization_code": the public client, PKCE and dpop_jkt
    needs: str = ""  # the capability a client must declare for this scenario to run
    completes: bool = True  # False: the servers make success impossible (a client must give up, not loop)
    resource_method: str = "GET"  # "POST": the command POSTs a body to the resource (DPOP_RESOURCE_METHOD=POST)

    def __post_init__(self) -> None:
        if self.as_nonce not in NONCE_MODES or self.rs_nonce not in NONCE_MODES:
            raise ValueError(f"scenario {self.id}: nonce modes are {NONCE_MODES}")
        if self.challenge not in CHALLENGE_STYLES:
            raise ValueError(f"scenario {self.id}: challenge styles are {CHALLENGE_STYLES}")
        if self.resource_method not in ("GET", "POST"):
            raise ValueError(f"scenario {self.id}: the resource is called with GET or POST")
        if self.needs and self.needs not in CAPABILITIES:
            raise ValueError(f"scenario {self.id}: capabilities are {CAPABILITIES}")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("no-nonces", "No server asks for a nonce"),
    Scenario(
        "as-nonce",
        "The AS demands a nonce (400 use_dpop_nonce) and keeps it: the second token request must carry it",
        as_nonce="demand",
    ),
    Scenario(
        "rs-nonce", 'The RS demands a nonce (401 WWW-Authenticate: DPoP error="use_dpop_nonce")', rs_nonce="demand"
    ),
    Scenario(
        "as-nonce-on-200",
        "The AS delivers a new nonce on each 200 and refuses the old one from then on",
        as_nonce="rotate",
    ),
    Scenario(
        "rs-nonce-on-200",
        "The RS delivers a new nonce on each 200 and refuses the old one from then on",
        rs_nonce="rotate",
    ),
    Scenario(
        "both-nonces",
        "Both servers demand nonces, each its own: each must go only where it came from",
        as_nonce="demand",
        rs_nonce="demand",
    ),
    Scenario(
        "challenge-lowercase",
        "The RS writes its nonce challenge with the scheme dpop",
        rs_nonce="demand",
        challenge="lowercase",
    ),
    Scenario(
        "challenge-second",
        "The RS's DPoP challenge comes second, after a Bearer one",
        rs_nonce="demand",
        challenge="second",
    ),
    Scenario(
        "challenge-unquoted",
        "The RS's challenge writes error=use_dpop_nonce unquoted (a token)",
        rs_nonce="demand",
        challenge="unquoted",
    ),
    Scenario(
        "challenge-split",
        "The RS splits Bearer and DPoP challenges over two WWW-Authenticate lines",
        rs_nonce="demand",
        challenge="split",
    ),
    Scenario(
        "nqchar-nonces",
        "Both servers' nonces use every character NQCHAR allows (quotes and backslash excepted)",
        as_nonce="demand",
        rs_nonce="demand",
        nqchar_nonces=True,
    ),
    Scenario(
        "challenge-forever",
        "The RS challenges every request, with a new nonce each time: the client must stop",
        rs_nonce="forever",
        completes=False,
    ),
    Scenario(
        "rechallenge-same-nonce",
        "The RS challenges again naming the nonce just sent: the client must stop",
        rs_nonce="same-again",
        completes=False,
    ),
    Scenario(
        "token-type-lowercase", "The AS writes token_type dpop (RFC 6749 §5.1: case-insensitive)", token_type="dpop"
    ),
    Scenario(
        "token-type-bearer",
        "The AS answers with token_type Bearer and an unbound token (info: what then)",
        token_type="Bearer",
    ),
    Scenario("uncommon-alg", "The AS advertises one algorithm only, and not the commonest: ES384", algs=("ES384",)),
    Scenario("resource-query", "The resource URL carries a query string", resource_query="a=1&b=two"),
    Scenario("clock-offset", "The servers' clock (Date) is 10 minutes ahead of the client's", clock_offset=600),
    Scenario(
        "refresh",
        "The AS issues a refresh token; the confidential client refreshes once (DPOP_REFRESH=1)",
        refresh=True,
        needs="refresh_token",
    ),
    Scenario(
        "post",
        "The client POSTs a body to the resource (htm POST), the RS demanding a nonce (DPOP_RESOURCE_METHOD=POST)",
        rs_nonce="demand",
        resource_method="POST",
        needs="post",
    ),
    Scenario(
        "authorization-code",
        "Public client: authorization code with PKCE and dpop_jkt, approved without login, then a refresh",
        grant="authorization_code",
        refresh=True,
        needs="authorization_code",
    ),
)


def scenario(scenario_id: str) -> Scenario:
    """The scenario with this id; KeyError naming the known ones otherwise."""
    for found in SCENARIOS:
        if found.id == scenario_id:
            return found
    raise KeyError(f"unknown scenario {scenario_id!r}; known: {', '.join(s.id for s in SCENARIOS)}")
