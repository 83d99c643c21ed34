"""The requirement quotes: every case's requirement has one, and each quote bears out its keyword."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.judge.requirements import REQUIREMENTS, Requirement, requirement

ROOT = Path(__file__).resolve().parent.parent

#: The BCP 14 keywords (RFC 2119, RFC 8174), longest first so that "MUST NOT" is read before "MUST".
BCP14 = (
    "NOT RECOMMENDED",
    "SHALL NOT",
    "SHOULD NOT",
    "MUST NOT",
    "RECOMMENDED",
    "REQUIRED",
    "OPTIONAL",
    "SHOULD",
    "SHALL",
    "MUST",
    "MAY",
)
#: Any of them as a whole word, in upper case only (BCP 14 keywords count only in capitals).
BCP14_WORD = re.compile(r"\b(?:" + "|".join(BCP14) + r")\b")

#: Requirements no case declares yet, which cases are about to use.
UPCOMING = (
    "R-4.3-10",
    "R-8-1",
    "R-11.1-3",
    "RFC6750-2",
    "RFC6750-3.1",
    "RFC7519-4.1.4",
    "RFC7519-4.1.5",
    "RFC6749-6",
)


def listed_cases() -> list[dict[str, object]]:
    """The cases as `dpop-conformance list --format json` gives them."""
    listed = subprocess.run(
        [sys.executable, "-m", "conformance", "list", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    cases = json.loads(listed.stdout)
    assert isinstance(cases, list)
    assert cases, "the list command gave no cases"
    return cases


def test_every_case_requirement_has_a_quote() -> None:
    cases = listed_cases()
    for case in cases:
        assert {"id", "requirement", "level"} <= case.keys(), case
    missing = sorted({str(case["requirement"]) for case in cases} - REQUIREMENTS.keys())
    assert not missing, f"requirements of cases with no entry in conformance/judge/requirements.py: {missing}"


@pytest.mark.parametrize("req_id", UPCOMING)
def test_upcoming_requirements_are_there(req_id: str) -> None:
    assert req_id in REQUIREMENTS


@pytest.mark.parametrize("entry", REQUIREMENTS.values(), ids=list(REQUIREMENTS))
def test_entry_is_well_formed(entry: Requirement) -> None:
    assert REQUIREMENTS[entry.id] is entry, "the key and the entry's id differ"
    assert entry.source.strip(), "no source"
    assert entry.quote.strip(), "empty quote"
    assert "\n" not in entry.quote and "\r" not in entry.quote, "line break in the quote"
    assert entry.quote == " ".join(entry.quote.split()), "whitespace not collapsed"
    assert "`" not in entry.quote, "markdown left in the quote"


@pytest.mark.parametrize("entry", REQUIREMENTS.values(), ids=list(REQUIREMENTS))
def test_quote_bears_out_the_keyword(entry: Requirement) -> None:
    found = BCP14_WORD.findall(entry.quote)
    if entry.keyword == "shall":  # FAPI 2.0: ISO's lower-case verbal form of a requirement
        assert entry.source.startswith("FAPI") and re.search(r"\bshall\b", entry.quote), entry.quote
        return
    if entry.keyword == "defined":  # a definition of the protocol's messages, whatever SHOULD it also holds
        return
    if entry.keyword == "none":
        assert not found, f"keyword is none, yet the quote has {found}"
    else:
        assert entry.keyword in BCP14, f"{entry.keyword!r} is not a BCP 14 keyword"
        assert re.search(rf"\b{entry.keyword}\b", entry.quote), f"{entry.keyword} is not in the quote"


def test_requirement_looks_up_by_id() -> None:
    assert requirement("R-4.3-9") is REQUIREMENTS["R-4.3-9"]
    assert requirement("R-4.3-9").source == "RFC 9449 §4.3"


def test_unknown_requirement_names_the_id() -> None:
    with pytest.raises(KeyError, match="nope"):
        requirement("nope")


#: the highest case level each keyword supports (a sentence without a BCP 14 keyword asks nothing: info)
_MOST = {
    "defined": "MUST",
    "MUST": "MUST",
    "MUST NOT": "MUST",
    "REQUIRED": "MUST",
    "SHALL": "MUST",
    "SHALL NOT": "MUST",
    "shall": "MUST",
    "SHOULD": "SHOULD",
    "SHOULD NOT": "SHOULD",
    "RECOMMENDED": "SHOULD",
    "NOT RECOMMENDED": "SHOULD",
    "MAY": "MAY",
    "OPTIONAL": "MAY",
    "none": "MAY",
}
_RANK = {"MAY": 0, "SHOULD": 1, "MUST": 2}


def test_no_case_is_stricter_than_the_words_it_quotes() -> None:
    too_strict = [
        f"{case['id']} ({case['level']}) checks {case['requirement']}, whose words give at most "
        f"{_MOST[REQUIREMENTS[case['requirement']].keyword]}"
        for case in listed_cases()
        if _RANK[str(case["level"])] > _RANK[_MOST[REQUIREMENTS[str(case["requirement"])].keyword]]
    ]
    assert not too_strict, "\n".join(too_strict)


#: the highest level a server case may give for a requirement, by whose duty its words are (docs/cases.md, Levels)
_DUTY_CAP = {"server": "MUST", "client": "SHOULD", "unused": "MAY"}


def test_a_rule_on_the_client_is_at_most_a_warning_and_an_unused_claim_info() -> None:
    """Levels follow whose duty it is: a rule binding the key holder is at most a warning at a server, a claim RFC
    9449 does not use is info; a profile raises a level only through a requirement of its own."""
    assert {entry.duty for entry in REQUIREMENTS.values()} <= set(_DUTY_CAP)
    too_strict = []
    for case in listed_cases():
        duty = REQUIREMENTS[str(case["requirement"])].duty
        if _RANK[str(case["level"])] > _RANK[_DUTY_CAP[duty]]:
            too_strict.append(f"{case['id']} ({case['level']}) checks the {duty}'s duty: at most {_DUTY_CAP[duty]}")
    assert not too_strict, "\n".join(too_strict)
    # the rules' own examples: RSA key sizes (RFC 7518 §3.3), the claim types, exp and nbf
    assert REQUIREMENTS["RFC7518-3.3"].duty == "client"
    assert REQUIREMENTS["RFC7519-4.1.6"].duty == REQUIREMENTS["RFC7519-4.1.7"].duty == "client"
    assert REQUIREMENTS["RFC7519-4.1.4"].duty == REQUIREMENTS["RFC7519-4.1.5"].duty == "unused"
    assert REQUIREMENTS["FAPI2-SP rsa"].duty == "server"
