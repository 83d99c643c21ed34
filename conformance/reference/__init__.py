"""The embedded reference server: a strict RFC 9449 authorization server and protected resource.

It is the default target of the conformance suite. Defect switches (see `DEFECTS`) each break one
check, so the suite's own tests can show that every case catches the defect it targets. It only
ever listens on loopback.
"""

from __future__ import annotations

from conformance.reference.app import create_app
from conformance.reference.defects import ALL_LENIENCIES, DEFECTS, LENIENCIES, Defect
from conformance.reference.server import RunningServer
from conformance.reference.settings import ServerSettings

__all__ = ["ALL_LENIENCIES", "DEFECTS", "LENIENCIES", "Defect", "RunningServer", "ServerSettings", "create_app"]
