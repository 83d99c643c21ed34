"""Moved to `conformance.report.hints`; this name stays importable for one release."""

from conformance.report.hints import *  # noqa: F403
from conformance.report.hints import __all__  # noqa: F401
