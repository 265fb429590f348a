"""Checks shared by the tests of the report: every report.json a test produces is valid against the schema
shipped in the package (conformance/report/report.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Union

from jsonschema import Draft202012Validator

from conformance.report import load_schema


def assert_valid_report(report: Union[str, Path, Dict[str, Any]]) -> Dict[str, Any]:
    """Validate ``report`` (a report.json path, or its data) against the shipped schema; return the data."""
    data = json.loads(Path(report).read_text(encoding="utf-8")) if isinstance(report, (str, Path)) else report
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "report.json does not match its schema:\n" + "\n".join(
        f"  {'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])
    return data
