"""The results collector: each case's report (run/case_report.py) as its results.json record, and the run's
tallies (requests per host, waiting, rate limits, cases side by side); the reports written at the end."""

from __future__ import annotations

import pytest

from conformance.client.evidence import RUN_EVIDENCE
from conformance.client.target import plain_http_warning
from conformance.client.transport import origin_of
from conformance.report.results import ResultsWriter
from conformance.run.case_report import CaseReport, case_report_of
from conformance.run.configure import target_summary
from conformance.run.report_files import write_reports
from conformance.run.stash import SESSION_KEY, TARGET_KEY

__all__ = ["ResultsCollector"]


class ResultsCollector:
    """Turns judged reports into results.json records (on the xdist controller, or in a plain run)."""

    def __init__(self, config: pytest.Config, writer: ResultsWriter, path: str, report: str | None = None) -> None:
        self.config = config
        self.writer = writer
        self.path = path
        self.report = report
        self.details: dict[str, dict[str, str]] = {}  # case id -> doc and evidence, for report.html
        self.evidence_kept = 0  # characters, against RUN_EVIDENCE

    def _check_new_server(self, origin: str) -> None:
        """Warn of plain HTTP to a server the target file does not name (found by discovery, say)."""
        target = self.config.stash.get(TARGET_KEY, None)
        if target is None or origin in {origin_of(url) for _, url in target.urls()}:
            return  # the embedded server is loopback; a named URL was judged when the file was loaded
        warning = plain_http_warning("a discovered endpoint at", origin)
        if warning:
            self.writer.warnings.append(warning)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A judged phase of a case: its record (a later phase can turn a pass into an error), and its tallies."""
        case = case_report_of(report)
        if case is None or (report.when == "teardown" and report.passed):
            return
        self._tally(case)
        self._count_schedule(case, report)
        previous = self.writer.records.get(report.nodeid)
        self.writer.record(case.record(report.nodeid, report.duration + (previous.duration_s if previous else 0.0)))
        if case.preflight:
            self.writer.preflight = dict(case.preflight)
        if self.report:
            self._keep_details(case)

    def _tally(self, case: CaseReport) -> None:
        """The requests, the waiting and the rate limits the case spent, added to the run's."""
        for host, count in case.requests.items():
            if host not in self.writer.requests:
                self._check_new_server(host)
            self.writer.requests[host] = self.writer.requests.get(host, 0) + count
        self.writer.waiting_s += case.waited_s
        count, throttle_wait = case.throttled
        self.writer.throttled["count"] += int(count)
        self.writer.throttled["waited_s"] = round(self.writer.throttled["waited_s"] + float(throttle_wait), 3)

    def _count_schedule(self, case: CaseReport, report: pytest.TestReport) -> None:
        """results.json `concurrency`: the cases that ran beside others, and those run again alone."""
        mark = case.schedule
        if not mark or report.when == "teardown":
            return
        concurrency = self.writer.concurrency
        concurrency["ahead"] += 1
        if mark.startswith("confirm:"):
            concurrency["confirmed_alone"] += 1
        if mark.startswith(("again:", "confirm:")):
            concurrency["again_alone"] += 1
            first = mark.partition(":")[2]
            if first != case.outcome:
                concurrency["changed_alone"].append({"id": case.id, "concurrently": first, "alone": case.outcome})

    def _keep_details(self, case: CaseReport) -> None:
        evidence = case.evidence
        previous = self.details.get(case.id, {}).get("evidence", "")
        if not evidence and previous:
            evidence = previous  # a passing teardown after a failed call keeps the call's evidence
        self.evidence_kept += len(evidence) - len(previous)
        if self.evidence_kept > RUN_EVIDENCE:
            self.evidence_kept -= len(evidence)
            evidence = f"(not kept: the run's {RUN_EVIDENCE // 2**20} MiB of evidence were used up; see results.json)"
        self.details[case.id] = {"doc": case.doc, "evidence": evidence}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """The run's target as it ended up (the embedded server's URLs, discovered endpoints), then the files."""
        live = self.config.stash.get(SESSION_KEY, None)  # absent on the xdist controller
        if live is not None:
            if self.writer.target.get("embedded"):  # the embedded server's URLs are known once it runs
                embedded = self.config.getoption("dpop_embedded") or "{}"
                self.writer.target.update(target_summary(live.target, embedded))
            # endpoints found by discovery are only known once a case has asked for them
            self.writer.target.update({k: v for k, v in live.endpoint_summary().items() if v})
        write_reports(self.writer, self.details, self.path, self.report)
