"""Target files: the documented shape loads, ${VAR} substitution works, and mistakes get one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.target import ConfigError, load_target

EXAMPLE = """
name = "staging"
[authorization_server]
issuer = "https://as.example.com"
token_endpoint = "https://as.example.com/token"
authorization_endpoint = "https://as.example.com/authorize"
[resource_server]
url = "https://api.example.com/me"
method = "GET"
[client]
id = "my-client"
secret = "${DPOP_CLIENT_SECRET}"
auth_method = "client_secret_basic"
grant_type = "client_credentials"
scope = "read"
[public_client]
id = "spa"
redirect_uri = "http://127.0.0.1:8765/callback"
login = "auto"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(text)
    return path


def test_the_documented_shape_loads_with_the_secret_from_the_environment(tmp_path: Path) -> None:
    target = load_target(write(tmp_path, EXAMPLE), environ={"DPOP_CLIENT_SECRET": "s3cret-value"})
    assert target.name == "staging"
    assert target.client is not None and target.client.secret == "s3cret-value"
    assert target.resource_server is not None and target.resource_server.method == "GET"
    assert target.public_client is not None and target.public_client.login == "auto"
    assert target.timeout == 10.0 and target.dpop_alg == "ES256"
    assert ("s3cret-value", "client_secret") in target.secrets()


def test_double_dollar_keeps_a_literal(tmp_path: Path) -> None:
    text = EXAMPLE.replace('"${DPOP_CLIENT_SECRET}"', '"a$${B}c"')
    target = load_target(write(tmp_path, text), environ={})
    assert target.client is not None and target.client.secret == "a${B}c"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("", ""), "[client] secret uses ${DPOP_CLIENT_SECRET}, which is not set in the environment"),
        (('method = "GET"', 'method = "FETCH"'), "[resource_server] method is 'FETCH'; expected one of: GET"),
        (('scope = "read"', 'scpoe = "read"'), "[client] scpoe is not a known key"),
        (('auth_method = "client_secret_basic"', 'auth_method = "mtls"'), "[client] auth_method is 'mtls'"),
        (
            ('url = "https://api.example.com/me"', 'url = "api.example.com/me"'),
            "[resource_server] url is 'api.example.com/me'; expected an absolute http:// or https:// URL",
        ),
        (('name = "staging"', "name = 3"), "name must be a string"),
        (('name = "staging"', ""), "name is required"),
        (
            ('grant_type = "client_credentials"', 'grant_type = "authorization_code"'),
            '[client] redirect_uri is required for grant_type = "authorization_code"',
        ),
        (('login = "auto"', 'login = "command"'), '[public_client] login_command is required when login = "command"'),
        (('id = "my-client"', ""), "[client] id is required"),
    ],
)
def test_mistakes_are_named_in_one_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = EXAMPLE.replace(*change) if change[0] else EXAMPLE
    with pytest.raises(ConfigError) as excinfo:
        load_target(write(tmp_path, text), environ={} if not change[0] else {"DPOP_CLIENT_SECRET": "x" * 8})
    text_of_error = str(excinfo.value)
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert text_of_error.startswith(str(tmp_path / "target.toml"))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_target(write(tmp_path, "name = "))
    with pytest.raises(ConfigError, match="no such file"):
        load_target(tmp_path / "absent.toml")


def test_private_key_jwt_needs_a_readable_key_file(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'auth_method = "client_secret_basic"',
        f'auth_method = "private_key_jwt"\nprivate_key_file = "{tmp_path / "nope.pem"}"',
    )
    with pytest.raises(ConfigError, match=r"private_key_file names .* which is not a readable file"):
        load_target(write(tmp_path, text), environ={"DPOP_CLIENT_SECRET": "x" * 8})


def test_cli_reports_a_config_error_in_one_line_with_status_2_and_sends_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.replace('scope = "read"', 'scpoe = "read"'))
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--config", str(path), "--report-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DPOP_CLIENT_SECRET": "secret-never-printed"},
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "[client] scpoe is not a known key" in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "secret-never-printed" not in done.stderr + done.stdout
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).parent.parent.joinpath("targets").glob("*.toml")), ids=lambda p: p.name
)
def test_example_target_files_load(path: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text("not read at load time")
    target = load_target(path, environ={"DPOP_CLIENT_SECRET": "example-secret", "DPOP_CLIENT_KEY_FILE": str(key_file)})
    assert target.name and target.client is not None


def test_extra_token_and_authorization_params(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'scope = "read"',
        'scope = "read"\ntoken_params = { resource = "${RES}" }\nauthorization_params = { prompt = "none" }',
    )
    target = load_target(write(tmp_path, text), environ={"DPOP_CLIENT_SECRET": "x" * 8, "RES": "https://api/"})
    assert target.client is not None
    assert target.client.token_params == {"resource": "https://api/"}
    assert target.client.authorization_params == {"prompt": "none"}
    with pytest.raises(ConfigError, match="token_params must be a table of strings"):
        load_target(
            write(tmp_path, EXAMPLE.replace('scope = "read"', "token_params = 3")),
            environ={"DPOP_CLIENT_SECRET": "x" * 8},
        )
