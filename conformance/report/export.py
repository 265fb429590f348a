"""Rendering a :class:`~conformance.report.results.Report` for machines: ``report.json`` (its schema ships
beside this module as ``report.schema.json``) and JUnit XML for CI dashboards; and writing the files.

``report.json`` is versioned by :data:`SCHEMA_VERSION`: a field is added without a new version, a field
removed or changed in meaning only with one, so a gate reading version 1 keeps working.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional

from conformance.report.performance import to_json as performance_json
from conformance.report.render import html_page, markdown
from conformance.report.results import SYMBOLS, Report

__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "junit_xml", "load_schema", "to_json", "write"]

#: The version of ``report.json``'s layout (its ``schema_version`` field).
SCHEMA_VERSION = 1
#: The JSON Schema (draft 2020-12) of ``report.json``, shipped in the package.
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def load_schema() -> Dict[str, Any]:
    """The JSON Schema of ``report.json`` (validate with any draft 2020-12 validator, e.g. ``jsonschema``)."""
    schema: Dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def to_json(report: Report) -> Dict[str, Any]:
    """``report`` as the plain data that ``report.json`` holds (see :data:`SCHEMA_PATH`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "settings": report.settings, "seconds": report.seconds, "failed": report.failed,
        "exit_status": report.exit_status, "strict_xfail": report.strict_xfail, "verdict": report.verdict,
        "clauses": [{"id": c, "summary": report.summaries.get(c, "")} for c in report.clause_ids],
        "implementations": [{
            "name": i.name, "description": i.description, "capabilities": i.capabilities,
            "seconds": i.seconds, "exitstatus": i.exitstatus, "note": i.note, "log": i.log,
            "adapter_tested": dict(i.adapter_tested),
            "results": {c: asdict(report.cell(i, c)) for c in report.clause_ids},
        } for i in report.impls],
        "performance": performance_json(report.performance),
    }


def _detail(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def junit_xml(report: Report) -> str:
    """``report`` as JUnit XML: a ``testsuite`` per implementation, a ``testcase`` per clause (``classname``
    ``objstore-conformance.<implementation>``, ``name`` the clause id). FAIL is a ``failure``, ERROR an
    ``error``; not claimed, skip, xfail and not run are ``skipped`` with the reason; XPASS passes with a
    ``status`` property, or is a ``failure`` under ``strict_xfail``. A run that broke down adds a test case
    ``(run)`` holding the error and the end of its output."""
    root = ET.Element("testsuites", name="objstore-conformance")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for impl in report.impls:
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(root, "testsuite", name=impl.name, time=f"{impl.seconds:.3f}")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="description", value=impl.description)
        ET.SubElement(props, "property", name="capabilities", value=" ".join(impl.capabilities))
        for cid in report.clause_ids:
            cell = report.cell(impl, cid)
            case = ET.SubElement(suite, "testcase", classname=f"objstore-conformance.{impl.name}", name=cid,
                                 time=f"{cell.seconds:.3f}")
            counts["tests"] += 1
            case_props = ET.SubElement(case, "properties")
            ET.SubElement(case_props, "property", name="status", value=SYMBOLS[cell.status])
            if cell.status == "fail" or (cell.status == "xpass" and report.strict_xfail):
                message = cell.message or ("a known failure (xfails file) passed: take it out of the file"
                                           if cell.status == "xpass" else "failed")
                failure = ET.SubElement(case, "failure", message=message, type=SYMBOLS[cell.status])
                failure.text = _detail(cell.example, cell.reproduce, cell.reason)
                counts["failures"] += 1
            elif cell.status == "error":
                error = ET.SubElement(case, "error", message=cell.message or "error")
                error.text = _detail(cell.example, cell.reproduce)
                counts["errors"] += 1
            elif cell.status in ("xfail", "not claimed", "skip", "not run"):
                ET.SubElement(case, "skipped", type=cell.status,
                              message=cell.reason or ("not run" if cell.status == "not run" else cell.status))
                counts["skipped"] += 1
        if impl.broken or impl.note:
            case = ET.SubElement(suite, "testcase", classname=f"objstore-conformance.{impl.name}", name="(run)",
                                 time=f"{impl.seconds:.3f}")
            counts["tests"] += 1
            if impl.broken:
                error = ET.SubElement(case, "error", message=impl.note or
                                      f"the pytest run ended with status {impl.exitstatus}")
                error.text = impl.log
                counts["errors"] += 1
            else:
                ET.SubElement(case, "system-out").text = impl.note
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{report.seconds:.3f}")
    if hasattr(ET, "indent"):  # Python 3.9+; 3.8 writes it on one line
        ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(report: Report, out_dir: str, *, junitxml: Optional[str] = None) -> List[Path]:
    """Write ``report.md``, ``report.json`` and ``report.html`` into ``out_dir`` (made if missing), and the
    JUnit XML to ``junitxml`` when given (its folder made if missing); return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.md", out / "report.json", out / "report.html"]
    paths[0].write_text(markdown(report), encoding="utf-8")
    paths[1].write_text(json.dumps(to_json(report), indent=2, default=repr) + "\n", encoding="utf-8")
    paths[2].write_text(html_page(report), encoding="utf-8")
    if junitxml:
        junit = Path(junitxml)
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(report), encoding="utf-8")
        paths.append(junit)
    return paths
