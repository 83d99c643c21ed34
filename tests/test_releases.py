"""Releases a gate can pin: the version's case list is the catalog, the CHANGELOG says what changed, the docs
name only released versions (and, where the checkout has tags, only tags that exist), constraints.txt holds
the versions the tests ran with, and the licence ships.

docs/releasing.md has the maintainer's steps these tests hold; .github/workflows/release.yml runs them on the
tag before it publishes anything.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conformance import __version__
from conformance.judge.catalog import load_cases
from conformance.judge.releases import RELEASED, known_versions, levels_in
from conformance.run.cases_folder import locate_cases

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = ROOT / "CHANGELOG.md"
#: the pages that tell a team what to pin: every version they name must be a release
PINNING_DOCS = [ROOT / "README.md", ROOT / "docs" / "ci.md", *sorted((ROOT / "docs" / "ci").glob("*"))]
#: a version, with or without its tag's v: three numbers standing alone (not 127.0.0 of 127.0.0.1), and not a
#: section number (RFC 3986 §6.2.2) or a Python version
VERSION = re.compile(r"(?<![\w.§])(?<!Python )(v?)(\d+\.\d+\.\d+)(?![\w.]*\d)")
#: a `uses:` of another project's action, whose version comment is that action's version, not the suite's
OTHER_ACTION = re.compile(r"uses:\s*(?![^\s@]*dpop-conformance@)\S+@\S+\s*#.*")
#: SHA-256 of the Apache License 2.0 text as the ASF publishes it (LICENSE-2.0.txt, whose MD5 is the well-known
#: 3b83ef96387f14655fc854ddc3c6bd57; Debian's /usr/share/common-licenses/Apache-2.0 is the same file)
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def changelog_sections() -> dict[str, str]:
    """Each `## [X.Y.Z] - date` section of CHANGELOG.md by version, its text up to the next section."""
    text = CHANGELOG.read_text(encoding="utf-8")
    found = re.findall(r"^## \[([^\]]+)\][^\n]*\n(.*?)(?=^## \[|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    return {version: body for version, body in found if version != "Unreleased"}


def catalog_levels() -> dict[str, str]:
    return {case_id: str(info.level) for case_id, info in load_cases(locate_cases()).items()}


def released_list(levels: dict[str, str]) -> str:
    return "".join(f"{case_id} {level}\n" for case_id, level in sorted(levels.items()))


def previous_version(version: str) -> str | None:
    versions = known_versions()
    index = versions.index(version)
    return versions[index - 1] if index else None


def test_the_released_list_of_this_version_is_the_catalog() -> None:
    listed = levels_in(__version__)
    assert listed is not None, f"conformance/judge/released/{__version__}.txt is missing (docs/releasing.md, step 2)"
    catalog = catalog_levels()
    assert listed == catalog, (
        f"conformance/judge/released/{__version__}.txt is not the catalog: a case was added, removed or changed "
        f"level since it was written. Added {sorted(set(catalog) - set(listed))}, "
        f"removed {sorted(set(listed) - set(catalog))}, "
        f"level changed {sorted(c for c in set(catalog) & set(listed) if catalog[c] != listed[c])}. "
        f"Either it is a new version (docs/releasing.md), or the list should read:\n{released_list(catalog)}"
    )
    assert known_versions()[-1] == __version__, "a released list newer than the package's version"


def test_every_released_list_has_its_changelog_section_and_back() -> None:
    sections = changelog_sections()
    assert next(iter(sections)) == __version__, "CHANGELOG.md's newest section is not the package's version"
    assert set(sections) == set(known_versions()), (
        f"CHANGELOG sections {sorted(sections)} and released lists {known_versions()} (in {RELEASED}) differ"
    )
    for version in known_versions():
        listed = levels_in(version)
        assert listed and set(listed.values()) <= {"MUST", "SHOULD", "MAY"}, f"{version}.txt: '<id> <LEVEL>' lines"


def test_the_changelog_names_every_case_added_and_every_level_changed() -> None:
    previous = previous_version(__version__)
    if previous is None:
        pytest.skip("the first version: nothing came before it")
    section = changelog_sections()[__version__]
    old, new = levels_in(previous) or {}, levels_in(__version__) or {}
    unnamed = sorted(case_id for case_id in set(new) - set(old) if f"`{case_id}`" not in section)
    assert not unnamed, f"the CHANGELOG section of {__version__} does not name these new cases: {unnamed}"
    lines = section.splitlines()
    for case_id in sorted(c for c in set(new) & set(old) if new[c] != old[c]):
        said = [line for line in lines if f"`{case_id}`" in line]
        assert any(f"{old[case_id]} → {new[case_id]}" in line for line in said), (
            f"the CHANGELOG section of {__version__} does not say `{case_id}` went {old[case_id]} → {new[case_id]}"
        )
    gone = sorted(set(old) - set(new))
    assert not [c for c in gone if f"`{c}`" not in section], f"cases removed since {previous}, unnamed: {gone}"


def named_versions() -> dict[str, set[str]]:
    """Each version the pinning docs name (as written: v0.2.0 or 0.2.0), with the files that name it."""
    named: dict[str, set[str]] = {}
    for path in PINNING_DOCS:
        for prefix, version in VERSION.findall(OTHER_ACTION.sub("", path.read_text(encoding="utf-8"))):
            named.setdefault(prefix + version, set()).add(str(path.relative_to(ROOT)))
    return named


def test_the_docs_name_only_released_versions() -> None:
    named = named_versions()
    assert f"v{__version__}" in named, f"the docs do not pin the current release v{__version__}"
    sections = changelog_sections()
    for written, where in sorted(named.items()):
        version = written.removeprefix("v")
        assert version in sections, f"{written} ({', '.join(sorted(where))}) has no CHANGELOG section"
        assert levels_in(version) is not None, f"{written} ({', '.join(sorted(where))}) has no released case list"


def test_the_docs_pin_only_tags_that_exist() -> None:
    """Where the checkout has tags, every vX.Y.Z the docs name is one: a gate must not pin a tag that was never
    made. The version being released is the exception: its commit names the tag it is about to get."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run([git, "tag", "--list", "v*"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    tags = set(listed.stdout.split())
    if listed.returncode != 0 or not tags:
        pytest.skip("this checkout has no v* tags (yet): nothing to check them against")
    missing = {
        written: where
        for written, where in named_versions().items()
        if written.startswith("v") and written not in tags and written != f"v{__version__}"
    }
    assert not missing, f"the docs pin tags that do not exist: {missing} (tags: {sorted(tags)})"


def dependency_closure() -> dict[str, str]:
    """Every distribution the suite and its test extras need, transitively, with its installed version."""
    found: dict[str, str] = {}
    roots = [Requirement(text) for text in distribution("dpop-conformance").requires or []]
    stack = [r for r in roots if r.marker is None or r.marker.evaluate({"extra": "test"})]
    while stack:
        requirement = stack.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            continue  # not installed: the comparison with constraints.txt names it
        found[name] = dist.version
        for text in dist.requires or []:
            sub = Requirement(text)  # its marker may name the platform, the Python, or an extra asked for
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in requirement.extras or {""}):
                stack.append(sub)
    return found


def test_constraints_pin_the_versions_the_tests_run_with() -> None:
    """constraints.txt says which versions a release was tested with: those of the venv these tests run in."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            assert canonicalize_name(name) not in pins, f"constraints.txt pins {name} twice"
            pins[canonicalize_name(name)] = version
    installed = dependency_closure()
    expected = "".join(f"{name}=={version}\n" for name, version in sorted(installed.items()))
    assert pins == installed, (
        "constraints.txt does not hold the versions this venv runs: install with `pip install -c constraints.txt "
        "-e '.[test,lint]'`, or, when the venv was upgraded on purpose, refresh its pins to read:\n" + expected
    )
    assert "hypothesis" in pins, "the fuzz examples' generator must be pinned"
    assert "dpop-conformance" not in pins, "the suite itself is never in its constraints"


def test_the_licence_is_apache_2_and_named_in_the_package_metadata() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256, "LICENSE is not the Apache License 2.0 as published"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    assert project["project"]["license-files"] == ["LICENSE"]
    sdist = project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {"LICENSE", "CHANGELOG.md", "constraints.txt"} <= set(sdist)


@pytest.mark.slow
def test_the_wheel_carries_the_licence(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("dpop_conformance-*.whl")
    archive = zipfile.ZipFile(wheel)
    name = f"dpop_conformance-{__version__}.dist-info/licenses/LICENSE"
    assert archive.read(name) == (ROOT / "LICENSE").read_bytes()
    assert "License-File: LICENSE" in archive.read(f"dpop_conformance-{__version__}.dist-info/METADATA").decode()
