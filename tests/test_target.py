"""Target files: the documented shape loads, ${VAR} substitution works, and mistakes get one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.client.keys import DPoPKey, generate_key
from conformance.client.target import ConfigError, is_loopback_host, load_target, plain_http_warning

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


def pem_of(key: DPoPKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


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
    key_file.write_text(pem_of(generate_key("ES256")))
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


# --- secrets from files and from the environment ------------------------------------------------


def test_secret_file_is_read_and_its_trailing_newline_dropped(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret-from-a-file\n")
    text = EXAMPLE.replace('secret = "${DPOP_CLIENT_SECRET}"', f'secret_file = "{secret}"')
    target = load_target(write(tmp_path, text), environ={})
    assert target.client is not None and target.client.secret == "s3cret-from-a-file"
    assert ("s3cret-from-a-file", "client_secret") in target.secrets()
    assert "s3cret-from-a-file" not in repr(target), "a secret must not show in the target's repr"


def test_secret_file_path_may_come_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("mounted-secret")
    text = EXAMPLE.replace('secret = "${DPOP_CLIENT_SECRET}"', 'secret_file = "${SECRET_PATH}"')
    target = load_target(write(tmp_path, text), environ={"SECRET_PATH": str(secret)})
    assert target.client is not None and target.client.secret == "mounted-secret"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('secret_file = "{dir}/absent"', "[client] secret_file names {dir}/absent, which does not exist"),
        ('secret_file = "{dir}/empty"', "[client] secret_file names {dir}/empty, which is empty"),
        (
            'secret = "x"\nsecret_file = "{dir}/empty"',
            "[client] secret_file and secret are both given; keep one of them",
        ),
    ],
)
def test_secret_file_mistakes(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "empty").write_text("\n")
    text = EXAMPLE.replace('secret = "${DPOP_CLIENT_SECRET}"', line.format(dir=tmp_path))
    with pytest.raises(ConfigError) as excinfo:
        load_target(write(tmp_path, text), environ={})
    assert message.format(dir=tmp_path) in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_refresh_and_access_tokens_from_files(tmp_path: Path) -> None:
    (tmp_path / "rt").write_text("refresh-token-value\n")
    (tmp_path / "at").write_text("access-token-value\n")
    key = tmp_path / "dpop.pem"
    key.write_text(pem_of(generate_key("ES256")))
    text = (
        'name = "t"\n[resource_server]\nurl = "https://api.example.com/me"\n'
        f'access_token_file = "{tmp_path / "at"}"\ndpop_key_file = "{key}"\n'
        f'[client]\nid = "c"\nauth_method = "none"\ngrant_type = "refresh_token"\n'
        f'refresh_token_file = "{tmp_path / "rt"}"\n'
    )
    target = load_target(write(tmp_path, text), environ={})
    assert target.resource_server is not None and target.resource_server.access_token == "access-token-value"
    assert target.client is not None and target.client.refresh_token == "refresh-token-value"
    labels = dict(target.secrets())
    assert labels["access-token-value"] == "access_token" and labels["refresh-token-value"] == "refresh_token"


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_private_key_itself_from_the_environment(tmp_path: Path, form: str) -> None:
    import json

    key = generate_key("ES256")
    material = pem_of(key) if form == "pem" else json.dumps(key.private_jwk())
    text = EXAMPLE.replace(
        'secret = "${DPOP_CLIENT_SECRET}"\nauth_method = "client_secret_basic"',
        'private_key = "${CLIENT_KEY}"\nauth_method = "private_key_jwt"',
    )
    target = load_target(write(tmp_path, text), environ={"CLIENT_KEY": material})
    assert target.client is not None and target.client.private_key == material
    assert (material, "private_key") in target.secrets()
    assert material not in repr(target)


def test_a_wrong_private_key_stops_at_load_time_without_showing_it(tmp_path: Path) -> None:
    material = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n"
    text = EXAMPLE.replace(
        'secret = "${DPOP_CLIENT_SECRET}"\nauth_method = "client_secret_basic"',
        'private_key = "${CLIENT_KEY}"\nauth_method = "private_key_jwt"',
    )
    with pytest.raises(ConfigError) as excinfo:
        load_target(write(tmp_path, text), environ={"CLIENT_KEY": material})
    message = str(excinfo.value)
    assert "[client] private_key is not usable: the key is not a private key in JWK or PEM form" in message
    assert "bm90IGEga2V5" not in message and "\n" not in message


def test_a_key_of_the_wrong_curve_is_refused_at_load_time(tmp_path: Path) -> None:
    key = tmp_path / "p384.pem"
    key.write_text(pem_of(generate_key("ES384")))
    text = EXAMPLE.replace(
        'secret = "${DPOP_CLIENT_SECRET}"\nauth_method = "client_secret_basic"',
        f'private_key_file = "{key}"\nprivate_key_alg = "ES256"\nauth_method = "private_key_jwt"',
    )
    with pytest.raises(ConfigError, match=r"private_key_file is not usable: key file .* does not hold a P-256 key"):
        load_target(write(tmp_path, text), environ={})


# --- transport: TLS options and plain HTTP ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("10.0.0.1", False),
        ("192.168.1.2", False),
        ("as.example.com", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts_are_judged_as_written(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_plain_http_warns_only_off_loopback() -> None:
    assert plain_http_warning("x", "https://as.example.com/token") is None
    assert plain_http_warning("x", "http://127.0.0.1:8080/token") is None
    assert plain_http_warning("x", "http://localhost/token") is None
    warning = plain_http_warning("[authorization_server] token_endpoint", "http://as.example.com/token")
    assert warning is not None and "RFC 9449 §2" in warning and "https://" in warning


def test_target_names_each_plain_http_url_in_its_warnings(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'token_endpoint = "https://as.example.com/token"', 'token_endpoint = "http://as.example.com/token"'
    )
    target = load_target(write(tmp_path, text), environ={"DPOP_CLIENT_SECRET": "x" * 8})
    warnings = target.transport_warnings()
    assert len(warnings) == 1 and warnings[0].startswith("[authorization_server] token_endpoint http://as.example.com")
    # the public client's loopback redirect_uri is not a server the suite calls: no warning for it
    assert load_target(write(tmp_path, EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x" * 8}).transport_warnings() == []


def test_ca_file_and_insecure_keys(tmp_path: Path) -> None:
    import certifi

    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path(certifi.where()).read_bytes())  # any PEM bundle
    target = load_target(write(tmp_path, f'ca_file = "{ca}"\n' + EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x" * 8})
    assert target.ca_file == str(ca) and not target.insecure
    target = load_target(write(tmp_path, "insecure = true\n" + EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x" * 8})
    assert target.insecure and any("--insecure" in w for w in target.transport_warnings())
    with pytest.raises(ConfigError, match=r"ca_file names .*absent\.pem, which is not a readable file"):
        load_target(
            write(tmp_path, f'ca_file = "{tmp_path}/absent.pem"\n' + EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x"}
        )
    with pytest.raises(ConfigError, match="insecure must be true or false"):
        load_target(write(tmp_path, 'insecure = "yes"\n' + EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x"})
    # a file that is there but holds no PEM certificate: said when the file is loaded, naming it
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"ca_file names .*broken\.pem, which holds no PEM CA certificate"):
        load_target(write(tmp_path, f'ca_file = "{broken}"\n' + EXAMPLE), environ={"DPOP_CLIENT_SECRET": "x"})


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", ["timeout", "iat_max_age"])
def test_nan_and_inf_are_a_one_line_mistake_not_a_crash(tmp_path: Path, key: str, value: str) -> None:
    text = f"{key} = {value}\n" + EXAMPLE
    with pytest.raises(ConfigError) as excinfo:
        load_target(write(tmp_path, text), environ={"DPOP_CLIENT_SECRET": "x" * 8})
    assert f"{key} must be a finite number" in str(excinfo.value) and "\n" not in str(excinfo.value)
