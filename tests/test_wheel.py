"""The release artifact works on its own: a wheel built from this checkout, installed into a fresh venv.

The wheel must carry everything a run needs (the cases and their pytest.ini, the report's CSS, the
schemas): a user who installs it never has this checkout. The fresh venv borrows the project venv's
third-party packages through a .pth line (a plain path line: the editable install's own .pth there is not
processed, so `conformance` can only come from the wheel), which keeps the test to seconds; .ci/run also
installs the wheel with its dependencies from the index into an empty venv (action/demo.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

#: the resource's refusal cases: its own tests, and its rows of the tests parametrized by endpoint
RESOURCE_REFUSALS = "test_resource_refuses or (test_refuses and rs-proof)"

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("dpop_conformance-*.whl")
    return built


def test_the_wheel_carries_the_cases_the_css_and_the_schemas(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    cases = {n for n in names if n.startswith("conformance/cases/")}
    assert "conformance/cases/pytest.ini" in names
    assert len({n for n in cases if n.endswith(".py")}) == len(list((ROOT / "cases").glob("*.py")))
    assert "conformance/report/pytest_html.css" in names
    assert {n for n in names if n.startswith("conformance/schemas/") and n.endswith(".json")}, "no schemas"
    # nothing but the package and its metadata; no local state of the checkout that built it
    assert {n.split("/")[0] for n in names} == {
        "conformance",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    assert not {n for n in names if ".hypothesis" in n or "__pycache__" in n or n.endswith(".pyc")}


def test_a_fresh_venv_with_only_the_wheel_lists_and_runs_the_suite(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the project venv's third-party packages, but not its editable `conformance`
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    cli = env_dir / "bin" / "dpop-conformance"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [str(python), "-c", "import conformance; print(conformance.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert where.stdout.startswith(str(site)), f"conformance imported from {where.stdout} {where.stderr}"
    listed = subprocess.run([str(cli), "list"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert listed.returncode == 0 and "as-proof-accepted" in listed.stdout, listed.stderr[-2000:]
    report = tmp_path / "report"
    done = subprocess.run(
        [str(cli), "run", "-q", "--report-dir", str(report), "--", "-m", "not fuzz", "-k", RESOURCE_REFUSALS],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((report / "results.json").read_text())
    assert results["summary"]["passed"] >= 10 and not results["summary"]["error"]
    assert (report / "report.html").stat().st_size > 10_000 and (report / "junit.xml").exists()
