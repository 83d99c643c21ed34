"""FAPI 2.0 Security Profile, DPoP rules (run with --profile fapi2).

Only PS256, ES256 and EdDSA; proofs up to 10 s in the future accepted and more than 60 s refused;
authorization code binding with dpop_jkt (RFC 9449 §10) supported. Section numbers are RFC 9449's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conformance.client.keys import SUPPORTED_ALGS, key_for
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.judge.catalog import case
from conformance.judge.checks import violation
from conformance.judge.code_binding import judge_dpop_jkt_mismatch
from conformance.judge.endpoints import TOKEN
from conformance.judge.negatives import accepted, refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level

# "Ed25519" is the fully-specified identifier of EdDSA with Ed25519 (RFC 9864), which FAPI 2.0 allows too
FAPI2_ALGS = ("PS256", "ES256", "EdDSA", "Ed25519")


@case(
    "fapi2-metadata-algs",
    "FAPI 2.0: the metadata advertises only PS256, ES256 and EdDSA",
    section="5.1",
    level=Level.SHOULD,
    actor="AS",
    requirement="FAPI2-SP crypto",
    profile="fapi2",
)
def test_metadata_advertises_only_fapi2_algorithms(dpop: DPoPSession, note: Any) -> None:
    """Sends: a metadata request.
    Expects: dpop_signing_alg_values_supported lists only PS256, ES256 and EdDSA (FAPI 2.0: "shall only
    use PS256, ES256 or EdDSA"). A server shared with non-FAPI clients may list more, so this is a
    warning; fapi2-as-rejects-other-algs judges what it accepts.
    """
    dpop.require_authorization_server()
    algs = (dpop.metadata or {}).get("dpop_signing_alg_values_supported")
    if not isinstance(algs, list):
        pytest.skip("no dpop_signing_alg_values_supported in the metadata (or no issuer)")
    others = [a for a in algs if a not in FAPI2_ALGS]
    if others:
        raise violation(
            "a metadata request",
            f"only {', '.join(FAPI2_ALGS)}; also found {', '.join(others)}",
            dpop.discovery.metadata_exchange(),
            cause=f"the metadata advertises {', '.join(others)} for DPoP proofs besides FAPI 2.0's algorithms",
            fix=f"list only {', '.join(FAPI2_ALGS)} in dpop_signing_alg_values_supported for FAPI 2.0 clients",
        )
    note(f"advertises {' '.join(algs)}")


@case(
    "fapi2-as-rejects-other-algs",
    "FAPI 2.0: the token endpoint refuses proofs in algorithms other than PS256, ES256 and EdDSA",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="FAPI2-SP crypto",
    profile="fapi2",
)
def test_token_endpoint_refuses_non_fapi2_algorithms(dpop: DPoPSession, note: Any) -> None:
    """Sends: token requests with valid proofs signed with RS256, ES384 and ES512 (one each, a key each).
    Expects: a refusal of each (FAPI 2.0 allows only PS256, ES256 and EdDSA).
    """
    refusals = []
    for alg in (a for a in SUPPORTED_ALGS if a not in FAPI2_ALGS):
        request = Request(label=f"a token request with a valid {alg} proof", key=key_for(alg))
        final = refused(dpop, TOKEN, request, rule="FAPI 2.0: only PS256, ES256 and EdDSA")
        refusals.append(f"{alg}: HTTP {final.status}")
    note("refused " + "; ".join(refusals))


def _iat_offset(seconds: int) -> Any:
    def shift(draft: ProofDraft) -> str:
        return draft.with_claims(iat=int(time.time()) + seconds).sign()

    return shift


@case(
    "fapi2-as-iat-10s-future-accepted",
    "FAPI 2.0: the token endpoint accepts a proof whose iat is 10 s in the future",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="FAPI2-SP iat",
    profile="fapi2",
)
def test_accepts_iat_ten_seconds_ahead(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid token request whose proof's iat is 10 s ahead of the suite's clock.
    Expects: acceptance (FAPI 2.0: shall accept iat values 0 to 10 seconds in the future).
    """
    # FAPI 2.0 puts the iat window among the authorization server's requirements only
    final = accepted(
        dpop,
        TOKEN,
        Request(label="a token request whose iat is 10 s ahead", mutate=_iat_offset(10)),
        rule="FAPI 2.0: iat values 0 to 10 seconds in the future are accepted",
    )
    note(f"accepted with HTTP {final.status}")


@case(
    "fapi2-as-iat-61s-future-refused",
    "FAPI 2.0: the token endpoint refuses a proof whose iat is 61 s in the future",
    section="4.3",
    level=Level.MUST,
    actor="AS",
    requirement="FAPI2-SP iat",
    profile="fapi2",
)
def test_refuses_iat_more_than_sixty_seconds_ahead(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid token request whose proof's iat is 61 s ahead of the suite's clock.
    Expects: a refusal (FAPI 2.0: shall reject iat values more than 60 seconds in the future).
    """
    final = refused(
        dpop,
        TOKEN,
        Request(label="a token request whose iat is 61 s ahead", mutate=_iat_offset(61)),
        rule="FAPI 2.0: iat values more than 60 seconds in the future are rejected",
    )
    note(f"refused with HTTP {final.status}")


@case(
    "fapi2-dpop-jkt-supported",
    "FAPI 2.0: authorization code binding with dpop_jkt is supported",
    section="10",
    level=Level.MUST,
    actor="AS",
    requirement="FAPI2-SP dpop_jkt",
    profile="fapi2",
)
def test_dpop_jkt_binding_is_supported(dpop: DPoPSession, note: Any) -> None:
    """Sends: an authorization request with dpop_jkt of key A; the code redeemed with key B (refused),
    and another such code redeemed with A (accepted), with the [public_client].
    Expects: FAPI 2.0 requires "Authorization Code Binding to DPoP Key" (RFC 9449 §10): the mismatch is
    refused and the match accepted. Skipped without a [public_client].
    """
    judge_dpop_jkt_mismatch(dpop, note)
