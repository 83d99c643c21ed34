"""Preflight: the happy path, once, before any case, so that a broken setup is never a verdict on the target.

Discovery (when the target file names an issuer), a token request with the configured client and grant,
a resource request without credentials (it must not succeed: else the URL is no protected resource), and a
resource request with that token (or the pre-issued one), nonce retries included. When the setup is
what failed (the client refused, the target unreachable, a TLS failure, a redirect, HTML where JSON
belongs, the resource asking for another scope or not there), `SetupFailure` says what was sent, what came
back, the likely cause and the fix, and no case is judged. A valid proof refused as a proof
(`invalid_dpop_proof`) is not a setup problem but the target's finding: the cases run, and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent, TokenSet
from conformance.client.request import Request
from conformance.client.transport import origin_of
from conformance.judge.session import DPoPSession
from conformance.judge.setup_problems import SetupProblem, setup_problem
from conformance.judge.verdicts import CouldNotJudge

__all__ = ["SetupFailure", "preflight"]


@dataclass
class SetupFailure(Exception):
    """The setup failed before any case: what was sent, what came back, why, and how to fix it."""

    cause: str  # one line: what went wrong (also the error cause of every case)
    fix: str  # one line: what to change
    sent: str = ""
    got: str = ""
    exchanges: list[Exchange] = field(default_factory=list)

    def __str__(self) -> str:
        return self.cause

    def lines(self) -> list[str]:
        """The few lines a person reads: the cause, what was sent and what came back, the fix."""
        found = [f"setup failed: {self.cause}"]
        if self.sent:
            found.append(f"  sent: {self.sent}")
        if self.got:
            found.append(f"  got: {self.got}")
        found.append(f"  fix: {self.fix}")
        return found

    def as_dict(self) -> dict[str, Any]:
        """For results.json `preflight`."""
        return {"ok": False, "cause": self.cause, "fix": self.fix, "sent": self.sent, "got": self.got}

    def could_not_judge(self) -> CouldNotJudge:
        """What every case says when it cannot run because the setup failed."""
        return CouldNotJudge(
            "not judged: the setup failed before any case: " + "; ".join(line.strip() for line in self.lines()),
            exchanges=self.exchanges,
            cause=f"the setup failed: {self.cause}",
            fix=self.fix,
        )


def _unanswered(ex: Exchange, what: str, sent: Sent) -> SetupFailure:
    error = ex.error or ""
    not_sent = error.startswith("not sent: ")
    error = error.removeprefix("not sent: ")
    if error.startswith("TLS:"):
        fix = "pass the CA with --ca-file FILE (or ca_file in the target file), or check that the port serves HTTPS"
        return SetupFailure(error, fix, what, "no answer", sent.exchanges)
    if not_sent and ("--max-requests" in error or "--deadline" in error):
        return SetupFailure(
            f"nothing could be sent: {error}", "raise --max-requests or --deadline", what, "nothing (not sent)"
        )
    if not_sent:  # the transport gave up on the server: it did not answer the requests before
        return SetupFailure(
            error.replace("the suite gave up on it", "so it did not answer the set-up's requests"),
            "check the URL and that the server runs and is reachable from here (and the target file's timeout)",
            what,
            "nothing (not sent)",
            sent.exchanges,
        )
    return SetupFailure(
        f"{ex.method} {ex.url} did not answer ({error})",
        "check the URL and that the server runs and is reachable from here (and the target file's timeout)",
        what,
        "no answer",
        sent.exchanges,
    )


def _wrong_place(ex: Exchange, what: str, sent: Sent, *, json_expected: bool) -> SetupFailure | None:
    """A redirect, a 404/405, or HTML where JSON belongs: the URL is not the endpoint."""
    status = ex.status or 0
    key = "the URL in the target file"
    if 300 <= status < 400:
        location = ex.header("Location") or "?"
        return SetupFailure(
            f"{ex.method} {ex.url} redirected ({status} to {location}); the suite follows no redirect on API calls",
            f"put the final URL in the target file ({key})",
            what,
            f"HTTP {status}, Location: {location}",
            sent.exchanges,
        )
    if status in (404, 405):
        return SetupFailure(
            f"{ex.method} {ex.url} answered {status}: there is no such endpoint",
            f"check {key}",
            what,
            ex.summary(),
            sent.exchanges,
        )
    content_type = (ex.header("Content-Type") or "").lower()
    if json_expected and "html" in content_type:
        return SetupFailure(
            f"{ex.method} {ex.url} answered {status} with HTML where a JSON token response belongs",
            f"check {key}: it names a web page (a login page, a proxy), not the token endpoint",
            what,
            f"HTTP {status}, Content-Type: {content_type}",
            sent.exchanges,
        )
    return None


def _check_token(dpop: DPoPSession) -> TokenSet | None:
    """The token request of the happy path: its tokens, or None when its refusal is a finding for the cases."""
    what = "a token request with the configured client, its grant and a valid proof"
    sent = dpop.request_token(Request(label="preflight: token request"))
    final = sent.final
    if final.error:
        raise _unanswered(final, what, sent)
    wrong = _wrong_place(final, what, sent, json_expected=True)
    if wrong:
        raise wrong
    problem = setup_problem(final, control=True)
    code = final.json_object().get("error")
    if problem is None and code in ("invalid_grant", "access_denied") and final.status in (400, 401):
        grant = dpop.target.client.grant_type if dpop.target.client else ""
        what_was_refused = "refresh token" if grant == "refresh_token" else "authorization code (or its login)"
        problem = SetupProblem(
            f"the {grant} grant was refused ({final.as_cause()})",
            f"check the configured {what_was_refused}: [client] refresh_token, redirect_uri, login",
        )
    if problem:
        raise SetupFailure(problem.cause, problem.fix, what, final.summary(), sent.exchanges)
    if final.status == 200 and isinstance(final.json_object().get("access_token"), str):
        return dpop.grants.tokens_or_error(sent)
    if final.status == 200:
        raise SetupFailure(
            f"{final.method} {final.url} answered 200 without an access_token",
            "check token_endpoint in the target file: it names something else than a token endpoint",
            what,
            final.summary(),
            sent.exchanges,
        )
    return None  # a refusal of a valid proof (or a server error): the cases judge it, not the preflight


def _check_protected(dpop: DPoPSession) -> None:
    """The resource must be protected: a request without credentials that gets 2xx, or an HTML page without a
    challenge, means the URL is a web page or an open URL (a login page, an unprotected path), where every "must
    refuse" case would be a false failure.
    """
    what = "the resource request without credentials (neither Authorization nor DPoP)"
    sent = dpop.call_resource("", Request(label="preflight: request without credentials", scheme=""))
    final = sent.final
    if final.error:
        raise _unanswered(final, what, sent)
    wrong = _wrong_place(final, what, sent, json_expected=False)
    if wrong:
        raise wrong
    if final.ok or _html_page(final):
        content_type = (final.header("Content-Type") or "?").split(";")[0].strip()
        page = " (an HTML page)" if "html" in content_type.lower() else ""
        raise SetupFailure(
            f"{final.method} {final.url.split('?', 1)[0]} answered {final.status}{page} to a request without any "
            "credentials: it is not a protected resource, so no refusal could be judged there",
            "set [resource_server] url to a URL that requires an access token (an API path, not a web page)",
            what,
            f"HTTP {final.status}, Content-Type: {content_type}",
            sent.exchanges,
        )


def _html_page(ex: Exchange) -> bool:
    """An HTML answer without a challenge: a web page (a login form, a proxy's page), not an API's answer."""
    return "html" in (ex.header("Content-Type") or "").lower() and not ex.headers("WWW-Authenticate")


def _check_resource(dpop: DPoPSession) -> None:
    _check_protected(dpop)
    what = "a resource request with a fresh DPoP-bound token and a valid proof"
    try:
        bound = dpop.bound_token()
    except CouldNotJudge:
        return  # judged by the cases (as-proof-accepted, and the resource cases say why they cannot run)
    sent = dpop.call_resource(bound.access_token, Request(label="preflight: resource request", key=bound.key))
    final = sent.final
    if final.error:
        raise _unanswered(final, what, sent)
    wrong = _wrong_place(final, what, sent, json_expected=False)
    if wrong:
        raise wrong
    problem = setup_problem(final, control=True)
    if problem:
        raise SetupFailure(problem.cause, problem.fix, what, final.summary(), sent.exchanges)
    # An invalid_token answer is not a setup problem for sure: RFC 9449 figure 16 answers a proof from another
    # key than the token's with invalid_token, so an AS that binds the wrong thumbprint (or a resource that
    # computes it wrongly) looks like this too. The cases run, and say which it is (rs-accepts-dpop-request
    # names the audience as the likely cause).


def preflight(dpop: DPoPSession) -> None:
    """Raise SetupFailure when the target's setup is broken; return when the cases can be judged."""
    server = dpop.target.authorization_server
    if server is not None and server.issuer and dpop.discovery.issuer_mismatch:
        raise SetupFailure(
            dpop.discovery.issuer_mismatch,
            "set [authorization_server] issuer to the metadata's issuer if that is the server you mean to test",
            f"a metadata request for the issuer {server.issuer}",
            "",
            dpop.discovery.exchanges,
        )
    foreign = dpop.discovery.foreign_endpoints() if server is not None and server.issuer else {}
    if foreign:
        where = sorted({origin_of(url) for url in foreign.values()})
        raise SetupFailure(
            f"the metadata puts endpoints on {', '.join(repr(o[:100]) for o in where)}, not the issuer's origin: "
            f"nothing is sent there ({', '.join(foreign)})",
            "if that origin is the server's own, list it in [authorization_server] allowed_origins, or give the "
            "endpoint in the target file",
            f"a metadata request for the issuer {server.issuer}" if server is not None else "",
            "",
            [],
        )
    if server is not None and server.issuer and dpop.metadata is None and not server.token_endpoint:
        raise SetupFailure(
            f"no authorization server metadata: {dpop.discovery.error}",
            "check [authorization_server] issuer, or give token_endpoint (and the other endpoints) directly",
            f"a metadata request for the issuer {server.issuer}",
            dpop.discovery.exchanges[-1].summary() if dpop.discovery.exchanges else "",
            dpop.discovery.exchanges,
        )
    if server is not None and dpop.target.client is not None:
        tokens = _check_token(dpop)
        if tokens is not None:
            dpop.grants.keep_bound(
                tokens
            )  # the resource cases use it (one token request fewer, one refresh token kept)
    if dpop.target.resource_server is not None:
        _check_resource(dpop)
