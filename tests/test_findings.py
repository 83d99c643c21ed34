"""Findings grouped by cause (conformance/report/findings.py): one cause, one finding, worst first."""

from __future__ import annotations

from typing import Any

from conformance.report.findings import finding_groups, message_part

WRONG_STATUS = "POST https://as.example/token answers invalid_dpop_proof with HTTP 401, not 400"


def _case(case_id: str, outcome: str, cause: str = "", fix: str = "", message: str = "") -> dict[str, Any]:
    return {
        "id": case_id,
        "title": f"title of {case_id}",
        "outcome": outcome,
        "cause": cause,
        "fix": fix,
        "message": message,
    }


def test_one_wrong_status_code_is_one_finding_however_many_cases_show_it() -> None:
    message = (
        "Sent: x\nExpected: a refusal: HTTP 400\nGot: HTTP 401, body: {}\nReproduce: curl -i https://as.example/token"
    )
    cases = [_case(f"as-proof-{n}", "warning", WRONG_STATUS, "answer with 400", message) for n in range(35)]
    cases += [_case("as-token-type-dpop", "failed"), _case("as-proof-accepted", "passed")]
    groups = finding_groups(cases)
    assert [(g["outcome"], g["count"]) for g in groups] == [("failed", 1), ("warning", 35)]
    status = groups[1]
    assert status["cause"] == WRONG_STATUS and status["fix"] == "answer with 400"
    assert status["evidence"] == {
        "case": "as-proof-0",
        "got": "HTTP 401, body: {}",
        "curl": "curl -i https://as.example/token",
    }


def test_cases_without_a_named_cause_group_by_their_likely_cause() -> None:
    ids = ["as-htu-dot-segment", "rs-htu-percent-encoded", "as-htu-uppercase-scheme-host"]
    groups = finding_groups([_case(i, "warning") for i in ids] + [_case("as-unhinted-case", "warning")])
    assert groups[0]["count"] == 3 and "raw string" in groups[0]["cause"] and groups[0]["cases"] == ids
    assert groups[1]["cause"] == "title of as-unhinted-case"  # no cause known: the case on its own


def test_failures_and_warnings_of_one_cause_are_separate_findings() -> None:
    groups = finding_groups([_case("rs-proof-ath-hex", "warning"), _case("rs-proof-ath-missing", "failed")])
    assert [g["outcome"] for g in groups] == ["failed", "warning"]


def test_message_part_reads_one_labelled_line() -> None:
    assert message_part("Sent: a\nGot: HTTP 200\nReproduce: curl x", "Got") == "HTTP 200"
    assert message_part("no labels here", "Got") == ""


def test_the_grid_shows_hostile_ids_sections_and_algorithm_names_escaped_and_visible() -> None:
    from conformance.report.grid import measurement_charts, outcome_grid

    hostile = "rs-\x1b]0;pwned\x07-\u202e<img src=x>"
    cases = [
        {"id": hostile, "section": "4.3\x1b[2J", "actor": "RS", "outcome": "failed"},
        {
            "id": "as-advertised-algs-accepted",
            "section": "5",
            "actor": "AS",
            "outcome": "info",
            "measurements": {"algs_accepted": ["ES256\x1b[31m", "<b>x</b>"]},
        },
    ]
    page = outcome_grid(cases) + "".join(html for _, html in measurement_charts(cases))
    assert not {c for c in page if ord(c) < 32 or c == "\u202e"}
    assert "<img" not in page and "<b>x" not in page
    assert "rs-\\x1b]0;pwned\\x07-\\u202e&lt;img src=x&gt;" in page  # visible, like the terminal shows it
    assert "§4.3\\x1b[2J" in page and "ES256\\x1b[31m" in page
