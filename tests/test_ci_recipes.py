"""The CI recipes and the GitHub Action: docs/ci.md shows the recipe files as they are, the files are YAML
of the right shape, no input is spliced into a script, every action is pinned by a commit SHA, the recipes
skip a fork's pull request and install with constraints.txt, and action/run.sh does what the Action's run
step promises against the embedded reference server: the run's own verdict as outputs, one annotation per
case that fails the gate.

.ci/run lints the same files with actionlint and the vendored JSON Schemas of check-jsonschema.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.report.verdict import run_verdict

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ["github-workflow.yml", "github-workflow-pip.yml", "gitlab-ci.yml", "github-workflow-client.yml"]
BIN = Path(sys.executable).parent / "dpop-conformance"
OUTPUTS = ["verdict", "exit-code", "passed", "failed", "warning", "info", "skipped", "error", "new-failures"]
#: where a workflow names another project's action: owner/repo[/path]@<full commit SHA> # vX.Y.Z
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
#: the condition that keeps a fork's pull request (which gets no secrets) out of the job that needs them
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
FORK_NOTICE = "secrets are not passed to pull requests from forks"


def fenced_yaml(markdown: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def load_yaml(path: Path) -> Any:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def workflows() -> list[Path]:
    github = [*RECIPES[:2], RECIPES[3]]
    return [*sorted((ROOT / ".github" / "workflows").glob("*.yml")), *(ROOT / "docs" / "ci" / r for r in github)]


def scripts(steps: list[dict[str, Any]]) -> list[str]:
    return [str(step["run"]) for step in steps if "run" in step]


def uses_lines(path: Path) -> list[tuple[str, str]]:
    """(the action, its comment) of every `uses:` key in a workflow or action.yml, as written."""
    found = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)[ \t]*(?:#[ \t]*(.*))?$", path.read_text(encoding="utf-8"), re.M)
    return [(action, comment.strip()) for action, comment in found]


def all_uses(node: Any) -> list[str]:
    """Every `uses:` value of a parsed workflow or action.yml."""
    if isinstance(node, dict):
        return [str(v) for k, v in node.items() if k == "uses"] + [u for v in node.values() for u in all_uses(v)]
    if isinstance(node, list):
        return [u for v in node for u in all_uses(v)]
    return []


def test_docs_show_the_recipe_files_byte_for_byte() -> None:
    blocks = fenced_yaml((ROOT / "docs" / "ci.md").read_text(encoding="utf-8"))
    assert blocks == [(ROOT / "docs" / "ci" / name).read_text(encoding="utf-8") for name in RECIPES], (
        "docs/ci.md's YAML blocks must be docs/ci/github-workflow.yml, github-workflow-pip.yml, gitlab-ci.yml and "
        "github-workflow-client.yml"
    )


def test_no_recipe_installs_from_an_index_the_project_is_not_on() -> None:
    texts = [(ROOT / "docs" / "ci.md").read_text(encoding="utf-8")]
    texts += [(ROOT / "docs" / "ci" / name).read_text(encoding="utf-8") for name in RECIPES]
    for text in texts:
        assert not re.search(
            r"pip install (-U |--upgrade )?dpop-conformance\b(?! @)",
            text.replace("`pip install dpop-conformance` finds nothing", ""),
        )


@pytest.mark.parametrize("path", workflows(), ids=lambda p: str(p.relative_to(ROOT)))
def test_workflows_parse_and_splice_no_expression_into_a_script(path: Path) -> None:
    workflow = load_yaml(path)
    assert workflow.get("on", workflow.get(True)), "no trigger"  # YAML 1.1 reads a bare `on` as true
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        assert job["runs-on"] and job["steps"], name
        for script in scripts(job["steps"]):
            assert "${{" not in script, f"{path.name}: job {name} splices an expression into a script: {script}"


def test_the_gitlab_job_keeps_its_reports() -> None:
    job = load_yaml(ROOT / "docs" / "ci" / "gitlab-ci.yml")["dpop-conformance"]
    assert "variables" not in job  # CI/CD variables are in the environment already
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/staging/junit.xml"
    assert any("git+https://" in line for line in job["script"])


def test_the_action_passes_its_inputs_through_the_environment_only() -> None:
    action = load_yaml(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for script in scripts(steps):
        assert "${{" not in script, f"an expression spliced into a script: {script}"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\binputs\.([a-z-]+)", text))
    assert used == set(action["inputs"]), "every input is used, and only declared ones"
    # config or client-command (a client judged): neither is required, and run.sh refuses both empty (exit 2)
    assert action["inputs"]["config"]["required"] is False and action["inputs"]["client-command"]["required"] is False
    assert "embedded reference server" in action["inputs"]["config"]["description"]
    ids = {step.get("id") for step in steps}
    assert set(re.findall(r"\bsteps\.([a-z-]+)\.", text)) <= ids, "a step that does not exist"
    assert list(action["outputs"]) == [*OUTPUTS, "results"]
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    # the suite's step does not stop the job; the upload and the last step run whatever happened
    run = next(step for step in steps if step.get("id") == "run")
    assert run["env"]["DPOP_DEFER_EXIT"] == "1"
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"].startswith("always()")
    assert steps[-1]["if"] == "always()" and 'exit "$DPOP_EXIT_CODE"' in steps[-1]["run"]
    # documented: every input and output in docs/ci.md's tables
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"`{name}`" in doc, f"docs/ci.md does not list {name}"


PINNED_FILES = [ROOT / "action.yml", *workflows()]


@pytest.mark.parametrize("path", PINNED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_action_is_pinned_by_a_commit_sha_with_its_version(path: Path) -> None:
    lines = uses_lines(path)
    assert sorted(a for a, _ in lines) == sorted(all_uses(load_yaml(path))), "a uses: this reading missed"
    for action, comment in lines:
        if action.startswith("./"):
            continue  # this repository's own Action, from the same checkout
        if action.startswith("<owner>/dpop-conformance@"):
            # the recipes' pin of the suite itself: a release's tag, since a commit cannot name its own SHA
            # (docs/ci.md says how to pin the SHA that tag names); tests/test_releases.py holds it to the tags
            assert action == f"<owner>/dpop-conformance@v{__version__}", f"{path.name}: {action}"
            continue
        assert PINNED.match(action), f"{path.name}: {action} is not pinned by a full commit SHA"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", comment.split()[0] if comment else ""), (
            f"{path.name}: {action} has no version comment (# vX.Y.Z)"
        )


def test_an_action_has_one_sha_and_one_version_everywhere() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in PINNED_FILES:
        for action, comment in uses_lines(path):
            if not PINNED.match(action):
                continue
            name, sha = action.rsplit("@", 1)
            repository = "/".join(name.split("/")[:2])  # actions/cache/restore and /save are one repository
            pin = (sha, comment.split()[0])
            assert seen.setdefault(repository, pin) == pin, f"{repository} is pinned twice: {seen[repository]}, {pin}"
    assert {"actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-artifact"} <= set(seen)


@pytest.mark.parametrize("name", RECIPES[:2])
def test_the_github_recipes_skip_a_forks_pull_request_and_say_why(name: str) -> None:
    jobs = load_yaml(ROOT / "docs" / "ci" / name)["jobs"]
    needs_secrets = [j for j in jobs.values() if "secrets." in json.dumps(j)]
    assert needs_secrets, "no job reads a secret"
    for job in needs_secrets:
        assert SAME_REPOSITORY in job["if"] and "github.event_name != 'pull_request'" in job["if"], job.get("if")
    fork = SAME_REPOSITORY.replace("==", "!=")
    notices = [j for j in jobs.values() if str(j.get("if", "")).endswith(fork)]
    assert len(notices) == 1 and "secrets." not in json.dumps(notices[0]), "one job says why, with no secret"
    (step,) = notices[0]["steps"]
    assert step["run"].startswith('echo "::notice title=') and FORK_NOTICE in step["run"]
    assert FORK_NOTICE in (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def test_the_action_and_the_recipes_install_with_the_constraints() -> None:
    action = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert '"$GITHUB_ACTION_PATH/constraints.txt"' in action, "the venv's cache key does not cover constraints.txt"
    install = next(s for s in load_yaml(ROOT / "action.yml")["runs"]["steps"] if s.get("id") == "install")
    assert install["env"]["DPOP_CONSTRAINTS"] == "${{ github.action_path }}/constraints.txt"
    script = (ROOT / "action" / "install.sh").read_text(encoding="utf-8")
    assert script.count('install -c "$constraints"') == 2, "install.sh installs something without the constraints"
    assert '-c "$root/constraints.txt"' in (ROOT / "action" / "demo.sh").read_text(encoding="utf-8")
    assert "pip install --quiet -c constraints.txt -e" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # a recipe installs the suite and its constraints.txt from the same release
    for name in RECIPES:
        text = (ROOT / "docs" / "ci" / name).read_text(encoding="utf-8")
        for ref in re.findall(r"git\+https://github\.com/<owner>/dpop-conformance@(\S+?)\"", text):
            expected = f"https://raw.githubusercontent.com/<owner>/dpop-conformance/{ref}/constraints.txt"
            assert f'pip install -c "{expected}"' in text, f"{name}: installs {ref} without its constraints.txt"
    assert "-c constraints.txt dpop_conformance-" in (ROOT / "docs" / "ci" / "github-workflow-pip.yml").read_text()


def test_the_release_workflow_publishes_only_a_tag_of_the_packages_version() -> None:
    workflow = load_yaml(ROOT / ".github" / "workflows" / "release.yml")
    assert workflow.get("on", workflow.get(True)) == {"push": {"tags": ["v*"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write"}, "only the release job may write, and only contents"
    steps = job["steps"]
    runs = "\n".join(scripts(steps))
    tag_check = next(s for s in steps if '$TAG" != "v$version"' in str(s.get("run", "")))
    assert tag_check["env"]["TAG"] == "${{ github.ref_name }}" and "exit 1" in tag_check["run"]
    stages = ("ruff check", "mypy", "tests/test_releases.py", "python -m build", "gh release create")
    order = [runs.index(stage) for stage in stages]
    assert order == sorted(order), "the release is published only after the checks and the build"
    assert "-c constraints.txt" in runs and "--notes-file" in runs and "CHANGELOG.md" in runs
    publish = steps[-1]
    assert "gh release create" in publish["run"] and "constraints.txt" in publish["run"]
    assert publish["env"]["GH_TOKEN"] == "${{ github.token }}"


def run_sh(tmp_path: Path, **settings: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """action/run.sh in `tmp_path` with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY there: its outputs and summary."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DPOP_", "GITHUB_"))}
    env |= {"DPOP_BIN": str(BIN), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    env |= {"DPOP_CONFIG": "embedded", **settings}
    done = subprocess.run(
        ["bash", str(ROOT / "action" / "run.sh")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    pairs = [line.split("=", 1) for line in output.read_text().splitlines()] if output.exists() else []
    return done, dict(pairs), summary.read_text(encoding="utf-8") if summary.exists() else ""


def test_run_sh_passes_against_the_reference_server(tmp_path: Path) -> None:
    done, outputs, summary = run_sh(
        tmp_path, DPOP_ARGS="--case 'rs-proof-ath-*'", DPOP_FUZZ_PROFILE="ci", DPOP_ARTIFACT="reports-1"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(outputs) == [*OUTPUTS, "results"]
    assert outputs["verdict"] == "passed" and outputs["exit-code"] == "0"
    assert int(outputs["passed"]) >= 5 and outputs["failed"] == outputs["new-failures"] == "0"
    assert outputs["results"] == "reports/dpop-conformance/results.json"
    assert summary.startswith("### ✅ DPoP conformance: reference — conformant to every MUST")
    assert summary.rstrip().endswith("is this run's artifact **reports-1**.")
    assert (tmp_path / "reports" / "dpop-conformance" / "summary.md").is_file()
    assert "embedded reference server" in done.stdout and "config is embedded" in done.stdout


def test_run_sh_fails_the_gate_and_passes_arguments_as_words(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    args = f"--reference-defect ath --case 'rs-proof-ath-*' -- -o 'junit_suite_name=$(touch {marker}) x'"
    done, outputs, summary = run_sh(
        tmp_path, DPOP_ARGS=args, DPOP_BASELINE="ci/none.json", DPOP_BASELINE_MISSING="ok", DPOP_REPORT_DIR="out"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert outputs["verdict"] == "failed" and outputs["exit-code"] == "1"
    assert int(outputs["new-failures"]) == int(outputs["failed"]) >= 4
    assert summary.startswith("### ❌ DPoP conformance: reference — 4 MUST failures new against the baseline")
    assert not marker.exists(), "an argument was executed"
    assert f'name="$(touch {marker}) x"' in (tmp_path / "out" / "junit.xml").read_text()
    # as the Action runs it: the step succeeds, the status waits in the exit-code output
    deferred, outputs, _ = run_sh(
        tmp_path / "out", DPOP_ARGS="--reference-defect ath --case rs-ath-exact", DPOP_DEFER_EXIT="1"
    )
    assert deferred.returncode == 0 and outputs["exit-code"] == "1", deferred.stdout + deferred.stderr


def test_run_sh_stops_at_a_refused_target_file(tmp_path: Path) -> None:
    done, outputs, summary = run_sh(tmp_path, DPOP_CONFIG="missing.toml", GITHUB_ACTIONS="true")
    assert done.returncode == 2
    assert "missing.toml" in done.stderr and "running against" not in done.stdout  # check stopped it: no run
    assert outputs["verdict"] == "usage-error" and outputs["passed"] == outputs["results"] == ""
    assert summary.startswith("### ❌ DPoP conformance: no results — the target file or an argument was refused")
    # between ::stop-commands:: and its token, nothing the suite prints is a workflow command
    lines = done.stdout.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert lines[0] != token and f"::{token}::" in lines


def test_run_sh_refuses_unbalanced_quotes_in_args(tmp_path: Path) -> None:
    done, outputs, _ = run_sh(tmp_path, DPOP_ARGS="--case 'open")
    assert done.returncode == 2 and "args: No closing quotation" in done.stderr
    assert outputs["verdict"] == "usage-error"


def test_run_sh_refuses_an_empty_config_rather_than_testing_the_suites_own_server(tmp_path: Path) -> None:
    # GitHub does not enforce `required: true` on a composite action's inputs: a forgotten `config` arrives
    # empty, and must not pass the gate by testing the embedded reference server
    done, outputs, _ = run_sh(tmp_path, DPOP_CONFIG="")
    assert done.returncode == 2 and "config is empty" in done.stderr, done.stdout + done.stderr
    assert outputs["verdict"] == "usage-error" and "running against" not in done.stdout


def test_run_sh_judges_a_client_with_client_command(tmp_path: Path) -> None:
    command = f"{sys.executable} -m conformance.reference.client"
    done, outputs, summary = run_sh(
        tmp_path, DPOP_CONFIG="", DPOP_CLIENT_COMMAND=command, DPOP_ARGS="--scenario no-nonces --case 'htu'"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "judging a DPoP client" in done.stdout
    assert outputs["verdict"] == "passed" and outputs["passed"] == "1" and outputs["failed"] == "0"
    results = json.loads((tmp_path / outputs["results"]).read_text(encoding="utf-8"))
    assert {case["actor"] for case in results["cases"]} == {"client"}
    assert summary.startswith("### ✅ DPoP conformance")
    # a failed check: its annotation carries the check's own fix
    (tmp_path / "again").mkdir()
    done, outputs, _ = run_sh(
        tmp_path / "again",
        DPOP_CONFIG="",
        DPOP_CLIENT_COMMAND=command,
        DPOP_ARGS="--scenario resource-query --case htu",
        DPOP_CLIENT_DEFECTS="htu-query",
        GITHUB_ACTIONS="true",
    )
    assert done.returncode == 1 and outputs["new-failures"] == "1", done.stdout + done.stderr
    ((title, message),) = error_annotations(done.stdout)
    assert title == "htu" and "send htu as the request URI without query and fragment" in message


def test_run_sh_refuses_config_and_client_command_together(tmp_path: Path) -> None:
    done, outputs, _ = run_sh(tmp_path, DPOP_CLIENT_COMMAND="true")
    assert done.returncode == 2 and "both given" in done.stderr and outputs["verdict"] == "usage-error"


def error_annotations(stdout: str) -> list[tuple[str, str]]:
    """(title, message) of each ::error line, as written (escaped)."""
    return re.findall(r"^::error title=([^:]*)::(.*)$", stdout, flags=re.MULTILINE)


def escaped(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def test_run_sh_annotates_each_case_that_fails_the_gate_with_its_cause_and_fix(tmp_path: Path) -> None:
    done, outputs, _ = run_sh(
        tmp_path, DPOP_ARGS="--reference-defect ath --case 'rs-proof-ath-*'", GITHUB_ACTIONS="true"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / outputs["results"]).read_text(encoding="utf-8"))
    verdict = run_verdict(results)
    assert verdict.gating and outputs["verdict"] == verdict.result == "failed"
    assert outputs["new-failures"] == str(len(verdict.gating))
    cases = {case["id"]: case for case in results["cases"]}
    found = error_annotations(done.stdout)
    assert [title for title, _ in found] == list(verdict.gating), "one annotation per gating case, in its order"
    for title, message in found:
        case = cases[title]
        assert case["cause"] and case["fix"], f"{title}: results.json has no cause or fix"
        assert message == escaped(f"{case['cause']} — fix: {case['fix']}")
    assert "rs-proof-ath-padded" not in dict(found), "a warning annotated under --fail-on must"
    # written after the suite's own output, where GitHub obeys workflow commands again
    lines = done.stdout.splitlines()
    end = lines.index(f"::{lines[0].removeprefix('::stop-commands::')}::")
    assert all(lines.index(f"::error title={title}::{message}") > end for title, message in found)


def fake_suite(tmp_path: Path, cases: list[dict[str, Any]]) -> dict[str, str]:
    """Settings for run.sh whose `dpop-conformance run` writes a results.json with these cases (and exits 1)."""
    failed = sum(c["outcome"] == "failed" for c in cases)
    results = {
        "schema_version": 1,
        "summary": {"passed": 1, "failed": failed, "warning": 0, "info": 0, "skipped": 0, "error": 0},
        "gate": {"fail_on": "must"},
        "preflight": {"ok": True},
        "cases": cases,
    }
    (tmp_path / "fake-results.json").write_text(json.dumps(results), encoding="utf-8")
    fake = tmp_path / "fake-dpop-conformance"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        "# run: the results.json of FAKE_RESULTS in --report-dir; summary: one line in --output\n"
        'command="$1"; dir=""; output=""\n'
        'while [ $# -gt 0 ]; do case "$1" in --report-dir) dir="$2" ;; --output) output="$2" ;; esac; shift; done\n'
        'case "$command" in\n'
        '  run) mkdir -p "$dir" && cp "$FAKE_RESULTS" "$dir/results.json"; exit 1 ;;\n'
        '  summary) echo "### fake summary" >"$output" ;;\n'
        "esac\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return {"DPOP_BIN": str(fake), "DPOP_PYTHON": sys.executable, "FAKE_RESULTS": str(tmp_path / "fake-results.json")}


def test_run_sh_caps_the_annotations_and_escapes_them_as_workflow_commands(tmp_path: Path) -> None:
    hostile = "100% broken\r\n::warning::not a command\nsecond line"
    cases = [
        {"id": f"rs-case-{n:02}", "outcome": "failed", "baseline": "", "cause": f"{hostile} {n}", "fix": "a%0Afix"}
        for n in range(12)
    ]
    cases[0]["id"] = "rs-odd:id,1"
    cases.append({"id": "rs-known", "outcome": "failed", "baseline": "still failing", "cause": "x", "fix": "y"})
    done, outputs, _ = run_sh(tmp_path, GITHUB_ACTIONS="true", **fake_suite(tmp_path, cases))
    assert done.returncode == 1, done.stdout + done.stderr
    assert outputs["verdict"] == "failed" and outputs["new-failures"] == "12"
    found = error_annotations(done.stdout)
    assert len(found) == 10, "GitHub shows 10 error annotations of a step: 9 cases and one line for the rest"
    assert [title for title, _ in found[:9]] == ["rs-odd%3Aid%2C1", *(f"rs-case-{n:02}" for n in range(1, 9))]
    assert found[0][1] == escaped(f"{hostile} 0 — fix: a%0Afix")
    assert "%0D%0A::warning::not a command%0Asecond line" in found[0][1] and "a%250Afix" in found[0][1]
    assert found[9] == (
        "dpop-conformance",
        "3 more cases fail the gate (rs-case-09, rs-case-10, rs-case-11): the step summary and report.html say why",
    )
    assert not re.search(r"^::warning::", done.stdout, flags=re.MULTILINE), "text of a case became a command"
    assert "rs-known" not in done.stdout, "a failure the baseline knows was annotated"


def test_run_sh_says_a_forks_pull_request_gets_no_secrets(tmp_path: Path) -> None:
    (tmp_path / "staging.toml").write_text((ROOT / "targets" / "example-staging.toml").read_text(encoding="utf-8"))
    event = tmp_path / "event.json"
    pull = {"head": {"repo": {"full_name": "someone/fork", "fork": True}}, "base": {"repo": {"full_name": "us/app"}}}
    event.write_text(json.dumps({"pull_request": pull}), encoding="utf-8")
    github = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    done, outputs, summary = run_sh(tmp_path, DPOP_CONFIG="staging.toml", DPOP_CLIENT_SECRET="", **github)
    assert done.returncode == 2 and outputs["verdict"] == "usage-error", done.stdout + done.stderr
    assert summary.startswith(f"### ❌ DPoP conformance: no results — {FORK_NOTICE} (`${{DPOP_CLIENT_SECRET}}`")
    assert f"{FORK_NOTICE}: this run is a pull request from a fork, so ${{DPOP_CLIENT_SECRET}}" in done.stderr
    (found,) = error_annotations(done.stdout)
    assert found[0] == "dpop-conformance" and found[1].startswith(FORK_NOTICE)
    # the same empty secret on the repository's own branch: the fork is not blamed
    done, _, _ = run_sh(tmp_path, DPOP_CONFIG="staging.toml", DPOP_CLIENT_SECRET="", GITHUB_ACTIONS="true")
    assert done.returncode == 2 and FORK_NOTICE not in done.stdout + done.stderr


def test_run_sh_needs_a_python_that_has_the_suite(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    done, outputs, _ = run_sh(tmp_path, DPOP_PYTHON=str(bare / "bin" / "python"))
    assert done.returncode == 2 and "cannot import the suite (set DPOP_PYTHON" in done.stderr
    assert outputs == {}, "nothing ran, so nothing is claimed"


@pytest.mark.skipif(
    os.environ.get("DPOP_TEST_INSTALL") != "1",
    reason="installs the suite into a new venv (half a minute of pip): .ci/run runs it, with DPOP_TEST_INSTALL=1",
)
def test_install_sh_installs_the_versions_of_the_constraints(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DPOP_", "GITHUB_", "VIRTUAL_ENV", "PIP_CONSTRAINT"))
    }
    done = subprocess.run(
        ["bash", str(ROOT / "action" / "install.sh")],
        env={**env, "DPOP_VENV": str(venv), "DPOP_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude", "dpop-conformance"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    installed = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in frozen.splitlines()
        if "==" in line
    }
    runtime = {name: version for name, version in installed.items() if name in pins}
    assert runtime and all(pins[name] == version for name, version in runtime.items()), runtime
    assert installed["hypothesis"] == pins["hypothesis"]
