"""The JSON Schemas (draft 2020-12) the suite publishes: `results` (results.json), `target` (target files) and
`client-target` (client target files, `dpop-conformance client --config`).

They ship inside the package, beside this module, and `dpop-conformance schema results|target` prints them.
`target` accepts what conformance/client/target.py accepts and refuses an unknown key where it does; `results`
states what a consumer of results.json may rely on, and lets later versions add members
(tests/test_schemas.py holds both to that).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMAS", "load_schema", "schema_text"]

#: the published schemas, by name: the file is `<name>.schema.json` in this package
SCHEMAS = ("results", "target", "client-target")


def schema_text(name: str) -> str:
    """The schema's file as shipped (JSON text)."""
    if name not in SCHEMAS:
        raise ValueError(f"no schema named {name!r}; the schemas are: {', '.join(SCHEMAS)}")
    return files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` (results or target) as a JSON object."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema
