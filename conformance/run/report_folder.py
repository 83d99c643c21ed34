"""The report folder of a run, written as a transaction: a report folder always shows one whole run.

A run writes report.html, junit.xml and results.json (and pytest-html.html when asked) into a hidden scratch
folder beside them, `.incomplete-<random>`. Only when the run judged something are they moved into place, each
with an atomic rename, results.json last, after the files of an earlier run that this one did not write were
removed (a pytest-html.html from a run with --pytest-html, the Action's summary.md). A run that judged nothing
(an empty selection, a usage error) or was interrupted throws its scratch folder away and leaves the previous
report as it was: an `if: always()` upload then ships the last whole run, never a mix of two.

The fuzz cases' example database (.hypothesis) is not part of a report: it lives in the report folder itself,
across runs, so that a failure found once is tried first next time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["OWNED", "ReportFolder"]

#: the files a run owns in its report folder (anything else there is left alone)
OWNED = ("report.html", "junit.xml", "results.json", "pytest-html.html", "summary.md")
_SCRATCH = ".incomplete-"
_STALE_S = 24 * 3600  # a scratch folder this old was left by a run that was killed outright: removed


class ReportFolder:
    """One run's report folder: `scratch` to write into, then `publish()` or `discard()`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sweep()
        self.scratch = Path(tempfile.mkdtemp(prefix=_SCRATCH, dir=self.folder))

    def _sweep(self) -> None:
        """Remove the scratch folders of runs killed long ago (SIGKILL leaves no chance to clean up)."""
        now = time.time()
        for old in self.folder.glob(_SCRATCH + "*"):
            try:
                if old.is_dir() and now - old.stat().st_mtime > _STALE_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue

    def publish(self) -> None:
        """Move this run's files into the folder: stale ones of an earlier run out first, results.json last."""
        written = {p.name for p in self.scratch.iterdir() if p.is_file()}
        for name in OWNED:
            if name not in written:
                (self.folder / name).unlink(missing_ok=True)
        for name in sorted(written, key=lambda n: (n == "results.json", n)):
            os.replace(self.scratch / name, self.folder / name)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def discard(self) -> None:
        """Throw this run's files away: the folder keeps showing the previous run."""
        shutil.rmtree(self.scratch, ignore_errors=True)
