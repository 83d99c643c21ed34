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
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import violation
from conformance.judge.code_binding import judge_dpop_jkt_mismatch
from conformance.judge.negatives import accepted_at_as, refused_at_as
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
            dpop.metadata_exchange(),
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
    refused = []
    for alg in (a for a in SUPPORTED_ALGS if a not in FAPI2_ALGS):
        final = refused_at_as(
            dpop,
            what=f"a token request with a valid {alg} proof",
            rule="FAPI 2.0: only PS256, ES256 and EdDSA",
            key=key_for(alg),
        )
        refused.append(f"{alg}: HTTP {final.status}")
    note("refused " + "; ".join(refused))


def _iat_offset(seconds: int) -> Any:
    def shift(draft: ProofDraft) -> str:
        return draft.with_claims(iat=int(time.time()) + seconds).sign()

    return shift


def _iat_params(accepted: bool) -> list[Any]:
    seconds = 10 if accepted else 61
    verb = "accepts" if accepted else "refuses"
    params = []
    # FAPI 2.0 puts the iat window among the authorization server's requirements only
    for actor in ("AS",):
        who = "token endpoint"
        request = "token request"
        params.append(
            case_param(
                f"fapi2-{actor.lower()}-iat-{seconds}s-future-{'accepted' if accepted else 'refused'}",
                f"FAPI 2.0: the {who} {verb} a proof whose iat is {seconds} s in the future",
                actor,
                section="4.3",
                level=Level.MUST,
                actor=actor,
                requirement="FAPI2-SP iat",
                profile="fapi2",
                doc=f"Sends: a valid {request} whose proof's iat is {seconds} s ahead of the suite's clock.\n"
                + (
                    "Expects: acceptance (FAPI 2.0: shall accept iat values 0 to 10 seconds in the future)."
                    if accepted
                    else "Expects: a refusal (FAPI 2.0: shall reject iat values more than 60 seconds in the future)."
                ),
            )
        )
    return params


@pytest.mark.parametrize("actor", _iat_params(accepted=True))
def test_accepts_iat_ten_seconds_ahead(dpop: DPoPSession, note: Any, actor: str) -> None:
    final = accepted_at_as(
        dpop,
        what="a token request whose iat is 10 s ahead",
        rule="FAPI 2.0: iat values 0 to 10 seconds in the future are accepted",
        mutate=_iat_offset(10),
    )
    note(f"accepted with HTTP {final.status}")


@pytest.mark.parametrize("actor", _iat_params(accepted=False))
def test_refuses_iat_more_than_sixty_seconds_ahead(dpop: DPoPSession, note: Any, actor: str) -> None:
    final = refused_at_as(
        dpop,
        what="a token request whose iat is 61 s ahead",
        rule="FAPI 2.0: iat values more than 60 seconds in the future are rejected",
        mutate=_iat_offset(61),
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
