"""The package's layers (ARCHITECTURE.md): imports only go down, and nothing imports an old flat name.

A static read of every module's imports (ast, the TYPE_CHECKING ones included), so a module that imports
a higher layer fails here with its file and line, before anyone has to notice a cycle.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import conformance

PACKAGE = Path(conformance.__file__).resolve().parent
#: the layers from the bottom up; a module may import its own layer and those below it
ORDER = ["base", "client", "judge", "report", "run"]
#: modules at the package's top: the base, and the entry names that belong to `run`
TOP = {"jose": "base", "printable": "base", "__main__": "run", "__init__": "base"}


def layer_of(module: str) -> str | None:
    """The layer of a `conformance...` module name (None: not the suite's)."""
    parts = module.split(".")
    if parts[0] != "conformance":
        return None
    if len(parts) == 1:
        return "base"
    if parts[1] in ("client", "judge", "report", "run", "reference"):
        return parts[1]
    if parts[1] in TOP:
        return TOP[parts[1]]
    if parts[1] == "schemas" or parts[1] == "__version__":
        return "base"  # data files and their loader; the package's version
    return f"flat:{parts[1]}"


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "conformance":
                found += [(node.lineno, f"conformance.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _module_name(path: Path, package: Path) -> str:
    return ".".join(("conformance", *path.relative_to(package).with_suffix("").parts))


def upward_imports(package: Path = PACKAGE) -> list[str]:
    """Every import of a higher layer (or of a flat name that no longer exists), as "file:line: what"."""
    wrong: list[str] = []
    for path in sorted(package.rglob("*.py")):
        me = layer_of(_module_name(path, package).removesuffix(".__init__"))
        assert me is not None
        for line, imported in _imports(path):
            other = layer_of(imported)
            if other is None or imported == "conformance":
                continue
            where = f"{path.relative_to(package.parent)}:{line}: imports {imported}"
            if other.startswith("flat:"):
                wrong.append(f"{where} (an old flat name: import it from its layer)")
            elif me == "reference":
                if other != "reference" and imported != "conformance.jose":
                    wrong.append(f"{where} (the reference server imports nothing of the suite but jose)")
            elif other == "reference":
                if me != "run":
                    wrong.append(f"{where} (only the running starts the reference server)")
            elif ORDER.index(other) > ORDER.index(me):
                wrong.append(f"{where} ({me} may not import {other})")
    return wrong


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports() == []


def test_the_cases_and_tests_import_the_layers_not_the_old_names() -> None:
    root = PACKAGE.parent
    old = [
        f"{path.relative_to(root)}:{line}: {name}"
        for folder in ("cases", "tests", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        for line, name in _imports(path)
        if (layer_of(name) or "").startswith("flat:")
    ]
    assert old == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    # a copy of the package in which the client imports the judging
    copy = tmp_path / "conformance"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    proof = copy / "client" / "proof.py"
    proof.write_text(proof.read_text(encoding="utf-8") + "\nfrom conformance.judge.verdicts import Level\n")
    assert upward_imports(copy) == [
        f"conformance/client/proof.py:{len(proof.read_text().splitlines())}: imports conformance.judge.verdicts "
        "(client may not import judge)"
    ]


#: the layers a case module may import (ARCHITECTURE.md: the cases import the judge and the client)
CASE_LAYERS = ("base", "client", "judge")


def test_the_cases_import_the_judge_and_the_client_only() -> None:
    root = PACKAGE.parent
    wrong = [
        f"{path.relative_to(root)}:{line}: imports {name} ({layer_of(name)} is not among {', '.join(CASE_LAYERS)})"
        for path in sorted((root / "cases").rglob("*.py"))
        for line, name in _imports(path)
        if layer_of(name) is not None and name != "conformance" and layer_of(name) not in CASE_LAYERS
    ]
    assert wrong == []


def _names_imported(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every `from conformance... import name` in a file."""
    return [
        (node.lineno, node.module, alias.name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("conformance.")
        for alias in node.names
    ]


def test_every_name_the_cases_and_benchmarks_import_exists() -> None:
    # the benchmarks run rarely: a name moved in the package would otherwise be found only when one is run
    root = PACKAGE.parent
    missing = [
        f"{path.relative_to(root)}:{line}: {module}.{name}"
        for folder in ("cases", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        for line, module, name in _names_imported(path)
        if not hasattr(importlib.import_module(module), name) and importlib.util.find_spec(f"{module}.{name}") is None
    ]
    assert missing == []
