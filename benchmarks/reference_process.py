"""The reference server in a process of its own, for the benchmarks (so it does not share their interpreter)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reference_server(nonce: str) -> Iterator[Path]:
    """Run `dpop-conformance serve --nonce NONCE`; yields its target file until the block ends."""
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "reference.toml"
        server = subprocess.Popen(
            [sys.executable, "-m", "conformance", "serve", "--nonce", nonce, "--write-config", str(config)],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not config.exists() and time.monotonic() < deadline:
                if server.poll() is not None:
                    raise RuntimeError(f"the reference server exited with status {server.returncode}")
                time.sleep(0.05)
            if not config.exists():
                raise RuntimeError("the reference server did not start within 20 s")
            time.sleep(0.2)  # the file is written just before the server says it is ready
            yield config
        finally:
            server.terminate()
            server.wait(timeout=10)
