"""Target files: TOML describing the servers under test, validated before any request is sent.

Every string value may use `${VAR}` to take a value from the environment (write `$${` for a literal
`${`), and every secret may instead be read from a file (`secret_file`, `access_token_file`, ...), so
that no secret ever has to be written into the target file or onto a command line. A missing or wrong
key raises `ConfigError` with one line naming the key and what is expected; the CLI prints it and exits
with status 2. See the README's "Target files" section for every key.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.client.ci_context import empty_variable_fix
from conformance.client.keys import SUPPORTED_ALGS, DPoPKey, KeyFileError, load_key, parse_key
from conformance.client.transport import ca_file_problem

__all__ = [
    "AUTH_METHODS",
    "CLIENT_CAPABILITIES",
    "GRANT_TYPES",
    "AuthorizationServer",
    "Client",
    "ClientUnderTest",
    "ConfigError",
    "PublicClient",
    "ResourceServer",
    "Target",
    "is_loopback_host",
    "load_client_target",
    "load_target",
    "parse_client_target",
    "parse_target",
    "plain_http_warning",
]

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
LOGIN_MODES = ("auto", "command")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """The target file is wrong; the message is one line that names the key and the fix."""


@dataclass(frozen=True)
class AuthorizationServer:
    """Where the AS is: its issuer (for discovery) and/or its endpoints."""

    issuer: str | None = None
    token_endpoint: str | None = None
    authorization_endpoint: str | None = None
    introspection_endpoint: str | None = None
    par_endpoint: str | None = None
    #: origins besides the issuer's that discovered endpoints may be on (they then receive credentials)
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceServer:
    """The protected resource the suite calls with DPoP-bound tokens.

    For an RS-only target, `access_token` is a pre-issued DPoP-bound token and `dpop_key_file` (or
    `dpop_key`, the key itself) the private key it is bound to.
    """

    url: str
    method: str = "GET"
    body: str | None = None
    access_token: str | None = field(default=None, repr=False)
    dpop_key_file: str | None = None
    dpop_key_alg: str | None = None
    dpop_key: str | None = field(default=None, repr=False)
    bound_key: DPoPKey | None = field(default=None, repr=False, compare=False)  # parsed from either of the two


@dataclass(frozen=True)
class Client:
    """The (usually confidential) client the suite plays."""

    id: str
    secret: str | None = field(default=None, repr=False)
    auth_method: str = "client_secret_basic"
    grant_type: str = "client_credentials"
    scope: str | None = None
    private_key_file: str | None = None
    private_key_alg: str | None = None
    redirect_uri: str | None = None
    login: str = "auto"
    login_command: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    token_params: dict[str, str] = field(default_factory=dict)
    authorization_params: dict[str, str] = field(default_factory=dict)
    private_key: str | None = field(default=None, repr=False)  # the key itself (JWK or PEM), e.g. from ${VAR}
    assertion_key: DPoPKey | None = field(default=None, repr=False, compare=False)  # parsed from either of the two


@dataclass(frozen=True)
class PublicClient:
    """A public client (no secret) for refresh-token binding and `dpop_jkt` cases."""

    id: str
    redirect_uri: str
    login: str = "auto"
    login_command: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Target:
    """A validated target file."""

    name: str
    authorization_server: AuthorizationServer | None
    resource_server: ResourceServer | None
    client: Client | None
    public_client: PublicClient | None = None
    timeout: float = 10.0
    dpop_alg: str = "ES256"
    source: str = "<inline>"
    ca_file: str | None = None  # extra CA certificates (PEM) trusted for this target's TLS
    insecure: bool = False  # TLS certificates are not verified at all
    base_dir: str = ""  # the target file's folder: relative paths were resolved there, login_command runs there
    iat_max_age: int = 600  # the policy limit on a proof's age (s): a wider iat window is a warning

    def secrets(self) -> list[tuple[str, str]]:
        """(value, label) of every secret in the file, for redaction."""
        found: list[tuple[str, str]] = []
        if self.resource_server:
            if self.resource_server.access_token:
                found.append((self.resource_server.access_token, "access_token"))
            if self.resource_server.dpop_key:
                found.append((self.resource_server.dpop_key, "private_key"))
        if self.client:
            if self.client.secret:
                found.append((self.client.secret, "client_secret"))
            if self.client.refresh_token:
                found.append((self.client.refresh_token, "refresh_token"))
            if self.client.private_key:
                found.append((self.client.private_key, "private_key"))
        return found

    def urls(self) -> list[tuple[str, str]]:
        """(key, URL) of every server URL the file names."""
        found: list[tuple[str, str]] = []
        server = self.authorization_server
        if server is not None:
            for key in ("issuer", "token_endpoint", "authorization_endpoint", "introspection_endpoint", "par_endpoint"):
                value = getattr(server, key)
                if value:
                    found.append((f"[authorization_server] {key}", value))
        if self.resource_server is not None:
            found.append(("[resource_server] url", self.resource_server.url))
        return found

    def transport_warnings(self) -> list[str]:
        """One line per transport risk: plain HTTP to a host that is not loopback, TLS not verified."""
        warnings = [w for key, url in self.urls() if (w := plain_http_warning(key, url))]
        if self.insecure:
            warnings.append(
                "TLS certificates are not verified (--insecure): anyone on the path can read the client "
                "credentials and tokens; pass the CA with --ca-file instead"
            )
        return warnings


def plain_http_warning(where: str, url: str) -> str | None:
    """A warning when `url` is plain HTTP to a host that is not loopback (RFC 9449 §2 requires HTTPS)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback_host(parts.hostname or ""):
        return None
    return (
        f"{where} {url} is plain HTTP to a host that is not loopback: RFC 9449 §2 says DPoP MUST be used with "
        "HTTPS, as proofs, client credentials and access tokens cross the network in the clear; use https://"
    )


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, `*.localhost` (RFC 6761 §6.3) and loopback IP literals (127.0.0.0/8, ::1).

    The host is judged as written, without a DNS lookup: the suite never resolves a name before the
    run has started.
    """
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- parsing ----------------------------------------------------------------------------------


def _read_toml(path: Path, kind: str) -> dict[str, Any]:
    """The TOML document of a target file (`kind`: "target" or "client target"); ConfigError in one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass the path of a {kind} file to --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the target file ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_target(path: str | Path, environ: Mapping[str, str] | None = None) -> Target:
    """Read, substitute and validate a target file."""
    path = Path(path)
    data = _read_toml(path, "target")
    return parse_target(data, source=str(path), environ=environ, base_dir=path.resolve().parent)


def parse_target(
    data: Mapping[str, Any],
    *,
    source: str = "<inline>",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Target:
    """Validate an already-parsed target table.

    Relative paths in it (secret_file, dpop_key_file, ca_file, ...) are resolved against `base_dir`, the
    folder of the target file, wherever the suite is started from; `login_command` runs there too.
    """
    if "client_under_test" in data:
        raise ConfigError(
            f"{source}: a client target file ([client_under_test]): judge it with `dpop-conformance client --config "
            f"{source}`"
        )
    env = os.environ if environ is None else environ
    reader = _Reader(source, env, base_dir or Path.cwd())
    top = reader.table(
        data,
        "",
        {
            "name",
            "timeout",
            "dpop_alg",
            "ca_file",
            "insecure",
            "iat_max_age",
            "authorization_server",
            "resource_server",
            "client",
            "public_client",
        },
    )
    name = reader.string(top, "", "name", required=True)
    assert name is not None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise reader.error(
            "", "name", "must be a short name of letters, digits, '.', '_' or '-' (it names the report folder)"
        )
    timeout = reader.number(top, "", "timeout", default=10.0)
    if timeout <= 0 or timeout > 600:
        raise reader.error("", "timeout", "must be a number of seconds between 0 and 600")
    dpop_alg = reader.choice(top, "", "dpop_alg", SUPPORTED_ALGS, default="ES256")
    ca_file = reader.path(top, "", "ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise reader.error("", "ca_file", f"names {ca_file}, which is not a readable file (PEM CA certificates)")
    problem = ca_file_problem(ca_file) if ca_file is not None else None
    if problem:
        raise reader.error("", "ca_file", f"names {ca_file}, which {problem}")
    insecure = reader.boolean(top, "", "insecure", default=False)
    iat_max_age = reader.number(top, "", "iat_max_age", default=600)
    if iat_max_age != int(iat_max_age) or not 1 <= iat_max_age <= 3600:
        raise reader.error(
            "", "iat_max_age", "must be a whole number of seconds from 1 to 3600 (the oldest proof you accept)"
        )

    as_table = reader.optional_table(top, "authorization_server", set(AuthorizationServer.__dataclass_fields__))
    authorization_server = None
    if as_table is not None:
        sect = "[authorization_server]"
        authorization_server = AuthorizationServer(
            issuer=reader.url(as_table, sect, "issuer"),
            token_endpoint=reader.url(as_table, sect, "token_endpoint"),
            authorization_endpoint=reader.url(as_table, sect, "authorization_endpoint"),
            introspection_endpoint=reader.url(as_table, sect, "introspection_endpoint"),
            par_endpoint=reader.url(as_table, sect, "par_endpoint"),
            allowed_origins=_origins(reader, as_table, sect),
        )
        if not (authorization_server.issuer or authorization_server.token_endpoint):
            raise reader.error(sect, "token_endpoint", "is required (or give issuer, to discover it from metadata)")

    rs_table = reader.optional_table(
        top,
        "resource_server",
        {
            "url",
            "method",
            "body",
            "access_token",
            "access_token_file",
            "dpop_key",
            "dpop_key_file",
            "dpop_key_alg",
        },
    )
    resource_server = None
    if rs_table is not None:
        sect = "[resource_server]"
        url = reader.url(rs_table, sect, "url", required=True)
        assert url is not None
        access_token = reader.secret(rs_table, sect, "access_token")
        key_alg = reader.choice(rs_table, sect, "dpop_key_alg", SUPPORTED_ALGS, default=None)
        key_file, key_text, bound_key = reader.private_key(rs_table, sect, "dpop_key", key_alg)
        if bool(access_token) != bool(key_file or key_text):
            missing = "dpop_key_file" if access_token else "access_token"
            raise reader.error(
                sect, missing, "is required too: a pre-issued access_token goes with the dpop_key_file it is bound to"
            )
        resource_server = ResourceServer(
            url=url,
            method=reader.choice(rs_table, sect, "method", HTTP_METHODS, default="GET", upper=True),
            body=reader.string(rs_table, sect, "body"),
            access_token=access_token,
            dpop_key_file=key_file,
            dpop_key_alg=key_alg,
            dpop_key=key_text,
            bound_key=bound_key,
        )

    client_table = reader.optional_table(
        top,
        "client",
        {f.name for f in Client.__dataclass_fields__.values()} | {"secret_file", "refresh_token_file"},
    )
    client = None
    if client_table is not None:
        client = _parse_client(reader, client_table)

    pc_table = reader.optional_table(top, "public_client", {"id", "redirect_uri", "login", "login_command", "scope"})
    public_client = None
    if pc_table is not None:
        sect = "[public_client]"
        pc_id = reader.string(pc_table, sect, "id", required=True)
        redirect_uri = reader.url(pc_table, sect, "redirect_uri", required=True)
        assert pc_id is not None and redirect_uri is not None
        login = reader.choice(pc_table, sect, "login", LOGIN_MODES, default="auto")
        login_command = reader.string(pc_table, sect, "login_command")
        if login == "command" and not login_command:
            raise reader.error(sect, "login_command", 'is required when login = "command"')
        public_client = PublicClient(pc_id, redirect_uri, login, login_command, reader.string(pc_table, sect, "scope"))

    if authorization_server is None:
        if resource_server is None or not resource_server.access_token:
            raise reader.error(
                "",
                "[authorization_server]",
                "table is required (with token_endpoint or issuer), unless [resource_server] gives a pre-issued "
                "access_token and its dpop_key_file (an RS-only target)",
            )
    else:
        _check_authorization_server(reader, authorization_server, client, public_client)
    return Target(
        name,
        authorization_server,
        resource_server,
        client,
        public_client,
        float(timeout),
        dpop_alg,
        source,
        ca_file=ca_file,
        insecure=insecure,
        base_dir=str(reader.base_dir),
        iat_max_age=int(iat_max_age),
    )


def _check_authorization_server(
    reader: _Reader, server: AuthorizationServer, client: Client | None, public_client: PublicClient | None
) -> None:
    """What a target with an authorization server needs besides: a client, and endpoints for its logins."""
    if client is None:
        raise reader.error("", "[client]", "table is required (with at least id)")
    can_authorize = bool(server.authorization_endpoint or server.issuer)
    if public_client is not None and not can_authorize:
        raise reader.error(
            "[authorization_server]",
            "authorization_endpoint",
            "is required for [public_client] (or give issuer, to discover it)",
        )
    if client.grant_type == "authorization_code" and not can_authorize:
        raise reader.error(
            "[authorization_server]",
            "authorization_endpoint",
            'is required for grant_type = "authorization_code" (or give issuer, to discover it)',
        )


def _parse_client(reader: _Reader, table: Mapping[str, Any]) -> Client:
    sect = "[client]"
    client_id = reader.string(table, sect, "id", required=True)
    assert client_id is not None
    auth_method = reader.choice(table, sect, "auth_method", AUTH_METHODS, default="client_secret_basic")
    grant_type = reader.choice(table, sect, "grant_type", GRANT_TYPES, default="client_credentials")
    secret = reader.secret(table, sect, "secret")
    key_alg = reader.choice(table, sect, "private_key_alg", SUPPORTED_ALGS, default=None)
    key_file, key_text, assertion_key = reader.private_key(table, sect, "private_key", key_alg)
    if auth_method in ("client_secret_basic", "client_secret_post") and not secret:
        raise reader.error(
            sect,
            "secret",
            f'is required for auth_method = "{auth_method}" (use "${{VAR}}" to read it from the environment, or '
            "secret_file to read it from a file)",
        )
    if auth_method == "private_key_jwt" and not (key_file or key_text):
        raise reader.error(
            sect,
            "private_key_file",
            'is required for auth_method = "private_key_jwt" (a JWK or PEM file; or private_key = "${VAR}" to '
            "take the key itself from the environment)",
        )
    redirect_uri = reader.url(table, sect, "redirect_uri")
    login = reader.choice(table, sect, "login", LOGIN_MODES, default="auto")
    login_command = reader.string(table, sect, "login_command")
    if grant_type == "authorization_code" and not redirect_uri:
        raise reader.error(sect, "redirect_uri", 'is required for grant_type = "authorization_code"')
    if login == "command" and not login_command:
        raise reader.error(sect, "login_command", 'is required when login = "command"')
    refresh_token = reader.secret(table, sect, "refresh_token")
    if grant_type == "refresh_token" and not refresh_token:
        raise reader.error(
            sect, "refresh_token", 'is required for grant_type = "refresh_token" (the refresh token to start from)'
        )
    return Client(
        id=client_id,
        secret=secret,
        auth_method=auth_method,
        grant_type=grant_type,
        scope=reader.string(table, sect, "scope"),
        private_key_file=key_file,
        private_key_alg=key_alg,
        private_key=key_text,
        assertion_key=assertion_key,
        redirect_uri=redirect_uri,
        login=login,
        login_command=login_command,
        refresh_token=refresh_token,
        token_params=reader.string_table(table, sect, "token_params"),
        authorization_params=reader.string_table(table, sect, "authorization_params"),
    )


class _Reader:
    """Typed access to TOML values with one-line errors that name the key."""

    def __init__(self, source: str, env: Mapping[str, str], base_dir: Path) -> None:
        self.source = source
        self.env = env
        self.base_dir = base_dir

    def path(self, table: Mapping[str, Any], section: str, key: str) -> str | None:
        """A file path, resolved against the target file's folder when it is relative."""
        value = self.string(table, section, key)
        if value is None or not value.strip():
            return value
        candidate = Path(value).expanduser()
        return str(candidate if candidate.is_absolute() else self.base_dir / candidate)

    def error(self, section: str, key: str, what: str) -> ConfigError:
        where = f"{section} {key}".strip()
        return ConfigError(f"{self.source}: {where} {what}")

    def table(self, data: Any, section: str, known: set[str]) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):  # pragma: no cover - tomllib always gives a table at top level
            raise self.error(section, "", "must be a table")
        unknown = sorted(set(data) - known)
        if unknown:
            hint = f"; known keys: {', '.join(sorted(known))}"
            raise self.error(section, unknown[0], f"is not a known key{hint}")
        return data

    def optional_table(self, top: Mapping[str, Any], name: str, known: set[str]) -> Mapping[str, Any] | None:
        if name not in top:
            return None
        value = top[name]
        if not isinstance(value, Mapping):
            raise self.error("", name, f"must be a table ([{name}])")
        return self.table(value, f"[{name}]", known)

    def string(self, table: Mapping[str, Any], section: str, key: str, *, required: bool = False) -> str | None:
        if key not in table:
            if required:
                raise self.error(section, key, "is required")
            return None
        value = table[key]
        if not isinstance(value, str):
            raise self.error(section, key, f"must be a string, not {type(value).__name__}")
        value = self._substitute(value, section, key)
        if required and not value.strip():
            raise self.error(section, key, "must not be empty")
        return value

    def secret(self, table: Mapping[str, Any], section: str, key: str) -> str | None:
        """A secret, given inline (usually as "${VAR}") or read from the file that `<key>_file` names."""
        file_key = f"{key}_file"
        inline = self.string(table, section, key)
        path = self.path(table, section, file_key)
        if inline is not None and path is not None:
            raise self.error(section, file_key, f"and {key} are both given; keep one of them")
        if path is None:
            return inline
        try:
            # a trailing newline is what `echo ... > file` and most editors add; it is not part of the secret
            value = Path(path).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise self.error(section, file_key, f"names {path}, which does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise self.error(section, file_key, f"names {path}, which cannot be read ({reason})") from None
        if not value:
            raise self.error(section, file_key, f"names {path}, which is empty")
        return value

    def private_key(
        self, table: Mapping[str, Any], section: str, key: str, alg: str | None
    ) -> tuple[str | None, str | None, DPoPKey | None]:
        """(file, text, parsed key) of a private key given as `<key>_file` (a path) or `<key>` (JWK or PEM).

        The key is parsed here, once, so that a wrong key stops the run before any request; the error
        names the key and never shows the key material.
        """
        file_key = f"{key}_file"
        path = self.path(table, section, file_key)
        text = self.string(table, section, key)
        if path is not None and text is not None:
            raise self.error(section, file_key, f"and {key} are both given; keep one of them")
        if path is not None and not Path(path).is_file():
            raise self.error(section, file_key, f"names {path}, which is not a readable file")
        try:
            if path is not None:
                return path, None, load_key(path, alg)
            if text is not None:
                return None, text, parse_key(text, alg, source="the key")
        except KeyFileError as exc:
            raise self.error(section, file_key if path is not None else key, f"is not usable: {exc}") from None
        return None, None, None

    def boolean(self, table: Mapping[str, Any], section: str, key: str, *, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(section, key, "must be true or false (without quotes)")
        return value

    def string_table(self, table: Mapping[str, Any], section: str, key: str) -> dict[str, str]:
        value = table.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise self.error(section, key, 'must be a table of strings, e.g. { resource = "https://api.example.com" }')
        return {name: self._substitute(v, section, f"{key}.{name}") for name, v in value.items()}

    def number(self, table: Mapping[str, Any], section: str, key: str, *, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(section, key, "must be a number")
        if not math.isfinite(value):  # TOML has nan and inf; no setting means either
            raise self.error(section, key, "must be a finite number (not nan or inf)")
        return float(value)

    def choice(
        self,
        table: Mapping[str, Any],
        section: str,
        key: str,
        allowed: tuple[str, ...],
        *,
        default: Any,
        upper: bool = False,
    ) -> Any:
        value = self.string(table, section, key)
        if value is None:
            return default
        if upper:
            value = value.upper()
        if value not in allowed:
            raise self.error(section, key, f"is {value!r}; expected one of: {', '.join(allowed)}")
        return value

    def url_list(self, table: Mapping[str, Any], section: str, key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(section, key, 'must be a list of URLs, e.g. ["https://login.example.com"]')
        return [self.url({key: v}, section, key) or "" for v in value]

    def url(self, table: Mapping[str, Any], section: str, key: str, *, required: bool = False) -> str | None:
        value = self.string(table, section, key, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(section, key, f"is {value!r}; expected an absolute http:// or https:// URL")
        if parts.fragment:
            raise self.error(section, key, "must not carry a #fragment")
        return value

    def _substitute(self, value: str, section: str, key: str) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            var = match.group(1)
            if var not in self.env:
                raise self.error(
                    section, key, f"uses ${{{var}}}, which is not set in the environment; export {var} first"
                )
            if not self.env[var]:
                raise self.error(
                    section, key, f"uses ${{{var}}}, which is set but empty; {empty_variable_fix(var, self.env)}"
                )
            return self.env[var]

        return _ENV_REF.sub(replace, value)


def _origins(reader: _Reader, table: Mapping[str, Any], section: str) -> tuple[str, ...]:
    """[authorization_server] allowed_origins: scheme://host:port of each URL, lower-cased."""
    origins = []
    for url in reader.url_list(table, section, "allowed_origins"):
        parts = urlsplit(url)
        if parts.path not in ("", "/") or parts.query:
            raise reader.error(section, "allowed_origins", f"names {url!r}; give origins only (scheme://host:port)")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


# --- client target files (issue 30) -----------------------------------------------------------

#: what a client under test may declare it can do; each adds scenarios (conformance/reference/judging/scenarios.py)
CLIENT_CAPABILITIES = ("refresh_token", "authorization_code", "post")
_CLIENT_KEYS = ("name", "command", "capabilities", "timeout")


@dataclass(frozen=True)
class ClientUnderTest:
    """A DPoP client to judge: its command (run once per scenario with the DPOP_* environment) and capabilities."""

    name: str
    command: str
    capabilities: tuple[str, ...] = ()
    timeout: float | None = None
    source: str = "<inline>"


def load_client_target(path: str | Path) -> ClientUnderTest:
    """Read and validate a client target file: a [client_under_test] table (schema client-target)."""
    path = Path(path)
    return parse_client_target(_read_toml(path, "client target"), source=str(path))


def parse_client_target(data: Mapping[str, Any], *, source: str = "<inline>") -> ClientUnderTest:
    """Validate a parsed client target file; every problem is one line naming the file and the key."""
    unknown = sorted(set(data) - {"client_under_test"})
    if unknown:
        hint = (
            " (a server's target file: judge it with `dpop-conformance run --config`)"
            if ({"authorization_server", "resource_server"} & set(data))
            else ""
        )
        raise ConfigError(
            f"{source}: unknown key {unknown[0]!r}: a client target file has only [client_under_test]{hint}"
        )
    table = data.get("client_under_test")
    if not isinstance(table, Mapping):
        raise ConfigError(f'{source}: no [client_under_test] table: give one with command = "..."')
    extra = sorted(set(table) - set(_CLIENT_KEYS))
    if extra:
        raise ConfigError(
            f"{source}: [client_under_test] has an unknown key {extra[0]!r}; the keys are: {', '.join(_CLIENT_KEYS)}"
        )
    command = table.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{source}: [client_under_test] command must be a non-empty string (the client's command)")
    capabilities = table.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise ConfigError(f"{source}: [client_under_test] capabilities must be a list of strings")
    for capability in capabilities:
        if capability not in CLIENT_CAPABILITIES:
            raise ConfigError(
                f"{source}: [client_under_test] capabilities: {capability!r} is not one; give any of "
                f"{', '.join(CLIENT_CAPABILITIES)}"
            )
    name = table.get("name", "client")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise ConfigError(
            f"{source}: [client_under_test] name must be letters, digits, '.', '_' or '-' (it names the report folder)"
        )
    timeout = table.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0
    ):
        raise ConfigError(f"{source}: [client_under_test] timeout must be a positive number of seconds")
    return ClientUnderTest(
        name, command, tuple(dict.fromkeys(capabilities)), float(timeout) if timeout else None, source
    )
