"""What a run against a target file will do, before it does it: which origins get which credentials, which
case groups run and which are skipped, and why. `dpop-conformance check` prints it; sending nothing.

The skip rules here mirror the ones the cases apply when they run (a case that cannot apply says why with
pytest.skip): what only the server's answers can tell (whether it demands nonces, say) is given as a
condition, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.client.origins import foreign
from conformance.client.target import Target
from conformance.client.transport import origin_of
from conformance.judge.catalog import CaseInfo
from conformance.judge.endpoints import ENDPOINTS, Endpoint

__all__ = ["CaseGroup", "Recipient", "case_groups", "recipients"]


@dataclass(frozen=True)
class Recipient:
    """One endpoint the run will send to, and what it will carry there."""

    what: str  # "token endpoint"
    url: str
    carries: tuple[str, ...]  # "client secret (HTTP Basic)", "access tokens", ...
    discovered: bool = False  # found in the metadata, not named by the target file


@dataclass
class CaseGroup:
    """Cases of one part of the RFC at one place, with how many run and why the others do not."""

    name: str
    run: int = 0
    conditional: dict[str, int] | None = None  # reason -> cases that run only where it holds
    skipped: dict[str, int] | None = None  # reason -> cases skipped for it

    def lines(self) -> list[str]:
        """`  run   12  §4.3 at the authorization server`, and one line per condition or reason to skip."""
        skipped = self.skipped or {}
        if not self.run and len(skipped) == 1:
            (why, n), *_ = skipped.items()
            return [f"  skip  {n:>3}  {self.name}: {why}"]
        found = [f"  run   {self.run:>3}  {self.name}"]
        found += [f"             {n:>3} of them only {why}" for why, n in (self.conditional or {}).items()]
        found += [f"  skip  {n:>3}  {self.name}: {why}" for why, n in skipped.items()]
        return found


def _client_credential(target: Target) -> str:
    client = target.client
    if client is None:
        return ""
    return {
        "client_secret_basic": "the client secret (HTTP Basic)",
        "client_secret_post": "the client secret (in the form)",
        "private_key_jwt": "client assertions (private_key_jwt)",
        "none": "the client id",
    }[client.auth_method]


#: what a discovered endpoint on another origin than the issuer's receives (conformance/client/origins.py)
_REFUSED = ("nothing: another origin than the issuer's (the run stops; allowed_origins lists origins to use)",)


def recipients(target: Target, metadata: dict[str, Any] | None = None) -> list[Recipient]:
    """Every endpoint the run will talk to, configured or (with `metadata`) discovered, and what it gets."""
    server = target.authorization_server
    found: list[Recipient] = []
    refused: list[Recipient] = []  # discovered on an origin that may receive nothing: the run stops

    def endpoint(name: str, *aliases: str) -> tuple[str | None, bool]:
        configured = getattr(server, name, None) if server else None
        if configured:
            return str(configured), False
        for key in (name, *aliases):
            value = (metadata or {}).get(key)
            if isinstance(value, str):
                if server is not None and server.issuer and foreign(value, server.issuer, server.allowed_origins):
                    refused.append(Recipient(f"{key} (not used)", value[:200], _REFUSED, True))
                    return None, False
                return value, True
        return None, False

    if server is not None and target.client is not None:
        if server.issuer:
            found.append(Recipient("issuer (metadata)", server.issuer, ("nothing: a GET of its metadata",)))
        grant = target.client.grant_type
        token_carries = [_client_credential(target), "DPoP proofs"]
        if grant == "refresh_token":
            token_carries.append("the configured refresh token (and the ones it rotates to)")
        if grant == "authorization_code" or target.public_client:
            token_carries.append("authorization codes and PKCE verifiers")
        if target.public_client:
            token_carries.append("the public client's refresh tokens")
        url, discovered = endpoint("token_endpoint")
        found.append(Recipient("token endpoint", url or "(to be discovered)", tuple(token_carries), discovered))
        if grant == "authorization_code" or target.public_client:
            url, discovered = endpoint("authorization_endpoint")
            login = ("client ids, PKCE challenges, dpop_jkt (a login follows its redirects)",)
            found.append(Recipient("authorization endpoint", url or "(to be discovered)", login, discovered))
        url, discovered = endpoint("introspection_endpoint")
        if url:
            carries = (_client_credential(target), "access tokens")
            found.append(Recipient("introspection endpoint", url, carries, discovered))
        url, discovered = endpoint("par_endpoint", "pushed_authorization_request_endpoint")
        if url and target.public_client:
            found.append(Recipient("PAR endpoint", url, ("the public client's id", "DPoP proofs"), discovered))
    if target.resource_server is not None:
        found.append(Recipient("resource", target.resource_server.url, ("access tokens", "DPoP proofs")))
    return found + refused


def _endpoint(info: CaseInfo) -> Endpoint | None:
    """The endpoint a case sends to, by its id's prefix; a profile's case, by its actor (the first endpoint of it)."""
    by_prefix = (e for e in ENDPOINTS.values() if info.id.startswith(e.prefix + "-"))
    by_actor = (e for e in ENDPOINTS.values() if e.actor == info.actor)
    return next(by_prefix, None) or next(by_actor, None)


def _group(info: CaseInfo) -> str:
    endpoint = _endpoint(info)
    if info.profile != "rfc9449" or endpoint is None:  # a profile's cases are grouped by profile
        return f"profile {info.profile}"
    section = info.section.split(".")[0] if info.section != "4.3" else "4.3"
    return f"fuzz cases at {endpoint.plan_where}" if "-fuzz-" in info.id else f"§{section} at {endpoint.plan_where}"


def _order(info: CaseInfo) -> tuple[int, list[int], str, str]:
    """Fixed cases by section, then the fuzz cases, then profiles; within a section by endpoint (its prefix)."""
    kind = 2 if info.profile != "rfc9449" else 1 if "-fuzz-" in info.id else 0
    section = [int(p) for p in info.section.split(".") if p.isdigit()]
    endpoint = _endpoint(info)
    return kind, section, endpoint.prefix.upper() if endpoint else info.actor, info.id


def _why_not(info: CaseInfo, target: Target, profiles: Iterable[str], has_par: bool) -> tuple[str, bool] | None:
    """(reason, conditional): why the case will not run, or where it runs only; None when it runs."""
    case_id = info.id
    if info.profile != "rfc9449" and info.profile not in profiles:
        return f"not selected (--profile {info.profile})", False
    endpoint = _endpoint(info)
    missing = endpoint.missing_from(target) if endpoint is not None else None
    if missing:
        return missing, False
    rs_only = target.authorization_server is None
    if rs_only and case_id in ("rs-advertised-algs-accepted",):
        return "an RS-only target has no AS to issue tokens for other keys", False
    needs_public = case_id.startswith(("par-", "as-par-", "as-refresh-")) or case_id in (
        "as-dpop-jkt-mismatch",
        "fapi2-dpop-jkt-supported",
    )
    if needs_public and target.public_client is None:
        return "the target file has no [public_client]", False
    if case_id.startswith(("par-", "as-par-")) and not has_par:
        return "where discovery finds a PAR endpoint (par_endpoint is not in the target file)", True
    if case_id == "as-introspection-cnf" and not (
        target.authorization_server and target.authorization_server.introspection_endpoint
    ):
        return "where discovery finds an introspection endpoint", True
    if (
        case_id.startswith("as-replay-")
        and target.client is not None
        and target.client.grant_type != "client_credentials"
    ):
        return "skipped: a replay at the token endpoint needs a grant that can be repeated (client_credentials)", False
    if "-nonce-" in case_id:
        return "where the server demands nonces (they are skipped where it accepts proofs without one)", True
    if case_id in ("as-metadata-algs", "as-advertised-algs-accepted", "as-proof-alg-not-advertised") and not (
        target.authorization_server and target.authorization_server.issuer
    ):
        return "no issuer in the target file, so no metadata to read", False
    return None


def case_groups(
    target: Target, cases: Iterable[CaseInfo], profiles: Iterable[str] = (), metadata: dict[str, Any] | None = None
) -> list[CaseGroup]:
    """The catalog in groups, with how many cases of each run against this target and why the others do not."""
    profiles = set(profiles)
    server = target.authorization_server
    has_par = bool(
        (server and server.par_endpoint)
        or (metadata or {}).get("pushed_authorization_request_endpoint")
        or (metadata or {}).get("par_endpoint")
    )
    groups: dict[str, CaseGroup] = {}
    for info in sorted(cases, key=_order):
        group = groups.setdefault(_group(info), CaseGroup(_group(info)))
        why = _why_not(info, target, profiles, has_par)
        if why is None:
            group.run += 1
        elif why[1]:
            group.run += 1
            group.conditional = group.conditional or {}
            group.conditional[why[0]] = group.conditional.get(why[0], 0) + 1
        else:
            group.skipped = group.skipped or {}
            group.skipped[why[0]] = group.skipped.get(why[0], 0) + 1
    return list(groups.values())


def origins(found: list[Recipient]) -> dict[str, list[str]]:
    """origin -> what it will receive, over every endpoint at that origin."""
    by_origin: dict[str, list[str]] = {}
    for recipient in found:
        if recipient.url.startswith("("):
            continue
        carried = [c for c in recipient.carries if c and not c.startswith("nothing")]
        if not carried:
            continue  # an origin that receives no credential is not listed
        items = by_origin.setdefault(origin_of(recipient.url), [])
        items.extend(c for c in carried if c not in items)
    return by_origin
