"""The redactor: the suite's secrets always hidden; what the target hands out hidden only when it looks like a
credential, so a server cannot blank the evidence (issue 14, item 6)."""

from __future__ import annotations

import secrets

import pytest

from conformance.client import evidence
from conformance.client.evidence import Redactor, mask_secret_members


def test_the_suites_own_secrets_and_their_encodings_are_hidden() -> None:
    redactor = Redactor()
    redactor.add("s3cret value/+", "client_secret")
    text = redactor.redact("a s3cret value/+ b s3cret+value%2F%2B c s3cret%20value%2F%2B")
    assert "s3cret" not in text and text.count("<redacted:client_secret>") == 3


def test_short_or_spaced_values_the_target_hands_out_are_not_redactions() -> None:
    redactor = Redactor()
    for word in ("HTTP 200", "Expected", "refusal", "the token endpoint"):
        redactor.add(word, "cookie", learned=True)
    token = secrets.token_urlsafe(24)
    redactor.add(token, "access_token", learned=True)
    text = redactor.redact(f"Expected: a refusal\nGot: HTTP 200 from the token endpoint with {token}")
    assert text == "Expected: a refusal\nGot: HTTP 200 from the token endpoint with <redacted:access_token>"


def test_learned_values_are_capped() -> None:
    redactor = Redactor()
    values = [secrets.token_hex(12) for _ in range(2500)]
    for value in values:
        redactor.add(value, "cookie", learned=True)
    text = redactor.redact(" ".join(values))
    assert text.count("<redacted:cookie>") == 2000  # the first 2,000; the rest are the target's noise
    own = secrets.token_hex(12)
    redactor.add(own, "client_secret")  # the suite's own secrets are never capped
    assert redactor.redact(own) == "<redacted:client_secret>"


def test_the_longest_secret_wins_where_two_overlap() -> None:
    redactor = Redactor()
    redactor.add("abcdef", "client_secret")
    redactor.add("abcdefghijkl", "access_token")
    assert redactor.redact("abcdefghijkl abcdef") == "<redacted:access_token> <redacted:client_secret>"


def test_a_secret_member_of_a_cut_off_body_is_masked() -> None:
    cut = '{"token_type": "DPoP", "access_token": "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT'
    assert mask_secret_members(cut) == '{"token_type": "DPoP", "access_token": "<redacted:access_token>'
    whole = '{"refresh_token": "RRRR", "scope": "read"}'
    assert mask_secret_members(whole) == '{"refresh_token": "<redacted:refresh_token>", "scope": "read"}'


def test_without_the_automaton_the_redactor_hides_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyahocorasick is a C extension: where it cannot be installed, the direct search gives the same text."""
    values = [secrets.token_urlsafe(18) for _ in range(100)]
    text = " / ".join(v + " abcdefghijkl" for v in values) + " abcdef"

    def redacted() -> str:
        redactor = Redactor()
        redactor.add("abcdef", "client_secret")
        redactor.add("abcdefghijkl", "access_token")
        for value in values:
            redactor.add(value, "cookie", learned=True)
        return redactor.redact(text)

    with_automaton = redacted()
    monkeypatch.setattr(evidence, "_ahocorasick", None)
    assert redacted() == with_automaton
    assert with_automaton.count("<redacted:cookie>") == 100 and "abcdef" not in with_automaton
