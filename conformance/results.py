"""Moved to `conformance.report.results`; this name stays importable for one release."""

from conformance.report.results import *  # noqa: F403
from conformance.report.results import __all__  # noqa: F401
