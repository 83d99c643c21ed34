"""The pytest plugin, `conformance.run.plugin`: the hooks and fixtures of the modules that each do one of its jobs.

Registered through the `pytest11` entry point of the same name (conftest.py and `-p` name it too), so `pytest
cases --dpop-config FILE` works wherever the package is installed. pytest registers the hooks and fixtures it
finds in this module's namespace; each is written in the module of its job:

- `configure`: the `--dpop-*` options (from the one table, `options`), checking them, the target, the baseline,
  the scheduler and the results collector; the header;
- `collection`: which collected cases run (profiles, selectors);
- `fixtures`: `dpop` (the run's DPoPSession), `note`, `measure`, each case's own exchange log;
- `calling`: a case's body run ahead beside others, or alone; the judge's NotApplicable as a skip;
- `verdict_hook`: each case's verdict in place of pytest's report, as one `CaseReport` (`case_report`);
- `case_report`: that report across xdist's processes;
- `collector` and `report_files`: the records, and results.json and report.html at the end;
- `html_hooks`: pytest-html's page, when it is asked for.
"""

from __future__ import annotations

from conformance.run.calling import pytest_pyfunc_call, pytest_pyfunc_call_not_applicable
from conformance.run.case_report import pytest_report_from_serializable, pytest_report_to_serializable
from conformance.run.collection import pytest_collection_modifyitems
from conformance.run.configure import pytest_addoption, pytest_configure, pytest_report_header
from conformance.run.fixtures import dpop, dpop_case_log, measure, note
from conformance.run.html_hooks import (
    pytest_html_report_title,
    pytest_html_results_summary,
    pytest_html_results_table_header,
    pytest_html_results_table_row,
)
from conformance.run.verdict_hook import (
    pytest_report_teststatus,
    pytest_runtest_makereport,
    pytest_runtest_makereport_verdict,
)

__all__ = [
    "dpop",
    "dpop_case_log",
    "measure",
    "note",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_html_report_title",
    "pytest_html_results_summary",
    "pytest_html_results_table_header",
    "pytest_html_results_table_row",
    "pytest_pyfunc_call",
    "pytest_pyfunc_call_not_applicable",
    "pytest_report_from_serializable",
    "pytest_report_header",
    "pytest_report_teststatus",
    "pytest_report_to_serializable",
    "pytest_runtest_makereport",
    "pytest_runtest_makereport_verdict",
]
