#!/usr/bin/env bash
# Install dpop-conformance from a checkout of this repository into a venv: the Action's install step.
#
#   DPOP_SOURCE  the checkout to install (default: the repository this script is in)
#   DPOP_VENV    the venv: created when missing or broken, reused otherwise (the Action restores it from a
#                cache keyed on the runner, the Python version and pyproject.toml)
#   DPOP_PYTHON  the Python that creates the venv (default: python3)
#   DPOP_CONSTRAINTS  the constraints file the dependencies are installed with (default: DPOP_SOURCE's
#                constraints.txt, the versions that release was tested with)
#
# The dependencies come from PyPI once, at the versions the constraints file names, then from the venv:
# pip keeps what is installed and satisfies them (a venv of other versions, say one restored from an older
# cache, is brought to the constrained ones). The same suite version thus always runs on the same
# Hypothesis, which draws the same fuzz examples: a committed baseline stays valid (README, "Fuzzing").
# The suite itself is built from DPOP_SOURCE every time (about a second, and no index: hatchling is in the
# venv, so pip needs no build environment of its own), so a cached venv never runs another version's cases.
# Prints the command's path, and writes bin= and python= to $GITHUB_OUTPUT when that is set.
set -euo pipefail

source_dir="${DPOP_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
venv="${DPOP_VENV:?set DPOP_VENV to the folder of the venv to install into}"
python="${DPOP_PYTHON:-python3}"
constraints="${DPOP_CONSTRAINTS:-$source_dir/constraints.txt}"
if [ ! -f "$constraints" ]; then
  echo "dpop-conformance install: error: no constraints file at $constraints" >&2
  exit 2
fi

bindir() { if [ -d "$1/Scripts" ] && [ ! -d "$1/bin" ]; then echo "$1/Scripts"; else echo "$1/bin"; fi; }

if ! "$(bindir "$venv")/python" -c "" 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
bin="$(bindir "$venv")"
pip=("$bin/python" -m pip --disable-pip-version-check --quiet)
# the build backend shapes no example, so it is not pinned; its own dependencies that the suite shares are
"${pip[@]}" install -c "$constraints" "hatchling>=1.21"  # pyproject.toml's build backend, kept in the venv
"${pip[@]}" install -c "$constraints" --no-build-isolation "$source_dir"
"$bin/dpop-conformance" --version

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "bin=$bin/dpop-conformance"; echo "python=$bin/python"; } >>"$GITHUB_OUTPUT"
fi
echo "installed: $bin/dpop-conformance"
