"""The checks on a client's requests (conformance/judge/client_checks.py), on RFC 9449's examples and synthetic
requests: pure functions, no server."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from conformance.client.keys import DPoPKey, generate_key
from conformance.client.proof import flip_signature_byte, new_proof
from conformance.jose import b64url_encode, thumbprint
from conformance.judge.client_checks import (
    CHECKS,
    Answer,
    JudgingContext,
    ReceivedRequest,
    jti_bits,
    judge_client,
)
from conformance.judge.requirements import REQUIREMENTS
from conformance.judge.verdicts import Level, Outcome

# RFC 9449 Figure 3 (the proof of Figure 2's token request), Figure 13 (the resource request's proof) and the
# access token of Figure 5, whose ath is Figure 14's.
FIG3_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0Rs"
    "cEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2"
    "In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2Vu"
    "IiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZ"
    "T3Lg"
)
FIG13_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0Rs"
    "cEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2"
    "In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90"
    "ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFF"
    "byJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
FIG5_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
FIG_TOKEN_URL = "https://server.example.com/token"
FIG_RESOURCE_URL = "https://resource.example.org/protectedresource"
FIG_CTX = JudgingContext(FIG_TOKEN_URL, FIG_RESOURCE_URL, ("ES256",))

TOKEN_URL = "http://127.0.0.1:1001/token"
RESOURCE_URL = "http://127.0.0.2:1002/resource"
CTX = JudgingContext(TOKEN_URL, RESOURCE_URL, ("ES256", "PS256"))


def _json(status: int, body: dict[str, object], **headers: str) -> Answer:
    pairs = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    return Answer(status, (("Content-Type", "application/json"), *pairs), json.dumps(body).encode())


def token_request(
    proof: str | None, *, at: float, answer: Answer | None = None, url: str = TOKEN_URL, form: str = ""
) -> ReceivedRequest:
    headers = [("Authorization", "Basic Y2xpZW50OnNlY3JldA=="), ("Content-Type", "application/x-www-form-urlencoded")]
    if proof is not None:
        headers.append(("DPoP", proof))
    body = (form or "grant_type=client_credentials").encode()
    return ReceivedRequest("POST", url, tuple(headers), body, at, "AS", "test", answer)


def resource_request(
    proof: str | None,
    token: str,
    *,
    at: float,
    scheme: str = "DPoP",
    answer: Answer | None = None,
    url: str = RESOURCE_URL,
) -> ReceivedRequest:
    headers = [("Authorization", f"{scheme} {token}")]
    if proof is not None:
        headers.append(("DPoP", proof))
    return ReceivedRequest("GET", url, tuple(headers), b"", at, "RS", "test", answer or Answer(200))


def issued(token: str, token_type: str = "DPoP", **headers: str) -> Answer:
    return _json(200, {"access_token": token, "token_type": token_type, "expires_in": 300}, **headers)


def outcomes(requests: list[ReceivedRequest], ctx: JudgingContext = CTX) -> dict[str, Outcome]:
    return {check: result.outcome for check, result in judge_client(requests, ctx).items()}


def failing(requests: list[ReceivedRequest], ctx: JudgingContext = CTX) -> dict[str, Outcome]:
    return {c: o for c, o in outcomes(requests, ctx).items() if o not in (Outcome.PASSED, Outcome.SKIPPED)}


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return generate_key("ES256")


def clean_flow(key: DPoPKey, now: float, token: str = "at-1") -> list[ReceivedRequest]:
    token_proof = new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign()
    resource_proof = new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token=token).sign()
    return [
        token_request(token_proof, at=now, answer=issued(token)),
        resource_request(resource_proof, token, at=now + 0.1),
    ]


# The RFC's own examples -----------------------------------------------------------------------------------------


def test_the_rfc_token_and_resource_proofs_pass_every_check_they_meet() -> None:
    requests = [
        token_request(FIG3_PROOF, at=1562262617, answer=issued(FIG5_TOKEN), url=FIG_TOKEN_URL),
        resource_request(FIG13_PROOF, FIG5_TOKEN, at=1562262619, url=FIG_RESOURCE_URL),
    ]
    results = judge_client(requests, FIG_CTX)
    met = {check: r.outcome for check, r in results.items() if r.outcome is not Outcome.SKIPPED}
    assert set(met.values()) == {Outcome.PASSED}, {c: results[c].message for c in met}
    for check in (
        "typ",
        "alg",
        "jwk-public",
        "signature",
        "claims-present",
        "jti-unique",
        "jti-entropy",
        "htm",
        "htu",
        "iat",
        "ath",
        "auth-scheme",
        "key-binding",
        "proof-present",
        "one-dpop-header",
    ):
        assert met[check] is Outcome.PASSED, check


def test_the_rfc_ath_example_is_what_the_check_expects() -> None:
    assert hashlib.sha256(FIG5_TOKEN.encode("ascii")).digest()
    expected = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    assert b64url_encode(hashlib.sha256(FIG5_TOKEN.encode("ascii")).digest()) == expected
    requests = [
        token_request(FIG3_PROOF, at=1562262617, answer=issued(FIG5_TOKEN), url=FIG_TOKEN_URL),
        resource_request(FIG13_PROOF, "another-token", at=1562262619, url=FIG_RESOURCE_URL),
    ]
    assert outcomes(requests, FIG_CTX)["ath"] is Outcome.FAILED


def test_a_flipped_signature_byte_fails_the_signature() -> None:
    requests = [token_request(flip_signature_byte(FIG3_PROOF), at=1562262617, url=FIG_TOKEN_URL)]
    assert failing(requests, FIG_CTX) == {"signature": Outcome.FAILED}


def test_the_rfc_proof_at_another_url_or_time_fails_htu_and_iat() -> None:
    requests = [token_request(FIG3_PROOF, at=1562262616 + 3600, url="https://server.example.com/other")]
    ctx = JudgingContext("https://server.example.com/other", FIG_RESOURCE_URL, ("ES256",))
    assert failing(requests, ctx) == {"htu": Outcome.FAILED, "iat": Outcome.FAILED}


def test_an_alg_the_server_did_not_advertise_is_info_never_failed() -> None:
    # §5.1 only defines dpop_signing_alg_values_supported: no keyword binds the client to it
    requests = [token_request(FIG3_PROOF, at=1562262617, url=FIG_TOKEN_URL)]
    ctx = JudgingContext(FIG_TOKEN_URL, FIG_RESOURCE_URL, ("ES384",))
    assert failing(requests, ctx) == {"alg-advertised": Outcome.INFO}
    assert outcomes(requests, ctx)["alg"] is Outcome.PASSED


# Synthetic requests, one fault each -------------------------------------------------------------------------------


def test_a_clean_flow_passes(key: DPoPKey) -> None:
    assert failing(clean_flow(key, 1_800_000_000.0)) == {}


@pytest.mark.parametrize(
    ("change", "fails"),
    [
        (lambda d: d.with_header(typ="JWT"), "typ"),
        (lambda d: d.with_private_jwk(), "jwk-public"),
        (lambda d: d.with_claims(htm="post"), "htm"),
        (lambda d: d.with_claims(htu=TOKEN_URL + "?x=1"), "htu"),
        (lambda d: d.with_claims(iat=1_800_000_000_000), "iat"),
        (lambda d: d.without_claims("jti"), "claims-present"),
        (lambda d: d.with_jwk_of(generate_key("ES256")), "signature"),
    ],
    ids=["typ", "private-jwk", "htm-case", "htu-query", "iat-millis", "no-jti", "other-jwk"],
)
def test_one_fault_in_the_token_proof_fails_its_check_alone(key: DPoPKey, change: object, fails: str) -> None:
    now = 1_800_000_000.0
    draft = new_proof(key, "POST", TOKEN_URL, iat=int(now))
    proof = change(draft).sign()  # type: ignore[operator]
    assert failing([token_request(proof, at=now)]) == {fails: Outcome.FAILED}


def test_hex_ath_fails_ath_and_says_hex(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    requests = clean_flow(key, now)
    hex_ath = hashlib.sha256(b"at-1").hexdigest()
    proof = new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1").with_claims(ath=hex_ath).sign()
    requests[1] = resource_request(proof, "at-1", at=now)
    results = judge_client(requests, CTX)
    assert results["ath"].outcome is Outcome.FAILED and "hexadecimal" in results["ath"].message
    assert failing(requests) == {"ath": Outcome.FAILED}


def test_bearer_scheme_and_another_key_fail_their_checks(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    requests = clean_flow(key, now)
    proof = new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1").sign()
    assert failing([requests[0], resource_request(proof, "at-1", at=now, scheme="Bearer")]) == {
        "auth-scheme": Outcome.FAILED
    }
    other = new_proof(generate_key("ES256"), "GET", RESOURCE_URL, iat=int(now), access_token="at-1").sign()
    assert failing([requests[0], resource_request(other, "at-1", at=now)]) == {"key-binding": Outcome.FAILED}


def test_two_dpop_headers_fail_one_dpop_header(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    proof = new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign()
    request = token_request(proof, at=now)
    doubled = ReceivedRequest(
        request.method, request.url, (*request.headers, ("dpop", proof)), request.body, now, "AS", "test"
    )
    assert failing([doubled]) == {"one-dpop-header": Outcome.FAILED}
    assert failing([token_request(None, at=now)]) == {"proof-present": Outcome.FAILED}


def test_jti_entropy_is_info_and_a_repeated_jti_fails(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    short = new_proof(key, "POST", TOKEN_URL, iat=int(now)).with_claims(jti="0a1b2c3d").sign()
    assert failing([token_request(short, at=now)]) == {"jti-entropy": Outcome.INFO}
    draft = new_proof(key, "POST", TOKEN_URL, iat=int(now))
    assert failing([token_request(draft.sign(), at=now), token_request(draft.sign(), at=now)]) == {
        "jti-unique": Outcome.FAILED
    }
    assert jti_bits(str(uuid.uuid4())) == 122
    assert jti_bits("-BwC3ESc6acc2lTc") == 96  # the RFC's example jti: 16 base64url characters
    assert jti_bits("0123456789abcdef") == 64


# Nonces --------------------------------------------------------------------------------------------------------


def _challenge(nonce: str) -> Answer:
    return _json(400, {"error": "use_dpop_nonce"}, DPoP_Nonce=nonce)


def test_a_nonce_retry_reusing_the_jti_passes_the_nonce_and_fails_jti_unique(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    first = new_proof(key, "POST", TOKEN_URL, iat=int(now))
    retry = first.with_claims(nonce="n-1")
    requests = [
        token_request(first.sign(), at=now, answer=_challenge("n-1")),
        token_request(retry.sign(), at=now, answer=issued("at-1")),
    ]
    assert failing(requests) == {"jti-unique": Outcome.FAILED}
    assert outcomes(requests)["nonce-retry"] is Outcome.PASSED


def test_a_challenge_never_answered_fails_nonce_retry(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    proof = new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign()
    assert failing([token_request(proof, at=now, answer=_challenge("n-1"))]) == {"nonce-retry": Outcome.INFO}
    again = new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign()
    # retried, but without the nonce: one fault, judged once (nonce), not also as an unanswered challenge
    requests = [token_request(proof, at=now, answer=_challenge("n-1")), token_request(again, at=now)]
    assert failing(requests) == {"nonce": Outcome.FAILED}


def _rs_challenge(nonce: str) -> Answer:
    return Answer(401, (("WWW-Authenticate", 'DPoP error="use_dpop_nonce"'), ("DPoP-Nonce", nonce)))


def test_a_retry_with_the_other_servers_nonce_fails_nonce_alone(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    token_proofs = [new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce=n) for n in (None, "as-1", None, "rs-1")]
    resource = [new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1", nonce=n) for n in (None, "rs-1")]
    requests = [
        token_request(token_proofs[0].sign(), at=now, answer=_challenge("as-1")),
        token_request(token_proofs[1].sign(), at=now, answer=issued("at-1")),
        resource_request(resource[0].sign(), "at-1", at=now, answer=_rs_challenge("rs-1")),
        resource_request(resource[1].sign(), "at-1", at=now),
        token_request(token_proofs[2].sign(), at=now, answer=_challenge("as-2")),
        token_request(token_proofs[3].sign(), at=now, answer=issued("at-2")),
    ]
    results = judge_client(requests, CTX)
    assert results["nonce"].outcome is Outcome.FAILED and "RS's nonce" in results["nonce"].message
    assert results["nonce-origin"].outcome is Outcome.PASSED  # the retry's fault is nonce's alone
    assert results["nonce-retry"].outcome is Outcome.PASSED
    assert results["nonce-kept"].outcome is Outcome.INFO  # #4 started without the AS's nonce: "is expected"


def test_the_other_servers_nonce_outside_a_retry_is_nonce_origin_info_only(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    token_proofs = [new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce=n) for n in (None, "as-1", "rs-1")]
    resource = [new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1", nonce=n) for n in (None, "rs-1")]
    requests = [
        token_request(token_proofs[0].sign(), at=now, answer=_challenge("as-1")),
        token_request(token_proofs[1].sign(), at=now, answer=issued("at-1")),
        resource_request(resource[0].sign(), "at-1", at=now, answer=_rs_challenge("rs-1")),
        resource_request(resource[1].sign(), "at-1", at=now),
        token_request(token_proofs[2].sign(), at=now, answer=issued("at-2")),
    ]
    assert failing(requests) == {"nonce-origin": Outcome.INFO}


def test_a_nonce_no_server_supplied_fails_nonce(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    proof = new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce="made-up").sign()
    assert failing([token_request(proof, at=now, answer=issued("at-1"))]) == {"nonce": Outcome.FAILED}


def test_a_new_token_request_without_the_challenges_nonce_is_nonce_kept_info(key: DPoPKey) -> None:
    # §4.2's MUST binds the retry; a later request keeping the nonce is §8.2's "is expected" (no keyword)
    now = 1_800_000_000.0
    proofs = [new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce=n) for n in (None, "n-1", None, "n-1")]
    requests = [
        token_request(proofs[0].sign(), at=now, answer=_challenge("n-1")),
        token_request(proofs[1].sign(), at=now, answer=issued("at-1")),
        token_request(proofs[2].sign(), at=now, answer=_challenge("n-1")),
        token_request(proofs[3].sign(), at=now, answer=issued("at-2")),
    ]
    assert failing(requests) == {"nonce-kept": Outcome.INFO}
    kept = [*requests[:2], token_request(proofs[3].sign(), at=now, answer=issued("at-2"))]
    assert outcomes(kept)["nonce-kept"] is Outcome.PASSED


def test_a_nonce_delivered_on_a_200_must_be_used_at_the_as_and_is_info_at_the_rs(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    proofs = [new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce=n) for n in (None, "n-1", "n-1")]
    requests = [
        token_request(proofs[0].sign(), at=now, answer=_challenge("n-1")),
        token_request(proofs[1].sign(), at=now, answer=issued("at-1", DPoP_Nonce="n-2")),
        token_request(proofs[2].sign(), at=now, answer=issued("at-2")),
    ]
    assert failing(requests) == {"as-nonce-from-200": Outcome.FAILED}  # and not nonce as well: one fault
    resource = [new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1", nonce=n) for n in ("r-1",) * 2]
    rs = [
        resource_request(
            new_proof(key, "GET", RESOURCE_URL, iat=int(now), access_token="at-1").sign(),
            "at-1",
            at=now,
            answer=_rs_challenge("r-1"),
        ),
        resource_request(resource[0].sign(), "at-1", at=now, answer=Answer(200, (("DPoP-Nonce", "r-2"),))),
        resource_request(resource[1].sign(), "at-1", at=now),
    ]
    found = failing([token_request(proofs[0].sign(), at=now, answer=issued("at-1")), *rs])
    assert found == {"rs-nonce-from-200": Outcome.INFO}


def test_retries_without_end_are_info(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    requests = []
    for n in range(8):
        nonce = f"n-{n}" if n else None
        proof = new_proof(key, "POST", TOKEN_URL, iat=int(now), nonce=nonce).sign()
        requests.append(token_request(proof, at=now, answer=_challenge(f"n-{n + 1}")))
    results = judge_client(requests, CTX)
    assert results["retry-bounded"].outcome is Outcome.INFO
    assert results["nonce-retry"].outcome is Outcome.PASSED


def test_clock_offset_is_info_when_iat_follows_the_local_clock(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    ctx = JudgingContext(TOKEN_URL, RESOURCE_URL, ("ES256",), clock_offset=600)
    local = new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign()
    server = new_proof(key, "POST", TOKEN_URL, iat=int(now + 600)).sign()
    assert failing([token_request(local, at=now)], ctx) == {"iat-clock": Outcome.INFO}
    assert failing([token_request(server, at=now)], ctx) == {}
    assert outcomes([token_request(server, at=now)], ctx)["iat-clock"] is Outcome.PASSED


def test_refresh_with_another_key_fails_a_public_client_and_is_info_for_a_confidential_one(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    other = generate_key("ES256")
    obtain = token_request(
        new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign(),
        at=now,
        answer=_json(200, {"access_token": "at-1", "token_type": "DPoP", "refresh_token": "rt-1"}),
    )
    refresh = new_proof(other, "POST", TOKEN_URL, iat=int(now)).sign()
    confidential = token_request(refresh, at=now, form="grant_type=refresh_token&refresh_token=rt-1")
    assert failing([obtain, confidential]) == {"refresh-same-key-confidential": Outcome.INFO}
    public = ReceivedRequest(
        "POST",
        TOKEN_URL,
        (("DPoP", refresh),),
        b"grant_type=refresh_token&refresh_token=rt-1&client_id=spa",
        now,
        "AS",
        "test",
    )
    assert failing([obtain, public]) == {"refresh-same-key-public": Outcome.FAILED}


def test_dpop_jkt_must_name_the_key_that_redeems_the_code(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    authorize = "http://127.0.0.1:1001/authorize"
    ctx = JudgingContext(TOKEN_URL, RESOURCE_URL, ("ES256",), authorization_endpoint=authorize)

    def flow(jkt: str) -> list[ReceivedRequest]:
        ask = ReceivedRequest("GET", f"{authorize}?response_type=code&dpop_jkt={jkt}", (), b"", now, "AS", "t")
        redeem = token_request(
            new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign(), at=now, form="grant_type=authorization_code&code=c"
        )
        return [ask, redeem]

    assert outcomes(flow(key.thumbprint()), ctx)["dpop-jkt"] is Outcome.PASSED
    assert failing(flow(thumbprint(generate_key("ES256").public_jwk())), ctx) == {"dpop-jkt": Outcome.FAILED}


def test_a_bearer_token_answer_is_observed_not_judged(key: DPoPKey) -> None:
    now = 1_800_000_000.0
    requests = clean_flow(key, now)
    requests[0] = token_request(
        new_proof(key, "POST", TOKEN_URL, iat=int(now)).sign(), at=now, answer=issued("at-1", "Bearer")
    )
    results = judge_client(requests, CTX)
    assert results["bearer-token-type"].outcome is Outcome.INFO
    assert "DPoP scheme" in results["bearer-token-type"].message
    assert results["auth-scheme"].outcome is Outcome.SKIPPED


# The catalog ---------------------------------------------------------------------------------------------------


def test_every_check_names_a_client_requirement_and_its_level_comes_from_the_words() -> None:
    for check in CHECKS.values():
        requirement = REQUIREMENTS[check.requirement]
        assert requirement.duty == "client", check.id
        assert requirement.id.startswith("RC-"), check.id
    assert CHECKS["proof-present"].level is Level.MUST
    assert CHECKS["nonce-retry"].level is Level.MAY  # "will typically retry": no BCP 14 keyword
    assert CHECKS["jti-entropy"].level is Level.MAY  # "can be accomplished": no keyword
    assert CHECKS["rs-nonce-from-200"].level is Level.MAY  # "is expected": no keyword
    assert CHECKS["nonce-kept"].level is Level.MAY  # §8.2 "is expected": no keyword
    assert CHECKS["alg-advertised"].level is Level.MAY  # §5.1 defines the metadata: no keyword binds the client
    assert CHECKS["alg"].level is Level.MUST
    assert CHECKS["bearer-token-type"].level is Level.MAY  # an observation
    assert CHECKS["refresh-same-key-public"].level is Level.MUST
    assert CHECKS["refresh-same-key-confidential"].level is Level.MAY
