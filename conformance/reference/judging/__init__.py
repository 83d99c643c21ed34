"""Client conformance's judging servers: the reference AS and RS in a judging mode, per scenario (issue 30).

`Bench` holds the two servers' state and builds their apps; `SCENARIOS` says how they behave in each run of a
client's command. The judging of what they record is conformance/judge/client_checks.py; the running of a command
per scenario is conformance/run/client_runner.py.
"""

from __future__ import annotations

from conformance.reference.judging.scenarios import CAPABILITIES, SCENARIOS, Scenario, scenario
from conformance.reference.judging.servers import PUBLIC_CLIENT_ID, Bench, Recorded, RecordedAnswer

__all__ = [
    "CAPABILITIES",
    "PUBLIC_CLIENT_ID",
    "SCENARIOS",
    "Bench",
    "Recorded",
    "RecordedAnswer",
    "Scenario",
    "scenario",
]
