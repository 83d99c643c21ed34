"""Fuzz throughput against the reference server on loopback: proofs per second, suite time vs server time.

    python benchmarks/fuzz_throughput.py [--examples N] [--nonce none|as|rs|both]

The reference server runs in its own process (`dpop-conformance serve`), so the figures split the time
between this process (drawing proofs with Hypothesis, signing, bookkeeping) and waiting for answers. It
prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_process import reference_server

from conformance.session import DPoPSession
from conformance.strategies import PARTS, Corruption, corruptions
from conformance.target import load_target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=400, help="fuzzed proofs per actor (default 400)")
    parser.add_argument("--nonce", default="none", choices=("none", "as", "rs", "both"))
    args = parser.parse_args()
    with reference_server(args.nonce) as config:
        session = DPoPSession(load_target(config))
        for actor in ("AS", "RS"):
            run(session, actor, args.examples)
        session.close()
    return 0


def run(session: DPoPSession, actor: str, examples: int) -> None:
    bound = session.bound_token()
    waited = 0.0
    sent_count = 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(corruption=st.one_of(*(corruptions(p, with_token=actor == "RS") for p in PARTS)))
    def prop(corruption: Corruption) -> None:
        nonlocal waited, sent_count
        session.client.log = []
        if actor == "AS":
            sent = session.request_token(mutate=corruption.apply)
        else:
            sent = session.call_resource(bound.access_token, bound.key, mutate=corruption.apply)
        waited += sum(ex.duration_s for ex in sent.exchanges)
        sent_count += len(sent.exchanges)

    start = time.perf_counter()
    prop()
    wall = time.perf_counter() - start
    print(
        f"{actor}: {sent_count} fuzzed requests in {wall:.2f} s = {sent_count / wall:.0f} proofs/s; "
        f"waiting for the server {100 * waited / wall:.0f} %, in the suite (Hypothesis, signing, "
        f"bookkeeping) {100 * (wall - waited) / wall:.0f} %"
    )


if __name__ == "__main__":
    raise SystemExit(main())
