"""Findings grouped by cause (conformance/report/findings.py): one cause, one finding, worst first, and each
finding with a cause and a fix."""

from __future__ import annotations

from typing import Any

from conformance.report.findings import finding_groups, grouping_cause, message_part

WRONG_STATUS = "POST https://as.example/token answers invalid_dpop_proof with HTTP 401, not 400"


def _case(
    case_id: str, outcome: str, cause: str = "", fix: str = "", message: str = "", *, shared: bool = False
) -> dict[str, Any]:
    return {
        "id": case_id,
        "title": f"title of {case_id}",
        "outcome": outcome,
        "cause": cause or f"POST https://as.example/token accepts what {case_id} sent (HTTP 200)",
        "fix": fix or f"refuse what {case_id} sends",
        "shared_cause": shared,
        "message": message,
    }


def test_one_wrong_status_code_is_one_finding_however_many_cases_show_it() -> None:
    message = (
        "Sent: x\nExpected: a refusal: HTTP 400\nGot: HTTP 401, body: {}\nReproduce: curl -i https://as.example/token"
    )
    cases = [
        _case(f"as-proof-{n}", "warning", WRONG_STATUS, "answer with 400", message, shared=True) for n in range(35)
    ]
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


def test_cases_without_a_shared_cause_group_by_their_likely_cause_else_stand_alone_with_their_own() -> None:
    ids = ["as-htu-dot-segment", "rs-htu-percent-encoded", "as-htu-uppercase-scheme-host"]
    groups = finding_groups([_case(i, "warning") for i in ids] + [_case("as-unhinted-case", "warning")])
    assert groups[0]["count"] == 3 and "raw string" in groups[0]["cause"] and groups[0]["cases"] == ids
    assert "RFC 3986" in groups[0]["fix"]  # the likely cause's own fix, not one case's
    alone = groups[1]
    assert alone["cause"] == "POST https://as.example/token accepts what as-unhinted-case sent (HTTP 200)"
    assert alone["fix"] == "refuse what as-unhinted-case sends"


def test_a_shared_cause_wins_over_the_likely_cause_and_the_commonest_fix_speaks_for_the_group() -> None:
    shared = "GET https://rs.example/me fails with HTTP 500 on requests it should refuse"
    cases = [
        _case("rs-proof-typ-jwt", "warning", shared, "refuse it with 401", shared=True),
        _case("rs-replay-identical", "warning", shared, "refuse a replay with invalid_dpop_proof", shared=True),
        _case("rs-proof-htm-wrong", "warning", shared, "refuse it with 401", shared=True),
    ]
    (group,) = finding_groups(cases)
    assert group["cause"] == shared and group["count"] == 3
    assert group["fix"] == "refuse it with 401"


def test_a_finding_always_has_a_cause_and_a_fix_and_never_the_title() -> None:
    bare = {"id": "as-unhinted-case", "title": "title of as-unhinted-case", "outcome": "failed", "message": ""}
    hinted = {**bare, "id": "as-proof-typ-jwt", "title": "title of as-proof-typ-jwt"}
    for group in finding_groups([bare, hinted, _case("as-other", "warning", shared=True)]):
        assert group["cause"] and group["fix"] and group["cause"] != group["fix"]
        assert not group["cause"].startswith("title of"), group
    assert grouping_cause(hinted)[0] == "the server does not check that typ is dpop+jwt"
    assert "no cause was recorded" in grouping_cause(bare)[0]


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
