"""The client: what speaks HTTP and DPoP to a target for the suite.

The target-file model (target), keys and proofs (keys, proof), the wire (transport, with content_coding and
watchdog), the OAuth flows (flow), evidence recording and redaction (evidence), which origins receive
credentials (origins), URL forms (uri). It imports only the base modules (conformance.jose,
conformance.printable): nothing here knows what a verdict is.
"""
