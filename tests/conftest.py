"""Fixtures of the project's own tests: real reference servers on loopback (never HTTP mocks)."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.client.keys import DPoPKey, generate_key
from conformance.reference import RunningServer, ServerSettings


@pytest.fixture(scope="session")
def jwt_client_key() -> DPoPKey:
    """The private_key_jwt client's key; the reference server knows its public half."""
    return generate_key("ES256")


@pytest.fixture(scope="module", params=["none", "both"])
def server(request: pytest.FixtureRequest, jwt_client_key: DPoPKey) -> Iterator[RunningServer]:
    """A clean reference server, without and with nonces at both the AS and the RS."""
    settings = ServerSettings(nonce=request.param, jwt_client_jwks=(jwt_client_key.public_jwk(),))
    with RunningServer(settings) as running:
        yield running


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's test command): twice the cores this process may use, at most 16.

    The tests wait on servers (retry-after waits, watchdog timeouts, replay delays, process start-up) more
    than they compute: on 2 cores, 4 workers ran the whole suite in 222 s where 2 took 288 s.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cores, 16)


# Tests that take the longest go first: with pytest-xdist, a long test started last keeps one worker busy
# while the other has nothing left to do (a kill-matrix batch takes about a minute).
_LONGEST_FIRST = (
    "test_kill_matrix.py::test_defects_are_caught_by_their_cases",
    "test_vendors.py::test_vendor_outcomes_equal_the_expectations",
    "test_fuzz_verdicts.py::test_every_fuzz_only_defect",
    "test_fuzz_verdicts.py::test_a_lenient_server",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, name in enumerate(_LONGEST_FIRST) if name in item.nodeid), len(_LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        help="tests/test_report_pages.py: save PNGs of report.html and the compare page into docs/screenshots/",
    )


# --- every results.json a test makes follows the published schema ---------------------------------------
# After each test that used tmp_path or tmp_path_factory and passed, every results.json under the temporary
# folders created while it ran (its tmp_path, and the folders of fixtures set up for it) is validated
# against conformance/schemas/results.schema.json. Only files the suite wrote count: those with
# schema_version and suite.name "dpop-conformance"; the documents tests write by hand (compare inputs,
# broken baselines) have no schema_version. A test that writes a suite-like results.json that must not
# validate takes @pytest.mark.unchecked_results.

_TMP_BEFORE = pytest.StashKey[tuple[Path, set[str]]]()
_RESULTS_VALIDATOR: list[Any] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "unchecked_results: the results.json files this test writes are not checked against the schema"
    )


def _results_validator() -> Any:
    if not _RESULTS_VALIDATOR:
        try:
            from jsonschema import Draft202012Validator, FormatChecker
        except ImportError:  # pragma: no cover - the test extra has it
            pytest.fail("jsonschema is needed to check results.json files: pip install -e '.[test]'", pytrace=False)
        from conformance.schemas import load_schema

        _RESULTS_VALIDATOR.append(Draft202012Validator(load_schema("results"), format_checker=FormatChecker()))
    return _RESULTS_VALIDATOR[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Note the temporary folders there are before the test's fixtures make theirs."""
    factory = getattr(item.config, "_tmp_path_factory", None)
    uses_tmp = "tmp_path_factory" in getattr(item, "fixturenames", ())
    if factory is not None and uses_tmp and item.get_closest_marker("unchecked_results") is None:
        base = factory.getbasetemp()
        item.stash[_TMP_BEFORE] = (base, set(os.listdir(base)))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Once the test passed: its results.json files must follow the schema."""
    result = yield  # a failing test raises here, and keeps its own failure
    before = item.stash.get(_TMP_BEFORE, None)
    if before is not None:
        base, known = before
        checked, problems = _check_results_files([base / name for name in sorted(set(os.listdir(base)) - known)])
        if checked:
            item.user_properties.append(("results_json_checked", checked))
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
    return result


def _written_by_the_suite(document: Any) -> bool:
    """Whether a results.json is the suite's own (hand-made documents in tests have no schema_version)."""
    suite = document.get("suite") if isinstance(document, dict) else None
    return isinstance(suite, dict) and suite.get("name") == "dpop-conformance" and "schema_version" in document


def _check_results_files(folders: list[Path]) -> tuple[int, list[str]]:
    """(how many results.json the suite wrote under `folders`, one line per file that breaks the schema)."""
    from jsonschema.exceptions import best_match

    checked, problems = 0, []
    for folder in folders:
        # pytest links <name>current to the newest <name>N: a link is no folder of its own
        for path in sorted(folder.rglob("results.json")) if folder.is_dir() and not folder.is_symlink() else []:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not a results.json the suite wrote (it writes the file whole)
            if not _written_by_the_suite(document):
                continue
            checked += 1
            error = best_match(_results_validator().iter_errors(document))
            if error is not None:
                message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
                problems.append(
                    f"{path} does not follow conformance/schemas/results.schema.json: at {error.json_path}: {message}"
                )
    return checked, problems
