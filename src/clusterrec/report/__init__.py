"""The run report: its words (:mod:`~clusterrec.report.wording`, generated from the measured
numbers) and its self-contained HTML page (:mod:`~clusterrec.report.html`)."""

from clusterrec.report.html import ReportInputs, render_report

__all__ = ["ReportInputs", "render_report"]
