"""Settings shared by as_server.py and rs_server.py, the watch on WATCH_PID, and the readiness probe of start.sh.

Everything comes from the environment:

    AS_PORT    the authorization server's port (default 4300)
    RS_PORT    the resource server's port (default 4400)
    WATCH_PID  optional: the servers exit when the process with this id is gone (start.sh's caller), so a test
               run that is killed never leaves servers behind

`python common.py ready TIMEOUT_S PID=URL...` waits until every server is listening and answers HTTP: exit 0,
or 1 naming the silent ones when a server's process ended or the time ran out. "Listening" is the file
DPOP_RUN_DIR/PID.listening, which a server writes once it holds its port (`listen`), so another program that
already answers on a port taken can never pass for the server.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def _port(name: str, default: int) -> int:
    """The port in environment variable `name`, or `default` when it is unset or empty."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"{name} must be a port number (1-65535), got {raw!r}")
    return int(raw)


AS_PORT = _port("AS_PORT", 4300)
RS_PORT = _port("RS_PORT", 4400)
ISSUER = f"http://{HOST}:{AS_PORT}"
# the one protected resource of rs_server.py
RESOURCE = f"http://{HOST}:{RS_PORT}/resource"


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and has not ended (a zombie, ended but not reaped, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
        return text[text.rindex(")") + 2] not in "ZX"
    except FileNotFoundError:
        return False
    except OSError:
        pass  # no /proc (not Linux): ask the kernel whether the pid exists
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_with_watched_process(name: str) -> None:
    """When WATCH_PID is set, checks every second that its process still runs; once it is gone, asks this
    server to stop (SIGTERM: uvicorn's graceful shutdown) and ends the process 5 s later if it has not."""
    raw = os.environ.get("WATCH_PID", "")
    if not raw:
        return
    pid = int(raw)

    def watch() -> None:
        while _alive(pid):
            time.sleep(1)
        print(f"{name}: process {pid} (WATCH_PID) is gone, exiting", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        os._exit(0)

    threading.Thread(target=watch, name="watch-pid", daemon=True).start()


def listen(name: str, port: int) -> socket.socket:
    """Binds HOST:port for uvicorn (before anything else starts, so a port taken fails at once) and marks this
    process as listening (DPOP_RUN_DIR/PID.listening, for `wait_ready`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as uvicorn does: a restart may reuse a port with connections in TIME_WAIT (never one still listening)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"{name}: cannot listen on {HOST}:{port}: address already in use (EADDRINUSE)") from exc
        raise
    sock.listen(2048)
    run_dir = os.environ.get("DPOP_RUN_DIR", "")
    if run_dir:
        with open(os.path.join(run_dir, f"{os.getpid()}.listening"), "w", encoding="ascii") as marker:
            marker.write(f"{HOST}:{port}\n")
    return sock


def _answers(url: str) -> bool:
    """Whether `url` gives any HTTP answer (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_ready(timeout_s: float, targets: list[str]) -> int:
    """Waits until each PID=URL target answers; 1 when its process ends first or the time runs out."""
    pending = {url: int(pid) for pid, _, url in (t.partition("=") for t in targets)}
    run_dir = os.environ.get("DPOP_RUN_DIR", ".")
    deadline = time.monotonic() + timeout_s
    while pending:
        for url, pid in list(pending.items()):
            if not _alive(pid):
                print(f"common.py: the server for {url} (pid {pid}) has exited", file=sys.stderr)
                return 1
            if os.path.exists(os.path.join(run_dir, f"{pid}.listening")) and _answers(url):
                del pending[url]
        if not pending:
            break
        if time.monotonic() > deadline:
            print(f"common.py: no answer within {timeout_s:g} s from {', '.join(pending)}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "ready":
        raise SystemExit("usage: common.py ready TIMEOUT_S PID=URL...")
    sys.exit(wait_ready(float(sys.argv[2]), sys.argv[3:]))
