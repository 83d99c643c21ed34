"""Moved to `conformance.report.compare`; this name stays importable for one release."""

from conformance.report.compare import *  # noqa: F403
from conformance.report.compare import __all__  # noqa: F401
