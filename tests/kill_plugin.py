"""A pytest plugin for the kill matrix: the catalog against many reference servers in one pytest session.

Loaded by tests/kill_matrix.py (`run_batch`) into a pytest process that runs the conformance cases; the
entries come in the JSON file named by `--kill-entries`. It parametrizes the plugin's `dpop` fixture (at
session scope) with one reference-server setting per entry, so every case runs once per entry, grouped by
entry (pytest sets a session-scoped parameter up once and tears it down before the next), and one process
start-up and one collection serve a whole batch of entries. The reference server runs in a process of its
own (conformance.reference.process.ServerProcess), switched to each entry's settings in turn: in the cases'
process it would share their interpreter lock. The per-case nodeid carries the entry id.
"""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.client.target import Target, parse_target
from conformance.judge.catalog import case_info
from conformance.reference.process import ServerProcess


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--kill-entries", metavar="FILE", help="kill-matrix entries (JSON) to run the cases against")


class _Served:
    """The target factory of one entry: the shared server process, switched to this entry's settings."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry

    @contextlib.contextmanager
    def __call__(self) -> Iterator[Target]:
        global _PROCESS
        if _PROCESS is None:
            _PROCESS = ServerProcess()
        entry = self.entry
        toml = _PROCESS.configure(
            entry["nonce"],
            defects=entry["defects"].split(),
            leniencies=entry["leniencies"].split(),
            par=entry.get("par", True),
        )
        yield parse_target(tomllib.loads(toml), source=f"reference server, kill entry {entry['id']}")


_PROCESS: ServerProcess | None = None
_SETTINGS: dict[str, _Served] = {}


def _entries(config: pytest.Config) -> list[dict[str, Any]]:
    path = config.getoption("kill_entries")
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else []


def _settings(entry: dict[str, Any]) -> _Served:
    # One object per entry, shared by every case: pytest groups the cases of a session-scoped parameter by
    # its value
    if entry["id"] not in _SETTINGS:
        _SETTINGS[entry["id"]] = _Served(entry)
    return _SETTINGS[entry["id"]]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PROCESS is not None:
        _PROCESS.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dpop" not in metafunc.fixturenames:
        return
    fuzz = metafunc.definition.get_closest_marker("fuzz") is not None
    # a case that waits seconds runs only for the entries that expect it to catch their defect
    waits = metafunc.definition.get_closest_marker("waits") is not None
    declared = _declared_ids(metafunc)
    params = [
        pytest.param(_settings(entry), id=entry["id"])
        for entry in _entries(metafunc.config)
        if (entry["every_case"] or entry["fuzz"] == fuzz)
        and (not waits or entry.get("waits", False))
        # an entry that runs only its own cases gets no item of a function that declares none of them: six
        # thousand items collected and deselected cost seconds a batch
        and (not entry.get("only") or not declared or declared & set(entry["only"]))
    ]
    if params:
        metafunc.parametrize("dpop", params, indirect=True, scope="session")
    else:  # no entry runs this kind of case: leave it out
        metafunc.parametrize("dpop", [pytest.param(None, marks=pytest.mark.skip(reason="no entry"))], indirect=True)


def _declared_ids(metafunc: pytest.Metafunc) -> set[str]:
    """The case ids a case function declares: its own (@case) or those of its parameters (case_param)."""
    ids = {marker.args[0].id for marker in metafunc.definition.iter_markers("dpop_case")}
    for marker in metafunc.definition.iter_markers("parametrize"):
        for value in marker.args[1] if len(marker.args) > 1 else ():
            for mark in getattr(value, "marks", ()):
                if mark.name == "dpop_case":
                    ids.add(mark.args[0].id)
    return ids


def _selected(item: pytest.Item) -> bool:
    """False for a case left out of its entry: an entry with `only` runs the cases it lists, no other."""
    callspec = getattr(item, "callspec", None)
    served = callspec.params.get("dpop") if callspec else None
    only = served.entry.get("only") if isinstance(served, _Served) else None
    if not only:
        return True
    info = case_info(item)
    return info is not None and info.id in only


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep = [item for item in items if not item.get_closest_marker("skip") and _selected(item)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
