"""The reference server in a process of its own (`dpop-conformance serve`), for benchmarks and tests.

In the suite's own process the server shares one interpreter lock with the client, and every request
waits for the other's work: a run of the fuzz cases took 2.8 ms a request that way, and 1.6 ms with the
server in a process of its own on the second core.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ServerProcess", "reference_server"]


@contextmanager
def reference_server(
    nonce: str = "none", *, defects: Sequence[str] = (), leniencies: Sequence[str] = ()
) -> Iterator[Path]:
    """Run `dpop-conformance serve` with these switches; yields its target file until the block ends."""
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "reference.toml"
        switches = [*(a for d in defects for a in ("--defect", d)), *(a for n in leniencies for a in ("--leniency", n))]
        server = subprocess.Popen(
            [sys.executable, "-m", "conformance", "serve", "--nonce", nonce, *switches, "--write-config", str(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            # the server prints "press Ctrl-C to stop" once it accepts connections (after writing the file)
            deadline = time.monotonic() + 20
            for line in server.stdout:
                if line.startswith("press Ctrl-C") or time.monotonic() > deadline:
                    break
            if server.poll() is not None or not config.exists():
                raise RuntimeError(f"the reference server did not start (status {server.poll()})")
            yield config
        finally:
            server.terminate()
            server.wait(timeout=10)


class ServerProcess:
    """One process that serves the reference server with one setting after another (`configure`).

    For running the catalog against many settings in a row (the kill matrix): a new setting costs a
    server restart inside that process (tens of milliseconds), not an interpreter's start-up.
    """

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "conformance.reference.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def configure(
        self, nonce: str = "none", *, defects: Sequence[str] = (), leniencies: Sequence[str] = (), par: bool = True
    ) -> str:
        """Serve these settings from now on (the app of the previous ones is gone); returns the target file."""
        assert self._child.stdin is not None and self._child.stdout is not None
        request = {"nonce": nonce, "defects": list(defects), "leniencies": list(leniencies), "par": par}
        self._child.stdin.write(json.dumps(request) + "\n")
        self._child.stdin.flush()
        answer = self._child.stdout.readline()
        if not answer:
            raise RuntimeError(f"the reference server process ended (status {self._child.poll()})")
        reply = json.loads(answer)
        if "error" in reply:
            raise ValueError(reply["error"])
        return str(reply["target"])

    def close(self) -> None:
        """Stop the server and its process."""
        if self._child.stdin is not None:
            self._child.stdin.close()
        try:
            self._child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._child.kill()


def _serve_requests() -> None:
    """The child of ServerProcess: one JSON request a line on stdin, one JSON answer a line on stdout."""
    from conformance.reference.server import RunningServer
    from conformance.reference.settings import ServerSettings

    server: RunningServer | None = None
    try:
        for line in sys.stdin:
            try:
                request = json.loads(line)
                settings = ServerSettings(
                    nonce=request["nonce"],
                    defects=request["defects"],
                    leniencies=request["leniencies"],
                    par=request.get("par", True),
                )
                if server is None:
                    server = RunningServer(settings).start()
                else:
                    server.reconfigure(settings)  # same port: a new app (keys, caches, stores)
                answer = {"target": server.target_toml()}
            except (ValueError, KeyError, RuntimeError, OSError) as exc:
                answer = {"error": str(exc)}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    _serve_requests()
