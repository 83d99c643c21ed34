"""The suite against a second AS + RS written independently of the reference server (tests/independent_server.py).

The reference server and the cases were written together; this server was not written to fit them. Clean, it
must pass the whole catalog, the fuzz cases included. With one defect switched on, exactly the cases meant to
catch that defect must fail (or warn, for a SHOULD or a server error; or record info, where the RFC does not
rule) and every other case must pass or be skipped. The direct tests at the end check the server itself with
httpx (RFC 7638 vectors, alg none, DER signatures, each defect switch doing what it says), so that a broken
server is found here rather than blamed on the suite.

Real servers on loopback, no mocks; the suite runs as `python -m conformance run`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from independent_server import DEFECTS, PROOF_ALGS, REDIRECT_URI, IndependentServer, jwk_thumbprint, normalise_uri

# runs the suite against servers many times: left out by `pytest -m "not slow"` (the inner loop)
pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "conformance"]
NOT_FUZZ = ("-m", "not fuzz")
FUZZ = ("-m", "fuzz")
FAILED, WARNING, INFO = "failed", "warning", "info"


def _catalog() -> frozenset[str]:
    """The case ids of the suite's catalog."""
    done = subprocess.run([*CLI, "list", "--format", "json"], capture_output=True, text=True, timeout=120, check=True)
    return frozenset(case["id"] for case in json.loads(done.stdout))


CATALOG = _catalog()


def run_suite(
    tmp_path: Path, server: IndependentServer, *pytest_args: str, cases: Sequence[str] = ()
) -> dict[str, Any]:
    """Run the suite (only `cases`, when given) against the server with its own target file; results.json."""
    config = tmp_path / "target.toml"
    config.write_text(server.target_toml())
    out = tmp_path / "out"
    command = [*CLI, "run", "--config", str(config), "--report-dir", str(out), *(f"--case={c}" for c in cases)]
    done = subprocess.run(
        [*command, "--", *pytest_args] if pytest_args else command, capture_output=True, text=True, timeout=300
    )
    results = out / "results.json"
    assert results.exists(), (
        f"no results.json (status {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    data: dict[str, Any] = json.loads(results.read_text())
    return data


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    """Case id -> outcome."""
    return {case["id"]: case["outcome"] for case in results["cases"]}


def offenders(results: dict[str, Any], allowed: Callable[[dict[str, Any]], bool]) -> str:
    """The cases `allowed` refuses, one line each with the start of its message."""
    lines = [
        f"{case['id']}: {case['outcome']}: {case['message'][:400]}" for case in results["cases"] if not allowed(case)
    ]
    return "\n".join(lines)


# --- the clean server passes the catalog -------------------------------------------------------------------


def test_the_clean_independent_server_passes_the_catalog(tmp_path: Path) -> None:
    with IndependentServer() as server:
        results = run_suite(tmp_path, server, *NOT_FUZZ)
    bad = offenders(results, lambda case: case["outcome"] not in ("failed", "warning", "error"))
    assert not bad, f"the clean independent server:\n{bad}"
    assert results["summary"]["passed"] > 100


def test_the_clean_independent_server_passes_the_fuzz_cases(tmp_path: Path) -> None:
    # a strict decoder accepts no lenient encoding either, so no warning may come from the fuzz cases
    with IndependentServer() as server:
        results = run_suite(tmp_path, server, "-m", "fuzz")  # the fixed cases: the test above
    bad = offenders(results, lambda case: case["outcome"] not in ("failed", "warning", "error"))
    assert not bad, f"the clean independent server, fuzz cases:\n{bad}"
    assert any(case_id.endswith("-fuzz-structure-refused") for case_id in outcomes(results))


# --- each defect is caught by its cases, and by nothing else ------------------------------------------------


@dataclass(frozen=True)
class Catch:
    """What one defect must do to a run: these cases end so, and every other case passes or is skipped."""

    defect: str
    outcomes: dict[str, str]
    #: cases that may end with the outcome given or pass (they may catch the defect too)
    optional: dict[str, str] = field(default_factory=dict)
    #: cases that may end in error, because the defect breaks what they need first (none found so far)
    errors: frozenset[str] = frozenset()
    #: the pytest arguments of its run: the fixed cases, or the fuzz cases for a defect only they reach
    selection: tuple[str, ...] = NOT_FUZZ


CATCHES = (
    Catch(
        "key-binding-ec-only",
        {"rs-key-swap-rsa": FAILED, "rs-key-swap-okp": FAILED},
        optional={"rs-key-swap-other-type": FAILED},
    ),
    Catch("bearer-query", {"rs-bearer-downgrade-query": FAILED}),
    Catch("refresh-unbound-after-second", {"as-refresh-chain-stays-bound": FAILED}),
    Catch("dpop-jkt-no-proof", {"as-dpop-jkt-without-proof-refused": FAILED}),
    # replay tracking is no requirement ("can", §11.1): a replay accepted is info
    Catch("replay-forgets", {"rs-replay-after-seconds": INFO, "as-replay-after-seconds": INFO}),
    Catch("replay-keyed-with-query", {"rs-replay-other-query": INFO}),
    Catch("iat-window-30min", {"as-iat-window": WARNING, "rs-iat-window": WARNING}),
    Catch("ath-skip-lowercase-scheme", {"rs-checks-under-every-scheme-spelling": FAILED}),
    Catch(
        "refuses-fractional-iat",
        {"as-proof-iat-fraction-accepted": WARNING, "rs-proof-iat-fraction-accepted": WARNING},
    ),
    Catch("ath-case-insensitive", {"rs-ath-exact": FAILED}),
    Catch(
        "htu-same-origin",
        {
            "as-htu-exact": FAILED,
            "rs-htu-exact": FAILED,
            "as-proof-htu-other-path": FAILED,
            "rs-proof-htu-other-path": FAILED,
        },
        optional={"as-proof-htu-path-case": FAILED, "rs-proof-htu-path-case": FAILED},
    ),
    # RFC 7518 §3.3's "2048 bits or larger MUST be used" binds the key's holder, not the verifier: a SHOULD
    Catch("rsa-1024-bits", {"as-proof-rsa-small-key": WARNING, "rs-proof-rsa-small-key": WARNING}),
    # a 5xx is never a refusal, so every case that replays a proof warns: the waiting ones too (NOT_FUZZ
    # keeps the `waits` cases), the refresh grant's, and the other query's (our cache is keyed without the
    # query, so that proof is a replay too); par-replay-identical is skipped (no PAR endpoint here)
    Catch(
        "replay-crash",
        {
            "as-replay-identical": WARNING,
            "as-replay-same-jti": WARNING,
            "as-replay-after-seconds": WARNING,
            "as-replay-refresh": WARNING,
            "rs-replay-identical": WARNING,
            "rs-replay-same-jti": WARNING,
            "rs-replay-after-seconds": WARNING,
            "rs-replay-other-query": WARNING,
        },
    ),
    # where the server's URL comes from is a deployment choice the RFC does not rule on: info
    Catch("htu-from-host-header", {"as-htu-host-spoof": INFO, "rs-htu-host-spoof": INFO}),
    # Bearer first: no proof check at all, and access with the DPoP line's token (DPoP first is checked, and
    # passes); rs-multiple-auth-methods: a valid request under Bearer and DPoP lines is granted, where RFC 6750
    # §3.1 says 400 invalid_request (a SHOULD)
    Catch(
        "first-authorization-line-checked",
        {"rs-checks-under-two-authorization-lines-bearer-first": FAILED, "rs-multiple-auth-methods": WARNING},
    ),
    Catch(
        "thumbprint-by-kid",
        {
            # a random kid primed with key A, then key B under it: B passes A's binding at the resource ...
            "rs-primed-kid-key-swap": FAILED,
            # ... and gets a token bound to A at the token endpoint
            "as-primed-kid-binding": FAILED,
            # its EC, RSA and OKP keys all carry the kid dpop-key-1: the second key type is bound to the first's
            "as-jkt-every-key-type": FAILED,
        },
        # the bound key under the kid dpop-key-1 too: refused when as-jkt-every-key-type gave that kid to its
        # own key first, passed when it ran before (the cases run side by side, in no fixed order)
        optional={"rs-jwk-optional-members-accepted": FAILED},
    ),
    # only the fuzz cases send a jti that is an array or an object (a number or none is refused as before)
    Catch(
        "jti-array-crash",
        {
            "as-fuzz-claims-refused": WARNING,
            "rs-fuzz-claims-refused": WARNING,
            "as-fuzz-no-server-error": WARNING,
            "rs-fuzz-no-server-error": WARNING,
        },
        selection=FUZZ,
    ),
)
assert {c.defect for c in CATCHES} == DEFECTS.keys(), "every defect switch needs its entry"


def test_every_case_a_catch_names_is_in_the_catalog() -> None:
    named = {case_id for entry in CATCHES for case_id in (*entry.outcomes, *entry.optional)}
    assert named - CATALOG == set(), "the table names cases the suite does not have"


@pytest.mark.parametrize("entry", CATCHES, ids=[entry.defect for entry in CATCHES])
def test_each_defect_is_caught_by_its_cases_alone(tmp_path: Path, entry: Catch) -> None:
    # its cases only: that they pass on the clean server is shown above, with the whole catalog
    with IndependentServer(frozenset({entry.defect})) as server:
        results = run_suite(tmp_path, server, *entry.selection, cases=sorted({*entry.outcomes, *entry.optional}))
    found = outcomes(results)

    def allowed(case: dict[str, Any]) -> bool:
        outcome, case_id = case["outcome"], case["id"]
        if case_id in entry.outcomes:
            return outcome == entry.outcomes[case_id]
        if case_id in entry.optional:
            return outcome in (entry.optional[case_id], "passed")
        return outcome in ("passed", "skipped") or (outcome == "error" and case_id in entry.errors)

    missing = {case_id: outcome for case_id, outcome in entry.outcomes.items() if case_id not in found}
    bad = offenders(results, allowed)
    assert not missing and not bad, (
        f"defect {entry.defect}: expected {entry.outcomes}; not run: {sorted(missing)}\n{bad or '(no other case)'}"
    )


# --- the server itself, directly ------------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Key:
    """A proof key of one algorithm, made and used with `cryptography` alone (nothing from the suite)."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif alg in ("RS256", "PS256"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, str]:
        """The public JWK."""
        public = self.private.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            n = public.public_numbers()
            return {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(n.x.to_bytes(32, "big")),
                "y": b64url(n.y.to_bytes(32, "big")),
            }
        if isinstance(public, rsa.RSAPublicKey):
            r = public.public_numbers()
            return {
                "kty": "RSA",
                "n": b64url(r.n.to_bytes((r.n.bit_length() + 7) // 8, "big")),
                "e": b64url(r.e.to_bytes(3, "big")),
            }
        assert isinstance(public, ed25519.Ed25519PublicKey)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))}

    def thumbprint(self) -> str:
        """RFC 7638, written out here rather than taken from the server module."""
        jwk = self.jwk()
        members = {"EC": "crv kty x y", "RSA": "e kty n", "OKP": "crv kty x"}[jwk["kty"]].split()
        text = "{" + ",".join(f'"{m}":"{jwk[m]}"' for m in members) + "}"
        return b64url(hashlib.sha256(text.encode()).digest())

    def sign(self, data: bytes, *, der: bool = False) -> bytes:
        """A JWS signature (raw r‖s for ECDSA, or the DER encoding when asked, which is wrong)."""
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
            if der:
                return signature
            r, s = decode_dss_signature(signature)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            scheme: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hashes.SHA256()), 32) if self.alg == "PS256" else padding.PKCS1v15()
            )
            return key.sign(data, scheme, hashes.SHA256())
        return key.sign(data)


def proof(
    key: Key,
    method: str,
    url: str,
    *,
    token: str | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    der: bool = False,
    signature: bytes | None = None,
) -> str:
    """A DPoP proof, valid unless `header`, `claims`, `der` or `signature` change it."""
    head = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.jwk(), **(header or {})}
    body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        body["ath"] = b64url(hashlib.sha256(token.encode()).digest())
    body.update(claims or {})
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}"
    sig = key.sign(signing_input.encode(), der=der) if signature is None else signature
    return f"{signing_input}.{b64url(sig)}"


def claims_of(jwt: str) -> dict[str, Any]:
    """The payload of a JWT, unverified."""
    payload = jwt.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


class Client:
    """The few requests the direct tests make, each spelt out."""

    def __init__(self, server: IndependentServer) -> None:
        self.server = server
        self.http = httpx.Client(timeout=10)

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def close(self) -> None:
        self.http.close()

    def token_request(self, key: Key | None, *, dpop: list[str] | None = None, scope: str = "read") -> httpx.Response:
        """client_credentials with Basic and a proof from `key` (or the DPoP lines given)."""
        lines = dpop if dpop is not None else ([proof(key, "POST", self.url("/token"))] if key else [])
        return self.http.post(
            self.url("/token"),
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(IndependentServer.CLIENT_ID, self.server.client_secret),
            headers=[("DPoP", line) for line in lines],
        )

    def token(self, key: Key) -> str:
        answer = self.token_request(key)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def resource(
        self, token: str | None, key: Key | None, *, scheme: str = "DPoP", path: str = "/resource", **changes: Any
    ) -> httpx.Response:
        """GET the resource with `scheme token` and a proof from `key` (changed by `changes`)."""
        headers = []
        if token is not None:
            headers.append(("Authorization", f"{scheme} {token}"))
        if key is not None:
            headers.append(
                ("DPoP", changes.pop("dpop", None) or proof(key, "GET", self.url("/resource"), token=token, **changes))
            )
        return self.http.get(self.url(path), headers=headers)

    def login(self, dpop_jkt: str | None = None) -> tuple[str, str]:
        """The public client's authorization request; (code, verifier)."""
        verifier = secrets.token_urlsafe(32)
        params = {
            "response_type": "code",
            "client_id": IndependentServer.PUBLIC_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
            "state": "s-1",
            "scope": "read",
        }
        if dpop_jkt:
            params["dpop_jkt"] = dpop_jkt
        answer = self.http.get(self.url("/authorize"), params=params)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["s-1"]
        return query["code"][0], verifier

    def public_grant(self, form: dict[str, str], key: Key | None) -> httpx.Response:
        headers = [("DPoP", proof(key, "POST", self.url("/token")))] if key else []
        form = {**form, "client_id": IndependentServer.PUBLIC_CLIENT_ID}
        return self.http.post(self.url("/token"), data=form, headers=headers)

    def redeem(self, code: str, verifier: str, key: Key | None) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        return self.public_grant(form, key)

    def refresh(self, refresh_token: str, key: Key | None) -> httpx.Response:
        return self.public_grant({"grant_type": "refresh_token", "refresh_token": refresh_token}, key)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with IndependentServer() as server:
        made = Client(server)
        yield made
        made.close()


def test_thumbprints_of_the_rfc_vectors() -> None:
    rsa_key = {
        "kty": "RSA",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
            "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
            "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
            "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
    }
    assert jwk_thumbprint(rsa_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"  # RFC 7638 §3.1
    ec_key = {
        "kty": "EC",
        "crv": "P-256",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    }
    assert jwk_thumbprint(ec_key) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 9449 figures 4 and 9
    okp_key = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(okp_key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # RFC 8037 appendix A.3


def test_htu_normalisation() -> None:
    base = "http://127.0.0.1:8080/resource"
    for same in (
        "HTTP://127.0.0.1:8080/resource",
        "http://127.0.0.1:8080/%72esource",
        "http://127.0.0.1:8080/x/../resource",
        "http://127.0.0.1:8080/./resource?q=1#f",
    ):
        assert normalise_uri(same) == base, same
    for other in (
        "http://127.0.0.1:8081/resource",
        "https://127.0.0.1:8080/resource",
        "http://127.0.0.1:8080/Resource",
    ):
        assert normalise_uri(other) != base, other
    assert normalise_uri("https://example.com:443") == normalise_uri("https://EXAMPLE.com/") == "https://example.com/"
    assert normalise_uri("http://user@127.0.0.1:8080/resource") is None
    assert normalise_uri("/resource") is None


@pytest.mark.parametrize("alg", PROOF_ALGS)
def test_a_valid_proof_in_each_algorithm_gets_a_bound_token_that_works(client: Client, alg: str) -> None:
    key = Key(alg)
    answer = client.token_request(key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP" and answer.headers["Cache-Control"] == "no-store"
    token = answer.json()["access_token"]
    assert claims_of(token)["cnf"] == {"jkt": key.thumbprint()}
    assert client.resource(token, key).status_code == 200
    introspection = client.http.post(
        client.url("/introspect"),
        data={"token": token},
        auth=(IndependentServer.CLIENT_ID, client.server.client_secret),
    ).json()
    assert introspection["active"] is True and introspection["cnf"] == {"jkt": key.thumbprint()}


def test_alg_none_is_refused(client: Client) -> None:
    key = Key()
    unsigned = proof(key, "POST", client.url("/token"), header={"alg": "none"}, signature=b"")
    answer = client.token_request(None, dpop=[unsigned])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_dpop_proof")


def test_a_der_ecdsa_signature_is_refused(client: Client) -> None:
    key = Key()
    answer = client.token_request(None, dpop=[proof(key, "POST", client.url("/token"), der=True)])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_dpop_proof")
    token = client.token(key)
    refused = client.resource(token, key, der=True)
    assert refused.status_code == 401 and 'error="invalid_dpop_proof"' in refused.headers["WWW-Authenticate"]


def test_the_token_endpoint_refuses_proofs_it_must(client: Client) -> None:
    key, url = Key(), client.url("/token")
    missing = client.token_request(None)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    refused = {
        "two lines": [proof(key, "POST", url), proof(key, "POST", url)],
        "comma-joined": [proof(key, "POST", url) + ", " + proof(key, "POST", url)],
        "padded": [proof(key, "POST", url) + "="],
        "private jwk": [proof(key, "POST", url, header={"jwk": {**key.jwk(), "d": "AAAA"}})],
        "htm in lower case": [proof(key, "post", url)],
        "htu of the resource": [proof(key, "POST", client.url("/resource"))],
        "iat a minute and a half old": [proof(key, "POST", url, claims={"iat": int(time.time()) - 90})],
        "iat a string": [proof(key, "POST", url, claims={"iat": str(int(time.time()))})],
        "typ JWT": [proof(key, "POST", url, header={"typ": "JWT"})],
        "crit": [proof(key, "POST", url, header={"crit": ["x"], "x": 1})],
    }
    for what, lines in refused.items():
        answer = client.token_request(None, dpop=lines)
        assert (answer.status_code, answer.json().get("error")) == (400, "invalid_dpop_proof"), what
    replayed = proof(key, "POST", url)
    assert client.token_request(None, dpop=[replayed]).status_code == 200
    assert client.token_request(None, dpop=[replayed]).status_code == 400


def test_the_resource_answers_as_section_7_says(client: Client) -> None:
    key = Key()
    token = client.token(key)
    bare = client.resource(None, None)
    assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == 'DPoP algs="ES256 RS256 PS256 EdDSA"'
    downgrade = client.resource(token, None, scheme="Bearer")
    assert downgrade.status_code == 401 and 'Bearer error="invalid_token"' in downgrade.headers["WWW-Authenticate"]
    assert client.resource(token, key, scheme="dpop ").status_code == 200  # case and spaces (RFC 9110 §11)
    assert client.resource(token, Key()).status_code == 401  # another key
    assert client.resource(token, key, claims={"ath": b64url(b"x" * 32)}).status_code == 401
    both = client.http.get(
        client.url("/resource"),
        headers=[
            ("Authorization", f"Bearer {token}"),
            ("Authorization", f"DPoP {token}"),
            ("DPoP", proof(key, "GET", client.url("/resource"), token=token)),
        ],
    )
    assert both.status_code == 400 and 'error="invalid_request"' in both.headers["WWW-Authenticate"]
    proxied = client.http.get(
        client.url("/resource"),
        headers={
            "Proxy-Authorization": f"DPoP {token}",
            "DPoP": proof(key, "GET", client.url("/resource"), token=token),
        },
    )
    assert proxied.status_code == 401
    assert client.resource(token, key, path="/resource?x=1").status_code == 200  # the query is not in htu


def test_malformed_requests_get_4xx_answers(client: Client) -> None:
    token_url = client.url("/token")
    answers = [
        client.http.post(token_url, content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        client.http.post(token_url, json={"grant_type": "client_credentials"}),
        client.http.post(
            token_url, content=b"x" * 70_000, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
        client.token_request(None, dpop=["e30.e30.e30"]),
        client.token_request(None, dpop=[b64url(b"\xff") + "." + b64url(b"[1]") + ".AAAA"]),
        client.resource("not.a.jwt", Key()),
        client.resource("x", None, scheme="DPoP\t"),
        client.http.get(client.url("/nowhere")),
        client.http.delete(client.url("/resource")),
    ]
    assert [a.status_code for a in answers if not 400 <= a.status_code < 500] == []


# --- each defect switch does what it says (so a catch test failing is the suite's, not the server's) ----------


def _binding_unchecked_for_rsa_and_okp(client: Client) -> bool:
    token = client.token(Key("ES256"))
    return all(client.resource(token, Key(alg)).status_code == 200 for alg in ("RS256", "EdDSA"))


def _query_token_accepted(client: Client) -> bool:
    token = client.token(Key())
    return client.http.get(client.url("/resource"), params={"access_token": token}).status_code == 200


def _third_refresh_token_unbound(client: Client) -> bool:
    key = Key()
    code, verifier = client.login()
    refresh_token = client.redeem(code, verifier, key).json()["refresh_token"]
    for _ in range(2):
        answer = client.refresh(refresh_token, key)
        assert answer.status_code == 200 and claims_of(answer.json()["access_token"])["cnf"]["jkt"] == key.thumbprint()
        refresh_token = answer.json()["refresh_token"]
    return client.refresh(refresh_token, Key()).status_code == 200


def _dpop_jkt_code_redeemed_without_proof(client: Client) -> bool:
    code, verifier = client.login(dpop_jkt=Key().thumbprint())
    answer = client.redeem(code, verifier, None)
    return answer.status_code == 200 and answer.json()["token_type"] == "Bearer"


def _replay_accepted_after_seconds(client: Client) -> bool:
    key = Key()
    token = client.token(key)
    line = proof(key, "GET", client.url("/resource"), token=token)
    assert client.resource(token, key, dpop=line).status_code == 200
    assert client.resource(token, key, dpop=line).status_code == 401
    time.sleep(2.5)
    return client.resource(token, key, dpop=line).status_code == 200


def _replay_accepted_under_another_query(client: Client) -> bool:
    key = Key()
    token = client.token(key)
    line = proof(key, "GET", client.url("/resource"), token=token)
    assert client.resource(token, key, dpop=line, path="/resource?page=1").status_code == 200
    return client.resource(token, key, dpop=line, path="/resource?page=2").status_code == 200


def _ten_minute_old_proof_accepted(client: Client) -> bool:
    stale = proof(Key(), "POST", client.url("/token"), claims={"iat": int(time.time()) - 600})
    return client.token_request(None, dpop=[stale]).status_code == 200


def _ath_unchecked_under_lower_case_scheme(client: Client) -> bool:
    key = Key()
    token = client.token(key)
    wrong = {"ath": b64url(hashlib.sha256(b"another token").digest())}
    assert client.resource(token, key, claims=wrong).status_code == 401
    return client.resource(token, key, scheme="dpop", claims=wrong).status_code == 200


def _fractional_iat_refused(client: Client) -> bool:
    fraction = proof(Key(), "POST", client.url("/token"), claims={"iat": round(time.time() - 0.5, 3)})
    return client.token_request(None, dpop=[fraction]).status_code != 200


def _ath_in_other_case_accepted(client: Client) -> bool:
    key = Key()
    token = client.token(key)
    swapped = b64url(hashlib.sha256(token.encode()).digest()).swapcase()
    return client.resource(token, key, claims={"ath": swapped}).status_code == 200


def _htu_of_another_endpoint_accepted(client: Client) -> bool:
    key = Key()
    answer = client.token_request(None, dpop=[proof(key, "POST", client.url("/resource"))])
    return answer.status_code == 200


def _rsa_1024_accepted(client: Client) -> bool:
    key = Key("PS256")
    key.private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return client.token_request(key).status_code == 200


def _replay_answered_with_server_error(client: Client) -> bool:
    key = Key()
    token = client.token(key)
    line = proof(key, "GET", client.url("/resource"), token=token)
    assert client.resource(token, key, dpop=line).status_code == 200
    return client.resource(token, key, dpop=line).status_code == 500


def _htu_naming_the_host_header_accepted(client: Client) -> bool:
    key = Key()
    spoofed = f"other.example:{urlsplit(client.url('/')).port}"
    answer = client.http.post(
        client.url("/token"),
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(IndependentServer.CLIENT_ID, client.server.client_secret),
        headers=[("Host", spoofed), ("DPoP", proof(key, "POST", f"http://{spoofed}/token"))],
    )
    return answer.status_code == 200


def _proof_unchecked_under_a_bearer_line_first(client: Client) -> bool:
    token = client.token(Key())

    def two_lines(first: str, second: str) -> int:
        another_key = proof(Key(), "GET", client.url("/resource"), token=token)
        headers = [("Authorization", first), ("Authorization", second), ("DPoP", another_key)]
        return client.http.get(client.url("/resource"), headers=headers).status_code

    assert two_lines(f"DPoP {token}", "Bearer not-a-token") in (400, 401)  # the DPoP line first is checked
    return two_lines("Bearer not-a-token", f"DPoP {token}") == 200


def _thumbprint_taken_from_the_kid(client: Client) -> bool:
    first, second, kid = Key(), Key(), secrets.token_urlsafe(8)
    bound_to: list[str] = []  # the cnf.jkt of each key's token
    for key in (first, second):
        with_kid = proof(key, "POST", client.url("/token"), header={"jwk": {**key.jwk(), "kid": kid}})
        answer = client.token_request(None, dpop=[with_kid])
        assert answer.status_code == 200, answer.text
        bound_to.append(claims_of(answer.json()["access_token"])["cnf"]["jkt"])
    assert bound_to[0] == first.thumbprint()
    return bound_to[1] == first.thumbprint()


def _array_jti_answered_with_server_error(client: Client) -> bool:
    number = proof(Key(), "POST", client.url("/token"), claims={"jti": secrets.randbelow(2**53)})
    assert client.token_request(None, dpop=[number]).status_code == 400  # a number is no array: refused
    array = proof(Key(), "POST", client.url("/token"), claims={"jti": ["dpop", "conformance"]})
    return client.token_request(None, dpop=[array]).status_code == 500


PROBES: dict[str, Callable[[Client], bool]] = {
    "key-binding-ec-only": _binding_unchecked_for_rsa_and_okp,
    "bearer-query": _query_token_accepted,
    "refresh-unbound-after-second": _third_refresh_token_unbound,
    "dpop-jkt-no-proof": _dpop_jkt_code_redeemed_without_proof,
    "replay-forgets": _replay_accepted_after_seconds,
    "replay-keyed-with-query": _replay_accepted_under_another_query,
    "iat-window-30min": _ten_minute_old_proof_accepted,
    "ath-skip-lowercase-scheme": _ath_unchecked_under_lower_case_scheme,
    "refuses-fractional-iat": _fractional_iat_refused,
    "ath-case-insensitive": _ath_in_other_case_accepted,
    "htu-same-origin": _htu_of_another_endpoint_accepted,
    "rsa-1024-bits": _rsa_1024_accepted,
    "replay-crash": _replay_answered_with_server_error,
    "htu-from-host-header": _htu_naming_the_host_header_accepted,
    "first-authorization-line-checked": _proof_unchecked_under_a_bearer_line_first,
    "thumbprint-by-kid": _thumbprint_taken_from_the_kid,
    "jti-array-crash": _array_jti_answered_with_server_error,
}


def _probe_once(probe: Callable[[Client], bool], server: IndependentServer) -> bool:
    client = Client(server)
    try:
        return probe(client)
    finally:
        client.close()


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_switch_breaks_its_behaviour_only_when_on(defect: str) -> None:
    probe = PROBES[defect]
    # both at once: the replay probe waits for seconds, once
    with IndependentServer() as clean, IndependentServer(frozenset({defect})) as broken, ThreadPoolExecutor(2) as pool:
        on_clean, on_broken = pool.map(lambda server: _probe_once(probe, server), (clean, broken))
    assert (on_clean, on_broken) == (False, True), f"{defect}: clean {on_clean}, with the defect {on_broken}"
