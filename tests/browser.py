"""Headless Chromium (Debian's chromium package) for the tests of the pages the suite writes.

`probe(page, width)` loads a copy of the page with a small script appended that measures it as a reader's
browser lays it out (does the page scroll sideways, which counts and labels are shown, is the grid there)
and returns what it found; the page itself needs no script. `screenshot(page, width, out)` saves a PNG.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's network is closed: no update or sync checks
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

_PROBE = """<script>
window.addEventListener('load', () => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
      && !e.closest('.wrap') && getComputedStyle(e).position !== 'fixed').map(e => e.tagName + '.' + e.className);
  const out = {
    innerWidth, scrollWidth: doc.scrollWidth, wide: wide.slice(0, 10),
    counts: Object.fromEntries([...document.querySelectorAll('[data-count][data-outcome]')]
        .filter(e => !e.closest('[data-target]')).map(e => [e.dataset.outcome, +e.dataset.count])),
    targets: [...document.querySelectorAll('[data-target]')].map(t => [t.dataset.target,
        Object.fromEntries([...t.querySelectorAll('[data-count]')].map(e => [e.dataset.outcome, +e.dataset.count]))]),
    labels: [...document.querySelectorAll('details.case')].map(d => [d.id.slice(5), d.dataset.outcome,
        d.querySelector('summary .badge').textContent]),
    grids: document.querySelectorAll('svg.dpop-grid').length,
    gridCells: [...document.querySelectorAll('svg.dpop-grid')].map(g => g.querySelectorAll('rect').length),
    text: document.body.innerText,
  };
  const pre = document.createElement('pre'); pre.id = 'dpop-probe';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "chromium is not installed (apt-get install chromium; .ci/run does)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


def probe(page: Path, width: int) -> dict[str, Any]:
    """What a browser `width` pixels wide shows of `page` (see the module docstring)."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / page.name
        copy.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        done = _chromium(f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", copy.as_uri())
    found = re.search(r'<pre id="dpop-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not run: {done.stderr[-2000:]}"
    text = found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    result: dict[str, Any] = json.loads(text)
    return result


def screenshot(page: Path, width: int, out: Path, height: int = 1100) -> Path:
    """A PNG of the first `height` pixels of `page` at `width`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _chromium(f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri())
    assert out.exists(), f"no screenshot written to {out}"
    return out
