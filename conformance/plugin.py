"""The pytest plugin's registered name: `conformance.plugin` (the pytest11 entry point, `-p conformance.plugin`).

The plugin itself is `conformance.run.plugin`; this name is the same module object, and it stays.
"""

import sys

from conformance.run import plugin as _module
from conformance.run.plugin import *  # noqa: F403

sys.modules[__name__] = _module
