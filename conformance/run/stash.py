"""Where the plugin keeps a run's state between pytest's hooks: every stash key, in one place.

On the config: what the whole run shares (the session, the target, the redactor, the scheduler, the baseline,
a failed preflight). On an item: what one case noted, measured and, when it ran ahead, recorded.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client.evidence import Redactor
from conformance.client.target import Target
from conformance.judge.preflight import SetupFailure
from conformance.judge.session import DPoPSession
from conformance.report.baseline import Baseline
from conformance.run.case_report import CaseReport
from conformance.run.scheduler import Ahead, Scheduler

__all__ = [
    "AHEAD_KEY",
    "BASELINE_KEY",
    "CASE_KEY",
    "MEASURE_KEY",
    "NOTE_KEY",
    "PREFLIGHT_KEY",
    "REDACTOR_KEY",
    "SCHEDULER_KEY",
    "SESSION_KEY",
    "TARGET_KEY",
]

SESSION_KEY = pytest.StashKey[DPoPSession]()
PREFLIGHT_KEY = pytest.StashKey[SetupFailure]()
REDACTOR_KEY = pytest.StashKey[Redactor]()
TARGET_KEY = pytest.StashKey[Target]()
SCHEDULER_KEY = pytest.StashKey[Scheduler]()
BASELINE_KEY = pytest.StashKey[Baseline]()
NOTE_KEY = pytest.StashKey[list[str]]()  # on an item: what a passing case observed (its message)
MEASURE_KEY = pytest.StashKey[dict[str, Any]]()  # on an item: the values the RFC leaves open, as measured
CASE_KEY = pytest.StashKey[CaseReport]()  # on an item: its last judged phase (run/case_report.py)
AHEAD_KEY = pytest.StashKey[Ahead]()  # on an item: what it did when it ran beside others (a pass)
