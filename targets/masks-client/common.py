"""Settings and helpers shared by as.py and rs.py: everything comes from the environment, with defaults.

    AS_PORT    the authorization server's port (default 43000)
    RS_PORT    the resource server's port (default 44000)
    WATCH_PID  optional: exit when the process with this id is gone (start.sh's caller), so a test run
               that is killed never leaves servers behind

Only the standard library here: as.py and rs.py run in the harness's own venv (install.sh), and this module
holds nothing that judges a proof or a token.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def _port(name: str, fallback: int) -> int:
    """The port in the environment variable `name`, or `fallback`; exits with a one-line error otherwise."""
    raw = os.environ.get(name, "")
    if raw == "":
        return fallback
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        sys.exit(f"{name} must be a port number (1-65535), got {raw!r}")
    return int(raw)


AS_PORT = _port("AS_PORT", 43000)
RS_PORT = _port("RS_PORT", 44000)
ISSUER = f"http://{HOST}:{AS_PORT}"
TOKEN_ENDPOINT = f"{ISSUER}/token"
# the one protected resource: its URL is the audience (`aud`) of every access token the AS issues
RESOURCE = f"http://{HOST}:{RS_PORT}/resource"
CLIENT_ID = "conformance-client"
SCOPE = "read"


def exit_with_watched_process(name: str) -> None:
    """Exit (status 0) within a second of WATCH_PID's process ending; nothing when WATCH_PID is unset.

    A daemon thread polls with signal 0: the servers must not outlive a test run that was killed before it
    could call stop.sh. os._exit, because the server loop owns the main thread.
    """
    raw = os.environ.get("WATCH_PID", "")
    if not raw:
        return
    if not raw.isdigit():
        sys.exit(f"WATCH_PID must be a process id, got {raw!r}")
    pid = int(raw)

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                print(f"{name}: process {pid} (WATCH_PID) is gone, exiting", file=sys.stderr, flush=True)
                os._exit(0)
            except PermissionError:
                pass  # it exists, and belongs to another user

    threading.Thread(target=watch, name="watch-pid", daemon=True).start()


def listening_socket(name: str, port: int) -> socket.socket:
    """A TCP socket bound to HOST:port and listening; exits with status 1 and one line when it cannot.

    Bound here rather than by the server library, so that a port already taken always says "address already
    in use" in the log (start.sh's caller looks for those words and tries other ports).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        why = "address already in use" if error.errno == errno.EADDRINUSE else str(error)
        print(f"{name}: cannot listen on {HOST}:{port}: {why}", file=sys.stderr, flush=True)
        sys.exit(1)
    sock.listen(128)
    return sock
