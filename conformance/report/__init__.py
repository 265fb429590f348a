"""The compatibility report: run the suite against each implementation and render a clause x implementation
matrix to the terminal, Markdown, JSON, JUnit XML and a self-contained HTML page.

:mod:`~conformance.report.runner` runs one pytest subprocess per implementation;
:mod:`~conformance.report.results` holds what they found and the verdict; :mod:`~conformance.report.render`
renders it for people and :mod:`~conformance.report.export` for machines (``report.json``, whose JSON
Schema ships as ``report.schema.json``, and JUnit XML). ``objstore-conformance report`` is the command.
"""

from __future__ import annotations

from conformance.report.export import SCHEMA_PATH, SCHEMA_VERSION, junit_xml, load_schema, to_json, write
from conformance.report.render import html_page, markdown, terminal
from conformance.report.results import (
    EXIT_FAILED,
    EXIT_PASSED,
    EXIT_USAGE,
    STATUSES,
    SYMBOLS,
    ClauseResult,
    ImplResult,
    Report,
)
from conformance.report.runner import (
    EXIT_GRACE,
    IMPL_TIMEOUT,
    LOAD_TIMEOUT,
    XFAILS_DIR,
    check_implementation,
    database_dir,
    default_xfails,
    run_implementation,
    run_report,
)

__all__ = ["EXIT_FAILED", "EXIT_GRACE", "EXIT_PASSED", "EXIT_USAGE", "IMPL_TIMEOUT", "LOAD_TIMEOUT", "SCHEMA_PATH",
           "SCHEMA_VERSION", "STATUSES", "SYMBOLS", "XFAILS_DIR", "ClauseResult", "ImplResult", "Report",
           "check_implementation", "database_dir", "default_xfails", "html_page", "junit_xml", "load_schema",
           "markdown", "run_implementation", "run_report", "terminal", "to_json", "write"]
