"""`dpop-conformance client` end to end: real loopback judging servers, the reference client as the command.

The clean client passes; one defect switch fails its check with the scenario and redacted evidence in
results.json and report.html; a crash or a timeout is error (exit 3) with the output's tail; a target file of
its own kind; bad input in one line (exit 2); a baseline round trip; compare of two client runs; no secret in
any file written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest

from conformance.judge.client_checks import CHECKS
from conformance.run.cli import main
from conformance.run.client_results import FIXES
from conformance.schemas import load_schema

CLIENT = f"{sys.executable} -m conformance.reference.client"
ALL = ["--capability", "refresh_token", "--capability", "authorization_code", "--capability", "post"]


def _results(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, load_schema("results"))
    return document


def _cases(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(c["id"]): c for c in document["cases"]}  # type: ignore[attr-defined, index]


def _no_secrets(folder: Path, document: dict[str, object]) -> None:
    """No token, client secret or Authorization credential in any file written."""
    text = "".join(p.read_text(encoding="utf-8") for p in folder.iterdir() if p.is_file())
    for line in text.splitlines():
        assert "Basic ZH" not in line and '"access_token": "' not in line
    assert "eyJ" not in "".join(  # no access token (the judging AS issues JWTs)
        v
        for c in _cases(document).values()
        for e in c["evidence"]
        for r in e["requests"]
        for n, v in r["headers"]  # type: ignore[attr-defined]
        if n.lower() == "authorization"
    )


def test_the_clean_reference_client_exits_0_with_every_check_passed_or_skipped(tmp_path: Path) -> None:
    assert main(["client", "--command", CLIENT, *ALL, "--report-dir", str(tmp_path), "-q"]) == 0
    document = _results(tmp_path)
    outcomes = {c["outcome"] for c in _cases(document).values() if c["id"] != "bearer-token-type"}
    assert outcomes <= {"passed", "skipped"}
    assert {c["actor"] for c in _cases(document).values()} == {"client"}
    assert document["verdict"]["status"] == 0  # type: ignore[index]
    assert (tmp_path / "report.html").exists() and (tmp_path / "junit.xml").exists()


def test_one_defect_fails_its_check_with_the_scenario_and_redacted_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DPOP_CLIENT_DEFECTS", "htu-query")
    status = main(["client", "--command", CLIENT, "--report-dir", str(tmp_path), "--scenario", "resource-query"])
    assert status == 1
    document = _results(tmp_path)
    htu = _cases(document)["htu"]
    assert htu["outcome"] == "failed" and htu["level"] == "MUST" and htu["requirement"] == "RC-4.2-htu"
    assert "without query" in str(htu["quote"])
    assert htu["fix"] == FIXES["htu"] and "without query and fragment" in str(htu["fix"])
    (evidence, *_) = htu["evidence"]  # type: ignore[misc]
    assert evidence["scenario"] == "resource-query"
    (request,) = evidence["requests"]
    assert request["method"] == "GET" and "a=1" in request["url"]
    authorization = [v for n, v in request["headers"] if n.lower() == "authorization"]
    assert authorization and all(v.endswith("<redacted:credential>") for v in authorization)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="case-htu" data-outcome="failed"' in page and "resource-query" in page
    assert "send htu as the request URI without query and fragment" in page  # what to fix, as a server author reads it
    assert '<failure message="failed in scenario resource-query' in (tmp_path / "junit.xml").read_text()
    _no_secrets(tmp_path, document)


def test_a_crash_is_error_with_the_output_tail_and_exit_3(tmp_path: Path) -> None:
    crash = f"{sys.executable} -c \"import sys; print('boom at the start'); sys.exit(2)\""
    assert main(["client", "--command", crash, "--report-dir", str(tmp_path), "--scenario", "no-nonces"]) == 3
    document = _results(tmp_path)
    assert {c["outcome"] for c in _cases(document).values()} == {"error"}
    (scenario,) = document["client"]["scenarios"]  # type: ignore[index]
    assert "boom at the start" in scenario["output_tail"]


def test_a_timeout_is_error_and_exit_3(tmp_path: Path) -> None:
    sleeper = f'{sys.executable} -c "import time; time.sleep(30)"'
    args = ["client", "--command", sleeper, "--report-dir", str(tmp_path), "--scenario", "no-nonces", "--timeout", "1"]
    assert main(args) == 3
    (scenario,) = _results(tmp_path)["client"]["scenarios"]  # type: ignore[index]
    assert scenario["returncode"] is None and "timed out" in scenario["stopped"]


def test_a_client_target_file(tmp_path: Path) -> None:
    config = tmp_path / "client.toml"
    config.write_text(
        f'[client_under_test]\nname = "ref"\ncommand = "{CLIENT}"\ncapabilities = ["refresh_token"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["client", "--config", str(config), "--report-dir", str(out), "--scenario", "refresh*", "-q"]) == 0
    document = _results(out)
    assert document["target"]["name"] == "ref"  # type: ignore[index]
    assert [s["id"] for s in document["client"]["scenarios"]] == ["refresh"]  # type: ignore[index]
    jsonschema.validate({"client_under_test": {"command": "x", "capabilities": ["post"]}}, load_schema("client-target"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "one of them"),
        (["--command", "no-such-program-here"], "not found"),
        (["--command", CLIENT, "--case", "nope*"], "--case nope* matches no check"),
        (["--command", CLIENT, "--scenario", "nope"], "--scenario nope matches no scenario"),
        (["--command", CLIENT, "--timeout", "0"], "--timeout 0: give a positive number"),
        (["--command", CLIENT, "--baseline", "/nonexistent/b.json"], "/nonexistent/b.json"),
        (["--config", "/nonexistent/c.toml"], "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["client", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_a_bad_client_target_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[client_under_test]\ncommand = "x"\ncapabilities = ["teleport"]\n', encoding="utf-8")
    assert main(["client", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'teleport' is not one" in err
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"client_under_test": {"command": "x", "capabilities": ["teleport"]}}, load_schema("client-target")
        )


def test_a_baseline_round_trip_and_compare_of_two_client_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "baseline.json"
    common = ["client", "--command", CLIENT, "--scenario", "resource-query", "-q"]
    monkeypatch.setenv("DPOP_CLIENT_DEFECTS", "htu-query")
    assert main([*common, "--report-dir", str(tmp_path / "a"), "--write-baseline", str(base)]) == 1
    assert json.loads(base.read_text())["cases"]["htu"] == "failed"
    assert main([*common, "--report-dir", str(tmp_path / "b"), "--baseline", str(base)]) == 0  # known failure
    assert _cases(_results(tmp_path / "b"))["htu"]["baseline"] == "still failing"
    monkeypatch.setenv("DPOP_CLIENT_DEFECTS", "")
    assert main([*common, "--report-dir", str(tmp_path / "c"), "--baseline", str(base)]) == 0
    assert _cases(_results(tmp_path / "c"))["htu"]["baseline"] == "fixed"
    # another client's baseline is refused before anything runs
    other = ["client", "--command", CLIENT, "--capability", "post", "--baseline", str(base), "-q"]
    assert main(other) == 2 and "belongs to another client" in capsys.readouterr().err
    on_purpose = [*other, "--baseline-for-another-target", "--report-dir", str(tmp_path / "d")]
    assert main(on_purpose) == 0 and "used on purpose (--baseline-for-another-target)" in capsys.readouterr().out
    page = tmp_path / "compare.html"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c"), "--output", str(page)]) == 0
    assert "htu" in page.read_text(encoding="utf-8")


def test_every_check_has_a_concrete_fix() -> None:
    assert set(FIXES) == set(CHECKS), "a check without a fix, or a fix of no check"
    for check_id, fix in FIXES.items():
        assert re.search(r"\(§\d", fix), f"{check_id}: its fix names no section of RFC 9449"


def test_list_shows_the_checks_and_the_scenarios_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["client", "--list", "--case", "nonce*", "--capability", "post", "--scenario", "p*"]) == 0
    out = capsys.readouterr().out
    assert "nonce-origin" in out and "MUST" in out and "htu " not in out
    assert "post " in out and "no-nonces" not in out and "(needs --capability" not in out
    assert main(["client", "--list", "--scenario", "refresh"]) == 0
    assert "refresh_token" in capsys.readouterr().out
    assert main(["client", "--list", "--case", "nope"]) == 2
    assert "`dpop-conformance client --list` shows" in capsys.readouterr().err


def test_baseline_for_another_target_needs_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["client", "--command", CLIENT, "--baseline-for-another-target"]) == 2
    assert "applies to a --baseline file" in capsys.readouterr().err
