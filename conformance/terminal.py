"""Moved to `conformance.report.terminal`; this name stays importable for one release."""

from conformance.report.terminal import *  # noqa: F403
from conformance.report.terminal import __all__  # noqa: F401
