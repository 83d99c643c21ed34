"""What the CI system says about the run: whether it is a fork's pull request, where secrets are withheld.

GitHub Actions passes no repository secret to a workflow run by a pull request from a fork (the `pull_request`
event; `pull_request_target` runs the base's workflow, with secrets), and GitLab passes no protected variable to
a merge request from a fork. A target file whose `${DPOP_CLIENT_SECRET}` then reads an empty value is no
mistake in the file: the message says so instead of blaming the `${VAR}` syntax.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["empty_variable_fix", "fork_pull_request"]

_EVENT_BYTES = 4 * 1024 * 1024  # an event payload larger than this is not read (GitHub's are kilobytes)


def fork_pull_request(env: Mapping[str, str]) -> str | None:
    """ "a pull request from a fork" (or GitLab's "merge request") when the CI run is one, else None."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_EVENT_NAME") == "pull_request":
        path = env.get("GITHUB_EVENT_PATH", "")
        try:
            if not path or Path(path).stat().st_size > _EVENT_BYTES:
                return None
            event = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        pull = event.get("pull_request") if isinstance(event, dict) else None
        head = pull.get("head") if isinstance(pull, dict) else None
        base = pull.get("base") if isinstance(pull, dict) else None
        head_repo = head.get("repo") if isinstance(head, dict) else None
        base_repo = base.get("repo") if isinstance(base, dict) else None
        if not isinstance(head_repo, dict):
            return None  # a deleted fork has no head repository: nothing to tell
        other = isinstance(base_repo, dict) and head_repo.get("full_name") != base_repo.get("full_name")
        return "a pull request from a fork" if head_repo.get("fork") is True or other else None
    source, project = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"), env.get("CI_MERGE_REQUEST_PROJECT_ID")
    if env.get("GITLAB_CI") == "true" and source and project and source != project:
        return "a merge request from a fork"
    return None


def empty_variable_fix(var: str, env: Mapping[str, str]) -> str:
    """What to do about `${var}` reading an empty value: on a fork's pull request, that secrets are withheld."""
    fork = fork_pull_request(env)
    if fork:
        return (
            f"this CI run is {fork}, and CI systems pass no secrets to those: skip the conformance job for forks "
            "(docs/ci.md), or run it after the merge"
        )
    return f"give {var} a value (in CI, check that the secret exists and is passed to this step's env)"
