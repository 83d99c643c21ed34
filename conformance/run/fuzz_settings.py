"""How hard the fuzz cases try: the examples per case, and the Hypothesis settings they run with."""

from __future__ import annotations

import pytest

from conformance.judge.fuzzing import examples_per_case

__all__ = ["configure_fuzzing", "fuzz_examples"]


def fuzz_examples(config: pytest.Config) -> int:
    """Examples Hypothesis draws per fuzz case (besides the one example of every fault each case sends first)."""
    return examples_per_case(config.getoption("dpop_fuzz_examples"), config.getoption("dpop_fuzz_profile"))


def configure_fuzzing(config: pytest.Config) -> None:
    """Load the Hypothesis settings the fuzz cases run with (examples, seed or derandomised, database).

    Without a seed (`--hypothesis-seed`, which `run --fuzz-seed` sets) the run is derandomised: the same
    examples every time, so that the same server gets the same verdicts and a baseline cannot flip. The
    example database (failures found are tried first next time) then stays unused too: it serves
    explorations with a seed.
    """
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    db = config.getoption("dpop_fuzz_db")
    explore = config.getoption("hypothesis_seed", None) is not None
    settings.register_profile(
        "dpop-fuzz",
        max_examples=max(fuzz_examples(config), 1),
        deadline=None,  # every example is a round trip to a server: its time is not the suite's
        derandomize=not explore,
        database=DirectoryBasedExampleDatabase(db) if db and explore else None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
        report_multiple_bugs=True,
        print_blob=False,
    )
