"""dpop-conformance: a conformance test suite for OAuth 2.0 DPoP (RFC 9449).

The suite plays the client against an authorization server and a resource server and judges every
step of the DPoP sequence. `dpop-conformance run` is the entry point; see the README, and ARCHITECTURE.md
for the layers: `conformance.client` (HTTP and DPoP), `conformance.judge` (verdicts), `conformance.report`
(what people read), `conformance.run` (the plugin and the CLI), `conformance.reference` (the server).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
