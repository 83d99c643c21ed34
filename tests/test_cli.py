"""The dpop-conformance command: serve, run against a target file, exit statuses, and no secret in any output."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.client.request import Request
from conformance.client.target import load_target
from conformance.jose import JOSEError, decode_jws

CLI = [sys.executable, "-m", "conformance"]


def cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`dpop-conformance serve --write-config` running in its own process; yields the target file."""
    config = tmp_path_factory.mktemp("serve") / "reference.toml"
    process = subprocess.Popen(
        [*CLI, "serve", "--nonce", "both", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not config.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert config.exists(), process.stderr.read() if process.stderr else ""
    yield config
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


@pytest.mark.slow
def test_serve_writes_a_ready_target_file_and_run_passes_against_it(served: Path, tmp_path: Path) -> None:
    target = load_target(served)
    assert target.authorization_server and target.authorization_server.token_endpoint
    # few fuzz examples: the point is that a served target file runs as it is, not what the fuzzer finds
    done = cli("run", "--config", str(served), "--report-dir", str(tmp_path / "out"), "--fuzz-examples", "5")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "conformant to every MUST" in done.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"report.html", "junit.xml", "results.json"}


@pytest.mark.slow
def test_no_secret_in_any_file_or_output_of_a_run(served: Path, tmp_path: Path) -> None:
    target = load_target(served)
    assert target.client and target.client.secret
    secret = target.client.secret
    done = cli("run", "--config", str(served), "--report-dir", str(tmp_path / "out"))
    basic = base64.b64encode(f"{target.client.id}:{secret}".encode()).decode()
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    outputs |= {str(p): p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert len(outputs) >= 5
    for name, text in outputs.items():
        assert secret not in text, f"the client secret appears in {name}"
        assert basic not in text, f"the Basic credentials appear in {name}"
        for candidate in re.findall(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", text):
            try:
                claims = decode_jws(candidate).payload
            except JOSEError:
                continue
            # access tokens carry cnf; proofs never do (one case sends a proof with typ at+jwt on purpose)
            assert "cnf" not in claims, f"a full access token appears in {name}"


def test_unreachable_target_gives_errors_and_status_3(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = tmp_path / "down.toml"
    config.write_text(f"""
name = "down"
timeout = 2
[authorization_server]
token_endpoint = "http://127.0.0.1:{port}/token"
[resource_server]
url = "http://127.0.0.1:{port}/resource"
[client]
id = "c"
secret = "unused-secret"
""")
    start = time.monotonic()
    baseline = tmp_path / "baseline.json"
    done = cli("run", "--config", str(config), "--report-dir", str(tmp_path / "out"), "--write-baseline", str(baseline))
    assert time.monotonic() - start < 60
    assert done.returncode == 3, done.stdout[-2000:]
    # a run that judged nothing is no baseline
    assert "baseline not written" in done.stdout and not baseline.exists()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["summary"]["failed"] == 0
    assert results["summary"]["error"] + results["summary"]["skipped"] == len(results["cases"])
    for case in results["cases"]:
        if case["outcome"] == "error":
            assert "did not answer" in case["message"], case
    assert "Traceback" not in done.stdout + done.stderr


def test_unknown_defect_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--reference-defect", "no-such-defect", "--report-dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown defect 'no-such-defect'" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_list_defects_names_each_switch() -> None:
    done = cli("serve", "--list-defects")
    assert done.returncode == 0
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"ath", "htm", "htu", "key-binding", "bearer-downgrade", "replay", "token-type"} <= names


def test_pytest_args_after_double_dash_select_cases(tmp_path: Path) -> None:
    done = cli("run", "--report-dir", str(tmp_path), "--", "-k", "rejects_proof_signed_by_other_key")
    assert done.returncode == 0, done.stdout[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert [c["id"] for c in results["cases"]] == ["rs-key-swap"]


def test_pytest_stopping_before_any_case_is_status_3_with_its_status(tmp_path: Path) -> None:
    """pytest refusing what came after -- (here a -k it cannot parse) is no verdict and no empty report."""
    done = cli("run", "-q", "--report-dir", str(tmp_path / "report"), "--", "-k", "(")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "pytest ended with status 4 before any case ran" in done.stderr
    assert not list((tmp_path / "report").glob("*"))  # nothing written, no scratch folder left


def _listed(*selectors: str) -> list[tuple[str, ...]]:
    done = cli("list", *selectors)
    assert done.returncode == 0, done.stderr
    return [tuple(line.split()[:4]) for line in done.stdout.splitlines() if line.strip()]


def test_list_selects_by_id_glob_section_actor_and_level() -> None:
    everything = _listed()
    htu = _listed("--case", "as-htu-*", "--exclude", "as-htu-exact")
    assert htu and {row[0] for row in htu} == {
        row[0] for row in everything if row[0].startswith("as-htu-") and row[0] != "as-htu-exact"
    }
    narrowed = _listed("--section", "4.3", "--actor", "rs", "--level", "MUST")
    assert narrowed and all(r[1] == "RS" and r[2] == "MUST" and r[3].startswith("§4.3") for r in narrowed)
    assert len(narrowed) == sum(1 for r in everything if r[1:3] == ("RS", "MUST") and r[3].startswith("§4.3"))
    both = _listed("--case", "rs-key-swap", "--case", "as-nonce-*")
    assert {r[0] for r in both} == {"rs-key-swap"} | {r[0] for r in everything if r[0].startswith("as-nonce-")}


@pytest.mark.parametrize(
    ("selector", "said"),
    [
        (["--case", "nope*"], "--case nope* matches no case"),
        (["--exclude", "as-htu-nope"], "--exclude as-htu-nope matches no case"),
        (["--section", "99"], "--section 99 matches no case"),
        (["--actor", "XS"], "--actor XS: give AS or RS"),
        (["--level", "MUSTN'T"], "--level MUSTN'T: give MUST, SHOULD or MAY"),
    ],
)
def test_a_selector_that_names_nothing_is_a_one_line_usage_error(
    tmp_path: Path, selector: list[str], said: str
) -> None:
    for command in (["list"], ["run", "--report-dir", str(tmp_path)]):
        done = cli(*command, *selector)
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "results.json").exists()


def test_run_selects_cases_by_id(tmp_path: Path) -> None:
    done = cli("run", "--report-dir", str(tmp_path), "--case", "rs-key-swap", "--case", "as-htu-exact")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert sorted(c["id"] for c in results["cases"]) == ["as-htu-exact", "rs-key-swap"]


@pytest.mark.parametrize(
    "variant",
    [
        "client_secret_post",
        "private_key_jwt",
        "private_key_from_environment",
        "secret_file",
        "authorization_code",
        "issuer_discovery_only",
    ],
)
@pytest.mark.slow
def test_suite_runs_with_each_client_configuration(tmp_path: Path, variant: str) -> None:
    """The suite is not tied to the default target file: other auth methods, grants and discovery work.

    Secrets given through the environment or a file (client secret, the private key itself) appear in
    no output of the run.
    """
    from cryptography.hazmat.primitives import serialization

    from conformance.client.keys import generate_key
    from conformance.reference import RunningServer, ServerSettings

    client_key = generate_key("ES256")
    key_pem = client_key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_file = tmp_path / "client.pem"
    key_file.write_text(key_pem)
    env: dict[str, str] = {}
    settings = ServerSettings(nonce="both", jwt_client_jwks=(client_key.public_jwk(),))
    with RunningServer(settings) as server:
        text = server.target_toml()
        if variant == "client_secret_post":
            text = text.replace('"client_secret_basic"', '"client_secret_post"')
        elif variant == "private_key_jwt":
            text = text.replace(f'id = "{settings.client_id}"', f'id = "{settings.jwt_client_id}"')
            text = text.replace(f'secret = "{settings.client_secret}"', f'private_key_file = "{key_file}"')
            text = text.replace('"client_secret_basic"', '"private_key_jwt"')
        elif variant == "private_key_from_environment":
            text = text.replace(f'id = "{settings.client_id}"', f'id = "{settings.jwt_client_id}"')
            text = text.replace(f'secret = "{settings.client_secret}"', 'private_key = "${TEST_CLIENT_KEY}"')
            text = text.replace('"client_secret_basic"', '"private_key_jwt"')
            env["TEST_CLIENT_KEY"] = key_pem
        elif variant == "secret_file":
            (tmp_path / "client-secret").write_text(settings.client_secret + "\n")
            text = text.replace(f'secret = "{settings.client_secret}"', f'secret_file = "{tmp_path / "client-secret"}"')
        elif variant == "authorization_code":
            text = text.replace(
                'grant_type = "client_credentials"',
                f'grant_type = "authorization_code"\nredirect_uri = "{settings.redirect_uri}"',
            )
        else:  # only the issuer: every endpoint comes from the metadata
            text = "\n".join(line for line in text.splitlines() if not line.startswith(("token_endpoint", "author")))
        config = tmp_path / "target.toml"
        config.write_text(text)
        # the fixed cases of every section but §4.3's altered proofs: each asks for tokens with this client in
        # its own way (grants, refreshes, codes, PAR, controls); the 150 altered proofs of §4.3 ask as the
        # controls do, and the default client runs them in every other test (the fuzz cases add nothing here)
        sections = [arg for n in ("5", "6", "7", "8", "9", "10", "11") for arg in ("--section", n)]
        done = cli(
            "run", "--config", str(config), "--report-dir", str(tmp_path / "out"), *sections,
            "--", "-m", "not fuzz", env=env,
        )  # fmt: skip
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert done.returncode == 0, [(c["id"], c["message"]) for c in results["cases"] if c["outcome"] != "passed"]
    assert {c["outcome"] for c in results["cases"]} <= {"passed", "skipped"}
    assert results["summary"]["passed"] > 70
    outputs = [
        done.stdout,
        done.stderr,
        *(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()),
    ]
    private_d = client_key.private_jwk()["d"]
    # the base64 of the PKCS#8 body past its fixed ASN.1 prefix (which every P-256 key shares): the secret part
    key_body = "".join(key_pem.splitlines()[1:-1])[48:]
    for text_of_output in outputs:
        assert settings.client_secret not in text_of_output
        assert private_d not in text_of_output and key_body[:40] not in text_of_output.replace("\n", ""), variant


@pytest.mark.slow
def test_pytest_runs_the_cases_through_the_plugin_entry_point(served: Path, tmp_path: Path) -> None:
    from conformance.run.cases_folder import locate_cases

    results = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(locate_cases()),
            "--dpop-config",
            str(served),
            "--dpop-results",
            str(results),
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert json.loads(results.read_text())["summary"]["failed"] == 0


def _outcomes_by_actor(results: dict[str, object]) -> dict[str, set[str]]:
    by_actor: dict[str, set[str]] = {"AS": set(), "RS": set()}
    for case in results["cases"]:  # type: ignore[attr-defined]
        by_actor[case["actor"]].add(case["outcome"])
    return by_actor


@pytest.mark.slow
def test_rs_only_target_with_a_pre_issued_token(tmp_path: Path) -> None:
    """A team that owns only the resource server: a pre-issued token and its key, no AS in the file."""
    from cryptography.hazmat.primitives import serialization

    from conformance.client.flow import ClientAuth, DPoPClient
    from conformance.client.keys import generate_key
    from conformance.reference import RunningServer, ServerSettings

    key = generate_key("ES256")
    key_file = tmp_path / "dpop-key.pem"
    key_file.write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with RunningServer(ServerSettings(nonce="rs")) as server:
        client = DPoPClient()
        auth = ClientAuth(server.settings.client_id, "client_secret_basic", server.settings.client_secret)
        token = client.tokens_from(
            client.token_request(
                f"{server.base_url}/token",
                {"grant_type": "client_credentials"},
                auth,
                Request(label="token request", key=key),
            )
        ).access_token
        client.close()
        config = tmp_path / "rs-only.toml"
        config.write_text(
            f'name = "rs-only"\n[resource_server]\nurl = "{server.base_url}/resource"\n'
            f'access_token = "${{TEST_ACCESS_TOKEN}}"\ndpop_key_file = "{key_file}"\n'
        )
        done = subprocess.run(
            [*CLI, "run", "--config", str(config), "--report-dir", str(tmp_path / "out"), "--fuzz-examples", "5"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TEST_ACCESS_TOKEN": token},
        )
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert done.returncode == 0, [
        (c["id"], c["message"]) for c in results["cases"] if c["outcome"] not in ("passed", "skipped")
    ]
    by_actor = _outcomes_by_actor(results)
    assert by_actor["AS"] == {"skipped"}
    assert "passed" in by_actor["RS"] and by_actor["RS"] <= {"passed", "skipped"}
    as_skip = next(c["message"] for c in results["cases"] if c["actor"] == "AS")
    assert "no [authorization_server]" in as_skip
    outputs = [
        done.stdout,
        done.stderr,
        *(p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()),
    ]
    assert not any(token in text for text in outputs), "the pre-issued access token leaked into an output"


@pytest.mark.slow
def test_as_only_target(tmp_path: Path) -> None:
    """A team that owns only the authorization server: no [resource_server], so resource cases are skipped."""
    from conformance.reference import RunningServer, ServerSettings

    with RunningServer(ServerSettings(nonce="as")) as server:
        text = server.target_toml()
        start = text.index("[resource_server]")
        config = tmp_path / "as-only.toml"
        config.write_text(text[:start] + text[text.index("[client]") :])
        # few fuzz examples: the point is which actor's cases run, not what the fuzzer finds
        done = cli("run", "--config", str(config), "--report-dir", str(tmp_path / "out"), "--fuzz-examples", "5")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert done.returncode == 0, [
        (c["id"], c["message"]) for c in results["cases"] if c["outcome"] not in ("passed", "skipped")
    ]
    by_actor = _outcomes_by_actor(results)
    assert by_actor["RS"] == {"skipped"}
    assert "passed" in by_actor["AS"]


@pytest.mark.slow
def test_several_targets_in_one_command_with_a_comparison(tmp_path: Path) -> None:
    from conformance.reference import RunningServer, ServerSettings

    with (
        RunningServer(ServerSettings(nonce="none")) as clean,
        RunningServer(ServerSettings(nonce="none", defects=frozenset({"replay"}))) as lenient,
    ):
        first, second = tmp_path / "clean.toml", tmp_path / "lenient.toml"
        first.write_text(clean.target_toml(name="clean"))
        second.write_text(lenient.target_toml(name="lenient"))
        done = cli(
            "run",
            "--config",
            str(first),
            "--config",
            str(second),
            "--report-dir",
            str(tmp_path / "out"),
            "--",
            "-m",
            "not fuzz",
        )
    assert done.returncode == 0, done.stdout[-2000:]
    page = (tmp_path / "out" / "compare.html").read_text()
    assert "clean" in page and "lenient" in page and "accepted" in page  # the replay row differs
    for name in ("clean", "lenient"):
        assert (tmp_path / "out" / name / "results.json").exists()


@pytest.mark.slow
def test_parallel_run_gives_the_same_verdicts_as_a_serial_one(tmp_path: Path) -> None:
    """Cases that share server state (nonces, replay caches, the iat window) must not interfere across workers."""
    verdicts = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        done = cli(
            "run",
            "--reference-nonce",
            "both",
            "--reference-defect",
            "replay",
            "--reference-defect",
            "as-nonce-status",
            "--workers",
            workers,
            "--fuzz-seed",
            "1",
            "--report-dir",
            str(out),
            # the sections whose cases share server state (§8, §9 nonces; §11 replay and freshness), spread
            # over the workers; tests/test_concurrency.py compares the whole catalog side by side and serially
            *("--section", "8", "--section", "9", "--section", "11"),
        )
        results = json.loads((out / "results.json").read_text())
        verdicts.append({c["id"]: c["outcome"] for c in results["cases"]})
        assert done.returncode == 0, done.stdout[-2000:]
    assert verdicts[0] == verdicts[1]
    assert {"warning", "info"} <= set(verdicts[0].values())


@pytest.mark.slow
def test_fuzz_cases_are_derandomised_unless_a_seed_explores(tmp_path: Path) -> None:
    """Without --fuzz-seed the fuzz examples are the same every run; `random` draws a seed and prints it."""
    default = cli("run", "--report-dir", str(tmp_path / "default"), "--fuzz-examples", "5", "--", "-m", "fuzz")
    assert default.returncode == 0, default.stdout[-2000:]
    assert "derandomised" in default.stdout
    fuzz = json.loads((tmp_path / "default" / "results.json").read_text())["fuzz"]
    assert fuzz["seed"] is None and fuzz["derandomized"] is True
    explored = cli(
        *("run", "--report-dir", str(tmp_path / "random"), "--fuzz-seed", "random", "--fuzz-examples", "5"),
        *("--", "-m", "fuzz"),
    )
    seed = json.loads((tmp_path / "random" / "results.json").read_text())["fuzz"]["seed"]
    assert isinstance(seed, int) and f"fuzz seed {seed} (replay with --fuzz-seed {seed})" in explored.stdout
    wrong = cli("run", "--fuzz-seed", "-1")
    assert wrong.returncode == 2 and "not a seed" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.slow
def test_the_terminal_is_short_names_every_finding_and_colours_only_when_asked(tmp_path: Path) -> None:
    defects = ["--reference-defect", "ath", "--reference-defect", "htu-normalization"]
    done = cli("run", "--report-dir", str(tmp_path / "a"), *defects, "--", "-m", "not fuzz")
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    lines = done.stdout.splitlines()
    assert len(lines) <= 60, done.stdout
    for case in results["cases"]:
        if case["outcome"] in ("failed", "warning"):
            assert case["id"] in done.stdout, case["id"]
    assert "\x1b" not in done.stdout  # not a terminal: no colour
    # one cause for everything (every valid proof refused): a few lines
    broken = cli(
        "run", "--report-dir", str(tmp_path / "b"), "--reference-defect", "htu-https-assumed", "--", "-m", "not fuzz"
    )
    assert broken.returncode in (1, 3) and len(broken.stdout.splitlines()) <= 40, broken.stdout
    quiet = cli("run", "-q", "--color", "always", "--report-dir", str(tmp_path / "c"), *defects, "--", "-k", "ath")
    # -q: the verdict (coloured) and where the reports are, nothing else
    assert quiet.stdout.count("\n") == 2 and quiet.stdout.startswith("\x1b[1;31m"), quiet.stdout
    assert quiet.stdout.splitlines()[1].startswith("dpop-conformance: reports in ")
    plain = cli("run", "-q", "--report-dir", str(tmp_path / "d"), "--", "-k", "ath", env={"NO_COLOR": "1"})
    assert plain.stdout.count("\n") == 2 and "\x1b" not in plain.stdout and "conformant" in plain.stdout
