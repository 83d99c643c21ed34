"""Fuzz throughput against the reference server on loopback: proofs per second, suite time vs server time.

    python benchmarks/fuzz_throughput.py [--examples N] [--nonce none|as|rs|both]

The reference server runs in its own process (`dpop-conformance serve`), so the figures split the time
between this process (drawing proofs with Hypothesis, signing, bookkeeping) and waiting for answers. It
prints two sets of figures and asserts nothing:

1. raw throughput: N proofs per actor drawn from every part's strategy and sent, nothing judged;
2. the ten fuzz cases as a run makes them (`conformance.judge.fuzzing.fuzz_case`: one example of every fault,
   then the default budget of drawn ones, findings shrunk), derandomised: the time the fuzz cases add.
"""

from __future__ import annotations

import argparse
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.client.request import Request
from conformance.client.target import load_target
from conformance.judge.endpoints import RESOURCE, TOKEN, Endpoint
from conformance.judge.faults import Change
from conformance.judge.fuzzing import FUZZ_PROFILES, accepted_finding, fuzz_case, server_error_finding
from conformance.judge.session import DPoPSession
from conformance.judge.strategies import PARTS, corruptions
from conformance.reference.process import reference_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=400, help="fuzzed proofs per actor (default 400)")
    parser.add_argument("--nonce", default="none", choices=("none", "as", "rs", "both"))
    args = parser.parse_args()
    with reference_server(args.nonce) as config:
        session = DPoPSession(load_target(config))
        for endpoint in (TOKEN, RESOURCE):
            raw(session, endpoint, args.examples)
        cases(session)
        session.close()
    return 0


def raw(session: DPoPSession, endpoint: Endpoint, examples: int) -> None:
    waited = 0.0
    sent_count = 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(corruption=st.one_of(*(corruptions(p, with_token=endpoint.sends_token) for p in PARTS)))
    def prop(corruption: Change) -> None:
        nonlocal waited, sent_count
        session.client.log = []
        sent = endpoint.send(session, Request(label=endpoint.noun, mutate=corruption.apply))
        waited += sum(ex.duration_s for ex in sent.exchanges)
        sent_count += len(sent.exchanges)

    start = time.perf_counter()
    prop()
    wall = time.perf_counter() - start
    print(
        f"raw {endpoint.actor}: {sent_count} fuzzed requests in {wall:.2f} s = {sent_count / wall:.0f} proofs/s; "
        f"waiting for the server {100 * waited / wall:.0f} %, in the suite (Hypothesis, signing, "
        f"bookkeeping) {100 * (wall - waited) / wall:.0f} %"
    )


def cases(session: DPoPSession) -> None:
    settings.register_profile(
        "dpop-fuzz",
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )
    examples = FUZZ_PROFILES["quick"]
    transport = session.client.transport
    sent_before, waited_before = sum(transport.requests_sent.values()), transport.waited_s
    start = time.perf_counter()
    for endpoint in (TOKEN, RESOURCE):
        for part in PARTS:
            fuzz_case(session, endpoint, (part,), accepted_finding, examples=examples)
        fuzz_case(session, endpoint, PARTS, server_error_finding, examples=examples)
    wall = time.perf_counter() - start
    sent = sum(transport.requests_sent.values()) - sent_before
    waited = transport.waited_s - waited_before
    print(
        f"the 10 fuzz cases (default budget: one example of every fault, then {examples} drawn): {sent} requests "
        f"in {wall:.2f} s = {sent / wall:.0f} requests/s; waiting for the server {100 * waited / wall:.0f} %"
    )


if __name__ == "__main__":
    raise SystemExit(main())
