"""A client run's reports: results.json, report.html and junit.xml from a `ClientRun` (issue 30).

The same writer (report/results.py), renderer (report/html.py) and verdict (report/verdict.py) as the server
side. One record per check (actor "client"): its outcome is the worst over the scenarios that judged it (a
failure or warning wherever found; else an error, for a scenario that could not be judged leaves the check
unproven; else info or passed), and its evidence each non-passed finding with the scenario that provoked it and
the recorded request(s), through the redactor: tokens, Authorization values, the client secret and a proof
carrying a private jwk are masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from conformance.client.evidence import Redactor, mask_secret_members
from conformance.jose import PRIVATE_MEMBERS, JOSEError, decode_jws
from conformance.judge.catalog import RFC_BASE, CaseInfo
from conformance.judge.client_checks import CHECKS, ClientCheck, ReceivedRequest
from conformance.judge.requirements import REQUIREMENTS
from conformance.judge.verdicts import Outcome
from conformance.printable import printable
from conformance.report.baseline import Baseline
from conformance.report.html import render_report
from conformance.report.junit import skip_reason
from conformance.report.results import CaseRecord, ResultsWriter
from conformance.report.verdict import fail_on_of, gates
from conformance.run.client_runner import ClientRun, ScenarioRun

__all__ = ["FIXES", "ClientCaseRecord", "check_infos", "client_results", "run_redactor", "write_client_reports"]

#: the worst first: a violation wherever found decides; an unjudged scenario leaves the check unproven
_RANK = {
    Outcome.FAILED: 5,
    Outcome.WARNING: 4,
    Outcome.ERROR: 3,
    Outcome.INFO: 2,
    Outcome.PASSED: 1,
    Outcome.SKIPPED: 0,
}
_EVIDENCE_PER_CHECK = 6  # findings kept as evidence per check (the message counts the rest)
_BODY = 2000  # characters of a recorded body shown
_SECTION = re.compile(r"§\s*([0-9][0-9.]*[0-9]|[0-9])")
_AUTHORIZATION = re.compile(r"^(\s*\S+\s+)(.+)$")


#: what a client author changes when a check fails or warns: one concrete instruction per check id (the
#: judging half's checks offer none; tests/test_client_cli.py holds every check id to one)
FIXES: dict[str, str] = {
    "proof-present": (
        "send a DPoP header with a fresh proof on every token request and on every request with the DPoP-bound "
        "access token (§5, §7.1)"
    ),
    "one-dpop-header": "send exactly one DPoP header field, its value a single JWT with no comma or list (§4.3)",
    "typ": 'set the proof\'s JOSE header typ to exactly "dpop+jwt" (§4.2)',
    "alg": (
        "sign the proof with an asymmetric algorithm that fits the key (ES256 for a P-256 key, RS256/PS256 for an "
        "RSA key; never none or an HMAC alg) and name it in alg (§4.2)"
    ),
    "alg-advertised": (
        "read dpop_signing_alg_values_supported from the authorization server's metadata and sign with one of "
        "those algorithms (§5.1)"
    ),
    "jwk-public": (
        "put only the public key in the proof's jwk header: drop d, p, q, dp, dq, qi and k (export the public "
        "JWK) (§4.2)"
    ),
    "signature": (
        "sign the proof with the private key whose public half is in its jwk header, over the exact "
        "header.payload bytes sent (§4.2)"
    ),
    "claims-present": "put jti, htm, htu and iat in every proof's payload (§4.2)",
    "jti-unique": (
        "make a new jti for every proof, including the retry after a use_dpop_nonce challenge: build a new "
        "proof per request, never resend one (§4.2, §11.1)"
    ),
    "jti-entropy": (
        "draw jti from a CSPRNG with at least 96 bits (16 random bytes base64url-encoded, or a version 4 UUID) (§4.2)"
    ),
    "htm": 'set htm to the request\'s HTTP method exactly as sent, upper case ("POST", "GET") (§4.2)',
    "htu": "send htu as the request URI without query and fragment (scheme, host, port and path only) (§4.2)",
    "iat": (
        "set iat to the time the proof is made, in whole seconds since the epoch (not milliseconds), from an "
        "accurate clock (§4.2)"
    ),
    "iat-clock": (
        "when the server's Date header shows its clock differs from yours, set iat by the server's clock "
        "(offset = Date - your time) (§11.1)"
    ),
    "ath": (
        "set ath at the resource to base64url(SHA-256(the access token's ASCII bytes)) without padding, not hex "
        "and not of another token (§4.2)"
    ),
    "nonce": (
        "put in the nonce claim the exact value the server supplied in its DPoP-Nonce header, character for "
        "character; never a value no server supplied (§4.2, §8, §9)"
    ),
    "nonce-kept": ("keep the nonce each server last supplied and send it on your next request to that server (§8.2)"),
    "nonce-origin": (
        "keep nonces per server (per origin): send the authorization server's nonce only to it and the resource "
        "server's only to it (§8, §9)"
    ),
    "as-nonce-from-200": (
        "read DPoP-Nonce on every token response, a 200 included, and send that nonce on the next token request (§8.2)"
    ),
    "rs-nonce-from-200": (
        "read DPoP-Nonce on every resource response, a 200 included, and send that nonce on the next resource "
        "request (§9)"
    ),
    "nonce-retry": (
        'on 400 error="use_dpop_nonce" (token endpoint) or 401 WWW-Authenticate: DPoP error="use_dpop_nonce" '
        "(resource), retry once with a new proof carrying the DPoP-Nonce value; parse the challenge "
        "case-insensitively, in any position and header line (§8, §9)"
    ),
    "retry-bounded": (
        "retry a use_dpop_nonce challenge a bounded number of times (once or twice per request), then give up "
        "with an error (§8)"
    ),
    "auth-scheme": (
        'send a DPoP-bound token as "Authorization: DPoP <token>", not Bearer, also when token_type is written '
        "in another case (§7.1)"
    ),
    "key-binding": (
        "sign every resource proof with the key the access token was bound to at the token request: keep one "
        "key per token, do not make a new key per request (§7)"
    ),
    "refresh-same-key-public": (
        "a public client must refresh with the same key pair the refresh token was issued to: keep the key with "
        "the refresh token (§5)"
    ),
    "refresh-same-key-confidential": (
        "refresh with the key the tokens were issued to, unless you mean to rotate keys (a confidential "
        "client's choice) (§5)"
    ),
    "dpop-jkt": (
        "send dpop_jkt in the authorization request as the JWK SHA-256 thumbprint (RFC 7638) of the key that "
        "then signs the code's token request (§10)"
    ),
    "bearer-token-type": (
        'treat a token answer whose token_type is not "DPoP" as not DPoP-bound: do not send it as a DPoP token, '
        "or refuse it (§5)"
    ),
}


@dataclass
class ClientCaseRecord(CaseRecord):
    """A client check's record: a server case's, and the RFC's words, the outcome per scenario and the evidence."""

    quote: str = ""
    scenarios: dict[str, str] = field(default_factory=dict)  # scenario → outcome, where the check was judged
    evidence: list[dict[str, Any]] = field(default_factory=list)


def _section(check: ClientCheck) -> str:
    found = _SECTION.search(REQUIREMENTS[check.requirement].source)
    return found.group(1) if found else "4.2"


def check_infos() -> list[CaseInfo]:
    """Every client check as a catalog entry, for the --case / --exclude selectors (the server side's globs)."""
    return [
        CaseInfo(c.id, c.title, _section(c), c.level, "client", c.requirement, REQUIREMENTS[c.requirement].quote)
        for c in CHECKS.values()
    ]


def run_redactor(run: ClientRun, secret: str) -> Redactor:
    """Every credential the run saw: the client secret, and each token, code and refresh token the servers issued."""
    redactor = Redactor()
    redactor.add(secret, "client_secret")
    for scenario in run.scenarios:
        for request in scenario.requests:
            for name, value in request.form().items():
                if name in ("code", "code_verifier", "refresh_token", "client_secret"):
                    redactor.add(value, name)
            if request.answer is not None:
                for member, issued in request.answer.json().items():
                    if member in ("access_token", "refresh_token", "id_token") and isinstance(issued, str):
                        redactor.add(issued, member)
                for value in request.answer.header_values("location"):
                    redactor.add(dict(_query(value)).get("code"), "code")
    return redactor


def _query(url: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl, urlsplit

    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _header_shown(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        return _AUTHORIZATION.sub(r"\1<redacted:credential>", value)
    if lowered == "dpop":
        try:
            jwk = decode_jws(value.strip()).header.get("jwk")
        except (JOSEError, ValueError, RecursionError):
            return value
        if isinstance(jwk, dict) and PRIVATE_MEMBERS & set(jwk):
            return "<redacted:a proof whose jwk carries private key members>"
    return value


def _masked(text: str, redactor: Redactor) -> str:
    return printable(mask_secret_members(redactor.redact(text)), lines=True)


def _request_shown(request: ReceivedRequest, redactor: Redactor) -> dict[str, Any]:
    body = request.body.decode("utf-8", "replace")
    shown: dict[str, Any] = {
        "server": request.server,
        "method": request.method,
        "url": _masked(request.url, redactor),
        "headers": [[n, _masked(_header_shown(n, v), redactor)] for n, v in request.headers],
        "body": _masked(body[:_BODY] + (" …(cut)" if len(body) > _BODY else ""), redactor),
    }
    if request.answer is not None:
        shown["answer_status"] = request.answer.status
    return shown


def _evidence_text(evidence: Sequence[Mapping[str, Any]]) -> str:
    """The evidence as the report's pre-formatted block: each finding, then the request it is about."""
    lines: list[str] = []
    for item in evidence:
        lines.append(f"[{item['scenario']}] {item['outcome']}: {item['message']}")
        for request in item.get("requests", []):
            lines.append(f"  {request['server']} {request['method']} {request['url']}")
            lines.extend(f"    {name}: {value}" for name, value in request["headers"])
            if request["body"]:
                lines.append(f"    {request['body']}")
            if "answer_status" in request:
                lines.append(f"    -> answered {request['answer_status']}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _judged(run: ClientRun, check: str) -> list[tuple[ScenarioRun, Outcome]]:
    return [(s, s.results[check].outcome) for s in run.scenarios if check in s.results]


def _record(check: ClientCheck, info: CaseInfo, run: ClientRun, redactor: Redactor) -> ClientCaseRecord:
    judged = _judged(run, check.id)
    outcome = max((o for _, o in judged), key=lambda o: _RANK[o], default=Outcome.SKIPPED)
    per_scenario = {s.scenario: o.value for s, o in judged if o is not Outcome.SKIPPED}
    evidence: list[dict[str, Any]] = []
    bad = 0
    for scenario, scenario_outcome in judged:
        result = scenario.results[check.id]
        if scenario_outcome is Outcome.ERROR:
            bad += 1
            if len(evidence) < _EVIDENCE_PER_CHECK:
                evidence.append(
                    {
                        "scenario": scenario.scenario,
                        "outcome": "error",
                        "message": _masked(result.message, redactor),
                        "output_tail": _masked(scenario.output_tail, redactor),
                        "requests": [],
                    }
                )
            continue
        for finding in result.findings:
            if finding.outcome in (Outcome.PASSED, Outcome.SKIPPED):
                continue
            bad += 1
            if len(evidence) >= _EVIDENCE_PER_CHECK:
                continue
            requests = (
                [_request_shown(scenario.requests[finding.request], redactor)]
                if finding.request is not None and 0 <= finding.request < len(scenario.requests)
                else []
            )
            evidence.append(
                {
                    "scenario": scenario.scenario,
                    "outcome": finding.outcome.value,
                    "message": _masked(finding.message, redactor),
                    "requests": requests,
                }
            )
    worst = [e for e in evidence if e["outcome"] == outcome.value]
    if outcome is Outcome.SKIPPED:
        reasons = sorted({s.results[check.id].message for s, _ in judged})
        message = "; ".join(reasons) or "no scenario judged it (left out, or none ran)"
    elif outcome is Outcome.PASSED:
        message = "passed in " + ", ".join(sorted(per_scenario))
    else:
        first = worst[0] if worst else evidence[0]
        message = f"{outcome.value} in scenario {first['scenario']}: {first['message']}"
        if bad > 1:
            message += f" (and {bad - 1} more finding(s): see the evidence)"
    cause = fix = ""
    if outcome in (Outcome.FAILED, Outcome.WARNING):
        first = worst[0]
        cause = f"the client, in scenario {first['scenario']}: {first['message']}"
        fix = FIXES.get(check.id) or f"make the client meet RFC 9449 §{info.section} ({check.title}): {info.doc}"
    elif outcome is Outcome.ERROR:
        first = worst[0]
        cause = first["message"].split("; output:", 1)[0]
        fix = (
            "make the command follow the contract in this scenario (README.md, Judging a DPoP client): obtain a "
            "token, call the resource, twice, and exit 0; its output's tail is in the evidence"
        )
    measurements: dict[str, Any] = {}
    if check.id in ("iat", "iat-clock"):
        offsets = {s.scenario: s.clock_offset for s in run.scenarios if s.clock_offset is not None}
        if offsets:
            measurements["clock_offset_s"] = offsets
    return ClientCaseRecord(
        id=check.id,
        title=check.title,
        section=info.section,
        level=check.level.value,
        actor="client",
        outcome=outcome.value,
        message=_masked(message, redactor),
        duration_s=0.0,
        requirement=check.requirement,
        rfc_url=f"{RFC_BASE}#section-{info.section}",
        cause=_masked(cause, redactor),
        fix=_masked(fix, redactor),
        measurements=measurements,
        quote=info.doc,
        scenarios=per_scenario,
        evidence=evidence,
    )


def client_results(
    run: ClientRun,
    *,
    target: dict[str, Any],
    selected: Iterable[CaseInfo],
    secret: str,
    fail_on: str = "must",
    baseline: Baseline | None = None,
    selection: dict[str, Any] | None = None,
    started: float | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The results.json document of a client run, and report.html's details (the evidence, per check)."""
    redactor = run_redactor(run, secret)
    writer = ResultsWriter(
        target=target,
        fail_on=fail_on,
        baseline=baseline,
        selection=selection,
        # a client run draws no fuzz examples
        fuzz={"seed": None, "derandomized": True, "profile": "none", "examples_per_case": 0},
    )
    if started is not None:
        writer.started = started
    details: dict[str, dict[str, str]] = {}
    for info in selected:
        record = _record(CHECKS[info.id], info, run, redactor)
        if baseline is not None:
            record.baseline = baseline.mark(record.id, record.outcome)
        writer.record(record)
        details[info.id] = {"doc": f"RFC 9449 §{info.section}: {info.doc}", "evidence": _evidence_text(record.evidence)}
    document = writer.as_dict()
    document["client"] = {
        "received": {
            server: sum(1 for s in run.scenarios for r in s.requests if r.server == server) for server in ("AS", "RS")
        },
        "scenarios": [
            {
                "id": s.scenario,
                "returncode": s.returncode,
                "stopped": s.stopped,
                "seconds": round(s.seconds, 3),
                "requests": len(s.requests),
                "clock_offset_s": s.clock_offset,
                **(
                    {"output_tail": _masked(s.output_tail, redactor)}
                    if any(r.outcome is Outcome.ERROR for r in s.results.values())
                    else {}
                ),
            }
            for s in run.scenarios
        ],
    }
    return document, details


def _junit(results: Mapping[str, Any]) -> str:
    """junit.xml of a client run: one test case per check; a failure exactly when it gates, an error when it is
    one; a known failure skipped with the baseline's reason (report/junit.py), as the server side writes it."""
    fail_on = fail_on_of(results)
    cases = [c for c in results.get("cases", []) if isinstance(c, Mapping)]
    baseline_info = results.get("baseline") if isinstance(results.get("baseline"), Mapping) else None
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    body: list[str] = []
    for case in cases:
        outcome, mark = str(case.get("outcome")), str(case.get("baseline") or "")
        message = str(case.get("message", ""))
        inner = ""
        if outcome == "error":
            counts["errors"] += 1
            inner = f"<error message={quoteattr(message[:500])}>{escape(message)}</error>"
        elif gates(outcome, mark, fail_on):
            counts["failures"] += 1
            inner = f"<failure message={quoteattr(message[:500])}>{escape(message)}</failure>"
        elif outcome == "skipped" or (outcome in ("failed", "warning") and mark):
            counts["skipped"] += 1
            reason = message
            if mark and baseline_info is not None:
                known = Baseline(file=str(baseline_info.get("file", "")))
                reason = skip_reason(known, mark, outcome)
            inner = f"<skipped message={quoteattr(reason[:500])}/>"
        properties = "".join(
            f"<property name={quoteattr('dpop_' + key)} value={quoteattr(str(case.get(key, '')))}/>"
            for key in ("outcome", "level", "requirement", "baseline")
        )
        body.append(
            f'<testcase classname="dpop-conformance.client" name={quoteattr(str(case.get("id")))} time="0">'
            f"<properties>{properties}</properties>{inner}</testcase>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="dpop-conformance" '
        f'tests="{len(cases)}" failures="{counts["failures"]}" errors="{counts["errors"]}" '
        f'skipped="{counts["skipped"]}" time="{results.get("duration_s", 0)}">' + "".join(body) + "</testsuite>"
        "</testsuites>\n"
    )


def write_client_reports(results: Mapping[str, Any], details: Mapping[str, Mapping[str, str]], folder: Path) -> None:
    """results.json, report.html and junit.xml into `folder` (made)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "report.html").write_text(render_report(results, details), encoding="utf-8")
    (folder / "junit.xml").write_text(_junit(results), encoding="utf-8")
