"""dpop-conformance: a conformance test suite for OAuth 2.0 DPoP (RFC 9449).

The suite plays the client against an authorization server and a resource server and judges every
step of the DPoP sequence. `dpop-conformance run` is the entry point; see the README, and ARCHITECTURE.md
for the layers: `conformance.client` (HTTP and DPoP), `conformance.judge` (verdicts), `conformance.report`
(what people read), `conformance.run` (the plugin and the CLI), `conformance.reference` (the server).

The modules were one flat package before 0.1.0. Their old names (`conformance.proof`, `conformance.catalog`
and the rest) still import for one release, as the very module at the new place, with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["__version__"]

__version__ = "0.2.0"

#: old flat name -> the module's place in its layer (importable under the old name for one release)
MOVED = {
    "conformance.baseline": "conformance.report.baseline",
    "conformance.catalog": "conformance.judge.catalog",
    "conformance.checks": "conformance.judge.checks",
    "conformance.cli": "conformance.run.cli",
    "conformance.code_binding": "conformance.judge.code_binding",
    "conformance.compare": "conformance.report.compare",
    "conformance.concurrency": "conformance.run.concurrency",
    "conformance.content_coding": "conformance.client.content_coding",
    "conformance.evidence": "conformance.client.evidence",
    "conformance.exactness": "conformance.judge.exactness",
    "conformance.faults": "conformance.judge.faults",
    "conformance.flow": "conformance.client.flow",
    "conformance.fuzzing": "conformance.judge.fuzzing",
    "conformance.hints": "conformance.report.hints",
    "conformance.key_binding": "conformance.judge.key_binding",
    "conformance.keys": "conformance.client.keys",
    "conformance.mutations": "conformance.judge.mutations",
    "conformance.near_misses": "conformance.judge.near_misses",
    "conformance.negatives": "conformance.judge.negatives",
    "conformance.nonces": "conformance.judge.nonces",
    "conformance.origins": "conformance.client.origins",
    "conformance.plan": "conformance.run.plan",
    "conformance.preflight": "conformance.judge.preflight",
    "conformance.proof": "conformance.client.proof",
    "conformance.requirements": "conformance.judge.requirements",
    "conformance.results": "conformance.report.results",
    "conformance.scheduler": "conformance.run.scheduler",
    "conformance.selection": "conformance.run.selection",
    "conformance.server_values": "conformance.judge.server_values",
    "conformance.session": "conformance.judge.session",
    "conformance.setup_problems": "conformance.judge.setup_problems",
    "conformance.strategies": "conformance.judge.strategies",
    "conformance.target": "conformance.client.target",
    "conformance.terminal": "conformance.report.terminal",
    "conformance.transport": "conformance.client.transport",
    "conformance.uri": "conformance.client.uri",
    "conformance.verdicts": "conformance.judge.verdicts",
    "conformance.watchdog": "conformance.client.watchdog",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `conformance.<old>` as the module at its new place: the same object, not a copy."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old name goes in the next release", DeprecationWarning, stacklevel=2
        )
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the module at the new place is imported); its own spec is put back, which the
        import system had replaced by the old name's."""
        module.__spec__ = self._specs[module.__name__]


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
