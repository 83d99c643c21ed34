"""The published JSON Schemas: valid, printed by `dpop-conformance schema`, true to what the suite writes and reads.

The target schema must accept every target file the loader (conformance/client/target.py) accepts, and refuse an
unknown key where the loader does; a Hypothesis search looks for a file the loader takes and the schema
refuses. The results schema must accept every results.json a run writes: besides the runs here, the
project's conftest validates each results.json any test makes (tests/conftest.py).
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from conformance.client.keys import generate_key
from conformance.client.target import ConfigError, parse_target
from conformance.reference import RunningServer, ServerSettings
from conformance.schemas import SCHEMAS, load_schema, schema_text

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "conformance"]
SECTIONS = ("authorization_server", "resource_server", "client", "public_client")

TARGET = Draft202012Validator(load_schema("target"))
RESULTS = Draft202012Validator(load_schema("results"), format_checker=FormatChecker())

#: a valid target table using every section
BASE: dict[str, Any] = {
    "name": "staging",
    "authorization_server": {"issuer": "https://as.example.com"},
    "resource_server": {"url": "https://api.example.com/me"},
    "client": {"id": "my-client", "secret": "${SECRET}"},
    "public_client": {"id": "spa", "redirect_uri": "http://127.0.0.1:8765/callback"},
}
ENV = {"SECRET": "s3cret", "NAME": "staging", "EMPTY": "", "URL": "https://as.example.com", "ALG": "ES256"}


def errors_of(validator: Draft202012Validator, document: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def loader_error(data: dict[str, Any], base_dir: Path | None = None, environ: dict[str, str] = ENV) -> str | None:
    try:
        parse_target(data, environ=environ, base_dir=base_dir)
    except ConfigError as exc:
        return str(exc)
    return None


def _descriptions_missing(node: Any, where: str = "#") -> Iterator[str]:
    """Declared properties without a description (conditions such as if/then/not declare none)."""
    if not isinstance(node, dict):
        return
    for name, sub in (node.get("properties") or {}).items():
        if not isinstance(sub, dict) or not sub.get("description"):
            yield f"{where}/properties/{name}"
        yield from _descriptions_missing(sub, f"{where}/properties/{name}")
    for name, sub in (node.get("$defs") or {}).items():
        yield from _descriptions_missing(sub, f"{where}/$defs/{name}")
    for key in ("items", "additionalProperties"):
        yield from _descriptions_missing(node.get(key), f"{where}/{key}")


# --- the schemas themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_is_a_valid_draft_2020_12_schema_with_id_title_and_descriptions(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]
    assert f"dpop-conformance schema {name}" in schema["description"]
    assert list(_descriptions_missing(schema)) == []


def test_the_schema_command_prints_the_shipped_files_and_refuses_another_name() -> None:
    for name in SCHEMAS:
        done = subprocess.run([*CLI, "schema", name], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        shipped = (ROOT / "conformance" / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        assert done.stdout == shipped == schema_text(name)
        assert json.loads(done.stdout) == load_schema(name)
        assert done.stdout.startswith('{\n  "$schema"')  # indented
    done = subprocess.run([*CLI, "schema", "config"], capture_output=True, text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert done.returncode == 2 and done.stdout == "" and len(errors) == 1 and "results" in errors[0], done.stderr
    with pytest.raises(ValueError, match="results, target"):
        load_schema("config")


# --- the target schema ---------------------------------------------------------------------------


def _documented_target_files() -> list[tuple[str, str]]:
    """(where, TOML text) of every target file the project shows: targets/, the README and docs/ blocks."""
    found = [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "targets").glob("*.toml"))
    ]
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for block in re.finditer(r"^```toml\n(.*?)^```", text, re.S | re.M):
            found.append((f"{page.relative_to(ROOT)}:{text[: block.start()].count(chr(10)) + 1}", block.group(1)))
    # the file targets/oidc-provider/start.sh writes (a shell here-document), with its shell variables filled in
    script = (ROOT / "targets" / "oidc-provider" / "start.sh").read_text(encoding="utf-8")
    heredoc = script.split("<<TOML\n", 1)[1].split("\nTOML\n", 1)[0]
    shell = {"MODE": "off", "ISSUER": "http://127.0.0.1:4100", "RESOURCE": "http://127.0.0.1:4200/resource"}
    heredoc = re.sub(r"\$\((version [^)]*)\)", "1.0.0", heredoc)
    heredoc = re.sub(r"(?<!\\)\$([A-Z_]+)", lambda m: shell[m.group(1)], heredoc).replace("\\$", "$")
    found.append(("targets/oidc-provider/start.sh", heredoc))
    for par in (True, False):  # what `dpop-conformance serve --write-config` writes
        server = RunningServer(ServerSettings(par=par), public_url="https://dpop.example:8443")
        found.append((f"serve --write-config (par={par})", server.target_toml()))
    return found


def test_every_target_file_in_targets_the_readme_and_docs_validates() -> None:
    files = _documented_target_files()
    assert any(where.startswith("README.md:") for where, _ in files), "the README's target-file block is gone"
    assert len([w for w, _ in files if w.startswith("targets/")]) >= 3
    for where, text in files:
        assert errors_of(TARGET, tomllib.loads(text)) == [], where


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A folder with a key file, a secret file and an empty file; and an environment with a key's text."""
    from cryptography.hazmat.primitives import serialization

    folder = tmp_path_factory.mktemp("schema-targets")
    key = generate_key("ES256")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (folder / "key.pem").write_text(pem)
    (folder / "secret.txt").write_text("s3cret\n")
    (folder / "empty.txt").write_text("")
    return folder, {**ENV, "KEY": pem, "KEY_FILE": str(folder / "key.pem")}


def _known_keys(message: str) -> set[str]:
    return set(message.split("known keys: ", 1)[1].split(", "))


@pytest.mark.parametrize("section", ["", *SECTIONS])
def test_an_unknown_key_is_refused_by_the_schema_and_the_loader_alike(section: str) -> None:
    data = copy.deepcopy(BASE)
    (data[section] if section else data)["colour"] = "blue"
    message = loader_error(data)
    where = f"[{section}] colour" if section else ": colour"
    assert message is not None and where in message and "is not a known key" in message, message
    errors = list(TARGET.iter_errors(data))
    assert [e.validator for e in errors] == ["additionalProperties"], [e.message for e in errors]
    assert list(errors[0].absolute_path) == ([section] if section else []) and "'colour'" in errors[0].message
    # and the schema knows exactly the keys the loader knows, in each table
    schema = load_schema("target")
    listed = schema["properties"] if not section else schema["$defs"][section]["properties"]
    assert set(listed) == _known_keys(message)


def test_a_table_of_strings_takes_any_key_as_the_loader_does() -> None:
    data = copy.deepcopy(BASE)
    data["client"]["token_params"] = {"resource": "https://api.example.com/", "any-name": "${URL}"}
    assert loader_error(data) is None and errors_of(TARGET, data) == []
    data["client"]["token_params"] = {"resource": 1}
    assert loader_error(data) is not None and errors_of(TARGET, data) != []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"client": {"id": "c"}}, "[client] secret"),  # client_secret_basic is the default
        ({"client": {"id": "c", "secret": "s", "secret_file": "s.txt"}}, "[client] secret_file"),
        ({"client": {"id": "c", "auth_method": "private_key_jwt"}}, "[client] private_key_file"),
        ({"client": {"id": "c", "auth_method": "none", "grant_type": "authorization_code"}}, "redirect_uri"),
        ({"client": {"id": "c", "auth_method": "none", "grant_type": "refresh_token"}}, "[client] refresh_token"),
        ({"client": {"id": "c", "auth_method": "none", "login": "command"}}, "[client] login_command"),
        ({"public_client": {"id": "spa", "redirect_uri": "http://127.0.0.1:8765/cb", "login": "command"}}, "login"),
        ({"authorization_server": {"introspection_endpoint": "https://as.example.com/i"}}, "token_endpoint"),
        ({"authorization_server": {"token_endpoint": "https://as.example.com/t"}}, "authorization_endpoint"),
        ({"authorization_server": {"issuer": "as.example.com"}}, "[authorization_server] issuer"),
        ({"client": None}, "[client] table is required"),
        ({"authorization_server": None, "client": None}, "[authorization_server] table is required"),
        ({"resource_server": {"url": "https://api.example.com", "access_token": "t"}}, "dpop_key_file"),
        ({"resource_server": {"url": "https://api.example.com", "dpop_key": "${KEY}"}}, "access_token"),
        ({"resource_server": {"url": "https://api.example.com", "method": "FETCH"}}, "method"),
        ({"name": "bad name"}, "name"),
        ({"timeout": 0}, "timeout"),
        ({"iat_max_age": 3601}, "iat_max_age"),
        ({"dpop_alg": "HS256"}, "dpop_alg"),
        ({"insecure": "yes"}, "insecure"),
    ],
)
def test_what_the_schema_refuses_the_loader_refuses_too(
    change: dict[str, Any], where: str, key_folder: tuple[Path, dict[str, str]]
) -> None:
    data = copy.deepcopy(BASE)
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    message = loader_error(data, *key_folder)
    assert message is not None and where in message, message
    assert errors_of(TARGET, data) != []


_MISSING = object()


# A search for a target the loader accepts and the schema refuses. Each example is one of a few valid
# targets with up to five changes: a key set to a value from its pool (valid values and near misses), a key
# or a table removed, an unknown key added. A refusal by the schema of what the loader accepts is a bug in
# the schema; accepting what only loading can refuse (an unset variable, a missing file) is by design.
_ALGS = ["ES256", "EdDSA", "Ed448", "PS256", "${ALG}", "es256", "HS256", 256]
_URLS = [
    "https://as.example.com",
    "http://127.0.0.1:8765/callback",
    "HTTPS://as.example.com/token",
    " https://as.example.com",
    "h\ttt\nps:/\t/as.example.com",
    "https://as.example.com/#",
    "${URL}",
    "${URL}/token",
    "as.example.com",
    "https://as.example.com/#frag",
    "https://",
    "ftp://as.example.com",
    "${EMPTY}",
    "",
    3,
]
_TEXT = ["read", "", " ", "${SECRET}", "${EMPTY}", "${UNSET}", "a$${B}c", 7]
_PATHS = ["key.pem", "secret.txt", "empty.txt", "missing.txt", "", "${EMPTY}", "${KEY_FILE}", 1]
_KEYS = ["${KEY}", "not a key", "", "${EMPTY}", "${KEY_FILE}"]
_LOGIN = ["auto", "command", "Auto", "${EMPTY}", True]
_POOLS: dict[str, dict[str, list[Any]]] = {
    "": {
        "name": ["staging", "v1.2_x-y", "${NAME}", "env-${NAME}", "bad name", "", "-x", "${EMPTY}", 3],
        "timeout": [10, 0.5, 600, 600.0, 0, -1, 601, "10", True],
        "iat_max_age": [600, 1, 3600, 60.0, 0, 3601, 10.5, "600", False],
        "dpop_alg": _ALGS,
        "ca_file": _PATHS,
        "insecure": [True, False, "true", 1],
    },
    "authorization_server": {
        "issuer": _URLS,
        "token_endpoint": _URLS,
        "authorization_endpoint": _URLS,
        "introspection_endpoint": _URLS,
        "par_endpoint": _URLS,
        "allowed_origins": [[], ["https://login.example.com"], ["https://x.example/path"], "https://x.example", [1]],
    },
    "resource_server": {
        "url": _URLS,
        "method": ["GET", "post", "Patch", "DELETE", "FETCH", "${EMPTY}", 1],
        "body": _TEXT,
        "access_token": _TEXT,
        "access_token_file": _PATHS,
        "dpop_key": _KEYS,
        "dpop_key_file": _PATHS,
        "dpop_key_alg": _ALGS,
    },
    "client": {
        "id": ["my-client", "${NAME}", "", " ", "${EMPTY}", 5],
        "secret": _TEXT,
        "secret_file": _PATHS,
        "auth_method": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none", "mtls", "${EMPTY}"],
        "private_key_file": _PATHS,
        "private_key": _KEYS,
        "private_key_alg": _ALGS,
        "grant_type": ["client_credentials", "authorization_code", "refresh_token", "password", "${EMPTY}"],
        "scope": _TEXT,
        "redirect_uri": _URLS,
        "login": _LOGIN,
        "login_command": ["node login.js", "", "${EMPTY}"],
        "refresh_token": _TEXT,
        "refresh_token_file": _PATHS,
        "token_params": [{}, {"resource": "https://api.example.com/"}, {"n": 1}, "resource"],
        "authorization_params": [{}, {"audience": "${NAME}"}, {"a": {"b": "c"}}],
        "assertion_key": ["anything", 1],
    },
    "public_client": {
        "id": ["spa", "", "${NAME}", 1],
        "redirect_uri": _URLS,
        "login": _LOGIN,
        "login_command": ["node login.js", ""],
        "scope": _TEXT,
    },
}
_VALID_TARGETS: list[dict[str, Any]] = [
    BASE,
    {
        "name": "rs-only",
        "resource_server": {"url": "https://api.example.com", "access_token": "${SECRET}", "dpop_key_file": "key.pem"},
    },
    {
        "name": "jwt",
        "authorization_server": {
            "token_endpoint": "https://as.example.com/token",
            "authorization_endpoint": "https://as.example.com/authorize",
        },
        "client": {
            "id": "c",
            "auth_method": "private_key_jwt",
            "private_key": "${KEY}",
            "grant_type": "authorization_code",
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "login": "command",
            "login_command": "node login.js",
        },
    },
    {
        "name": "refresh",
        "timeout": 5,
        "authorization_server": {"token_endpoint": "https://as.example.com/token"},
        "client": {"id": "c", "auth_method": "none", "grant_type": "refresh_token", "refresh_token_file": "secret.txt"},
    },
]
_CHANGE = st.sampled_from(
    [(section, key) for section, pools in _POOLS.items() for key in pools] + [(s, None) for s in SECTIONS]
).flatmap(
    lambda where: st.tuples(
        st.just(where),
        st.sampled_from([*(_POOLS[where[0]][where[1]] if where[1] else [{}, "table"]), _MISSING, "unknown"]),
    )
)


@st.composite
def _targets(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from(_VALID_TARGETS)))
    for (section, key), value in draw(st.lists(_CHANGE, max_size=3)):
        table = data if not section else data.setdefault(section, {})
        if key is None:  # the whole table
            table = data
            key = section
        if not isinstance(table, dict):
            continue
        if value is _MISSING:
            table.pop(key, None)
        elif value == "unknown":
            table["colour"] = "blue"
        else:
            table[key] = copy.deepcopy(value)
    return data


def test_the_target_schema_accepts_every_target_the_loader_accepts(key_folder: tuple[Path, dict[str, str]]) -> None:
    folder, environ = key_folder
    seen = {"accepted": 0, "refused": 0}

    @settings(max_examples=800, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_targets())
    def search(data: dict[str, Any]) -> None:
        refused = loader_error(data, folder, environ)
        seen["refused" if refused else "accepted"] += 1
        if refused is None:
            assert errors_of(TARGET, data) == [], f"the loader accepts {data!r}"

    search()
    assert seen["accepted"] >= 100 and seen["refused"] >= 100, seen  # the search explores both sides


# --- the results schema --------------------------------------------------------------------------


def _run(report_dir: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [*CLI, "run", "--report-dir", str(report_dir), "-q", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode in (0, 1, 3), done.stdout[-2000:] + done.stderr
    results: dict[str, Any] = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    assert errors_of(RESULTS, results) == [], report_dir
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Three small runs against the embedded reference server: a defect, a baseline, and a target that is down."""
    base = tmp_path_factory.mktemp("schema-runs")
    ath, htm = ("--case", "rs-proof-ath-*"), ("--case", "*-proof-htm-*")
    found = {"defect": _run(base / "defect", "--reference-defect", "ath", *ath, "--case", "rs-proof-htm-*")}
    before = str(base / "defect" / "results.json")
    # against it: rs-proof-htm-wrong is new, the ath cases fixed, the AS's and PAR's htm cases not in the baseline
    # (its selection left them out)
    found["baseline"] = _run(base / "baseline", "--reference-defect", "htm", "--baseline", before, *ath, *htm)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = base / "down.toml"
    config.write_text(
        f'name = "down"\ntimeout = 2\n[authorization_server]\nissuer = "http://127.0.0.1:{port}"\n'
        f'[resource_server]\nurl = "http://127.0.0.1:{port}/r"\n[client]\nid = "c"\nsecret = "x"\n'
    )
    found["down"] = _run(base / "down", "--config", str(config), "--case", "rs-proof-ath-*")
    return found


def test_real_results_validate_members_may_be_added_and_what_consumers_rely_on_holds(
    runs: dict[str, dict[str, Any]],
) -> None:
    for results in runs.values():
        assert errors_of(RESULTS, results) == []
    assert runs["defect"]["summary"]["failed"] and runs["defect"]["findings"]
    marks = {c["baseline"] for c in runs["baseline"]["cases"]}
    assert {"new", "not in baseline", "fixed"} <= marks and runs["baseline"]["baseline"]["not_in_baseline"]
    down = runs["down"]
    assert down["preflight"]["ok"] is False and down["causes"] and down["summary"]["error"]
    # one test, so that the runs are made once under pytest-xdist too: members may be added, and what
    # consumers rely on is held
    results = runs["defect"]
    grown = copy.deepcopy(results)
    grown["later_member"] = {"any": ["thing"]}
    grown["cases"][0]["later_member"] = 1
    grown["target"]["later_member"] = True
    assert errors_of(RESULTS, grown) == []

    def broken(change: Any) -> list[str]:
        document = copy.deepcopy(results)
        change(document)
        return errors_of(RESULTS, document)

    assert broken(lambda d: d.pop("summary"))
    assert broken(lambda d: d.update(schema_version=4))
    assert broken(lambda d: d["summary"].update(pending=0))
    assert broken(lambda d: d["summary"].pop("info"))
    assert broken(lambda d: d["cases"][0].update(outcome="pass"))
    assert broken(lambda d: d["cases"][0].update(level="MUST NOT"))
    assert broken(lambda d: d["cases"][0].update(baseline="old"))
    for member in ("id", "section", "level", "actor", "outcome", "message"):
        assert broken(lambda d, m=member: d["cases"][0].pop(m)), member
    assert broken(lambda d: d.update(preflight={"ok": False}))
    assert broken(lambda d: d.update(started_at="yesterday"))
