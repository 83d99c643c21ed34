"""What one request sends: a frozen value handed from a case to the judge to the wire, unchanged on the way.

A case names only what its request changes (`Request(label="...", mutate=mutation("typ-jwt"))`); the endpoint
that sends it (conformance/judge/endpoints.py) adds what that place always sends (the grant and the client's
credentials at the token endpoint, the bound token at the resource), and the flow (conformance/client/flow.py)
builds the proof from it: `header_values` is the one place a request's DPoP header field values are made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from conformance.client.keys import DPoPKey
from conformance.client.proof import ProofDraft

__all__ = ["ProofMaker", "ProofMutation", "Request"]

#: a change to a valid proof: the draft in, the header value (a compact JWS, or anything else) out
ProofMutation = Callable[[ProofDraft], str]
#: header values made from the valid draft instead of it: several proofs, a replayed one, none ([])
ProofMaker = Callable[[ProofDraft], list[str]]


@dataclass(frozen=True)
class Request:
    """One request as a case plans it. Every field has the value of a plain valid request by default.

    The proof: from `key` (None: the one the endpoint uses for its valid requests) and valid, unless
    `without_proof` (no DPoP header at all), `mutate` (the valid proof altered by one named change) or `proofs`
    (header values made from the valid draft, each sent as its own field line). At the resource, `scheme` is
    the Authorization scheme ("" sends no Authorization), `token` another access token than the bound one and
    `url` another URL than the configured resource. `use_known_nonce` False leaves out the nonce the server
    handed out last; `retry_on_nonce` False answers no nonce challenge.
    """

    label: str = "request"
    key: DPoPKey | None = None
    without_proof: bool = False
    mutate: ProofMutation | None = None
    proofs: ProofMaker | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "DPoP"
    url: str | None = None
    token: str | None = None
    use_known_nonce: bool = True
    retry_on_nonce: bool = True
    dpop_header_name: str = "DPoP"

    def __post_init__(self) -> None:
        chosen = [name for name in ("without_proof", "mutate", "proofs") if getattr(self, name)]
        if len(chosen) > 1:  # a programming error in a case: one proof plan per request
            raise ValueError(f"a request has one proof plan, not {' and '.join(chosen)}")

    def with_key(self, default: DPoPKey) -> Request:
        """The request with its proof's key settled: its own, or the endpoint's `default`."""
        return self if self.key is not None else dataclasses.replace(self, key=default)

    @property
    def sends_proof(self) -> bool:
        """Whether the request carries a DPoP header at all (a key, and no `without_proof`)."""
        return self.key is not None and not self.without_proof

    def header_values(self, draft: ProofDraft | None) -> str | list[str] | None:
        """The DPoP header field value(s) from the valid draft: as planned (one value, several, or none)."""
        if draft is None or not self.sends_proof:
            return None
        if self.proofs is not None:
            return self.proofs(draft)
        return self.mutate(draft) if self.mutate is not None else draft.sign()
