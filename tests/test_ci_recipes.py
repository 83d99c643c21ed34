"""The CI recipes and the GitHub Action: docs/ci.md shows the recipe files as they are, the files are YAML
of the right shape, no input is spliced into a script, and action/run.sh does what the Action's run step
promises against the embedded reference server.

.ci/run lints the same files with actionlint and the vendored JSON Schemas of check-jsonschema.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ["github-workflow.yml", "github-workflow-pip.yml", "gitlab-ci.yml"]
BIN = Path(sys.executable).parent / "dpop-conformance"
OUTPUTS = ["verdict", "exit-code", "passed", "failed", "warning", "info", "skipped", "error", "new-failures"]


def fenced_yaml(markdown: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def load_yaml(path: Path) -> Any:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def workflows() -> list[Path]:
    return [*sorted((ROOT / ".github" / "workflows").glob("*.yml")), *(ROOT / "docs" / "ci" / r for r in RECIPES[:2])]


def scripts(steps: list[dict[str, Any]]) -> list[str]:
    return [str(step["run"]) for step in steps if "run" in step]


def test_docs_show_the_recipe_files_byte_for_byte() -> None:
    blocks = fenced_yaml((ROOT / "docs" / "ci.md").read_text(encoding="utf-8"))
    assert blocks == [(ROOT / "docs" / "ci" / name).read_text(encoding="utf-8") for name in RECIPES], (
        "docs/ci.md's YAML blocks must be docs/ci/github-workflow.yml, github-workflow-pip.yml and gitlab-ci.yml"
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
    assert action["inputs"]["config"]["required"] is True
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
    assert summary.startswith("### ❌ DPoP conformance: reference — ")
    assert "#### New failures against the baseline" in summary
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
