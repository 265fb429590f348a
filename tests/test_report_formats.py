"""The report for machines: report.json against its shipped, versioned schema; JUnit XML; the gate with and
without --strict-xfail; and Hypothesis' example database kept under the output folder, so that a failure
found once is replayed first on the next run."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from report_checks import assert_valid_report

from conformance.report import (
    EXIT_FAILED,
    EXIT_PASSED,
    SCHEMA_VERSION,
    STATUSES,
    ClauseResult,
    ImplResult,
    Report,
    database_dir,
    load_schema,
    run_implementation,
    to_json,
    write,
)

SETTINGS = {"max_examples": 5, "profile": "ci", "python": "3.11.7", "pytest_args": []}


def _every_status_report(*, strict: bool = False) -> Report:
    """One implementation with a cell of every status, and one whose run broke down."""
    ids = [f"area.case.s{i}" for i in range(len(STATUSES))]
    cells = {cid: ClauseResult(status, items={f"x.py::t{i}": "passed"}, message=f"<{status}>",
                               reason="listed in xfails.txt:1" if "x" in status else "", seconds=0.5)
             for i, (cid, status) in enumerate(zip(ids, STATUSES)) if status != "not run"}
    every = ImplResult("every", cells, 3.0, 1, description="all of them", capabilities=["numpy"])
    broken = ImplResult("broken", {}, 900.0, None, log="Traceback ...", note="the run took longer than 900 s")
    return Report([every, broken], ids, {cid: "summary" for cid in ids}, 903.0, SETTINGS, strict_xfail=strict)


def test_schema_is_a_valid_draft_2020_12_schema_of_this_version():
    schema = load_schema()
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert set(schema["$defs"]["status"]["enum"]) == set(STATUSES)


@pytest.mark.parametrize("strict", [False, True])
def test_every_status_validates_and_round_trips_through_json(strict):
    data = assert_valid_report(json.loads(json.dumps(to_json(_every_status_report(strict=strict)))))
    assert data["schema_version"] == SCHEMA_VERSION and data["strict_xfail"] is strict
    every = data["implementations"][0]["results"]
    assert [every[c]["status"] for c in every] == list(STATUSES)
    assert data["failed"] and data["exit_status"] == EXIT_FAILED


def test_schema_rejects_what_a_gate_could_misread():
    data = to_json(_every_status_report())
    data["implementations"][0]["results"]["area.case.s0"]["status"] = "FAIL"  # a symbol, not a status
    with pytest.raises(AssertionError, match="status"):
        assert_valid_report(data)


def test_xpass_fails_the_gate_only_when_strict():
    cells = {"a.b": ClauseResult("pass"), "a.c": ClauseResult("xpass"), "a.d": ClauseResult("xfail")}
    lenient = Report([ImplResult("i", cells, 1.0, 0)], list(cells), {}, 1.0, SETTINGS)
    strict = Report([ImplResult("i", cells, 1.0, 0)], list(cells), {}, 1.0, SETTINGS, strict_xfail=True)
    assert not lenient.failed and lenient.exit_status == EXIT_PASSED
    assert strict.failed and strict.exit_status == EXIT_FAILED and "XPASS" in strict.verdict
    for report in (lenient, strict):
        assert_valid_report(to_json(report))


@pytest.mark.parametrize("strict", [False, True])
def test_junit_xml_has_a_case_per_clause_and_counts_them(tmp_path, strict):
    report = _every_status_report(strict=strict)
    paths = write(report, str(tmp_path / "out"), junitxml=str(tmp_path / "ci" / "junit.xml"))
    assert paths[-1] == tmp_path / "ci" / "junit.xml"
    root = ET.parse(paths[-1]).getroot()
    every, broken = root.findall("testsuite")
    cases = {c.get("name"): c for c in every.findall("testcase")}
    assert list(cases) == report.clause_ids
    kind = {name: [child.tag for child in case if child.tag != "properties"] for name, case in cases.items()}
    by_status = {s: kind[f"area.case.s{i}"] for i, s in enumerate(STATUSES)}
    assert by_status["pass"] == [] and by_status["fail"] == ["failure"] and by_status["error"] == ["error"]
    assert by_status["xpass"] == (["failure"] if strict else [])
    for status in ("xfail", "not claimed", "skip", "not run"):
        assert by_status[status] == ["skipped"], status
    assert every.get("failures") == ("2" if strict else "1") and every.get("errors") == "1"
    assert every.get("skipped") == "4" and every.get("tests") == str(len(STATUSES))
    (run,) = [c for c in broken.findall("testcase") if c.get("name") == "(run)"]
    assert run.find("error").get("message") == "the run took longer than 900 s"
    assert root.get("errors") == str(int(every.get("errors")) + int(broken.get("errors")))
    assert_valid_report(paths[1])


def test_a_failure_found_once_is_replayed_first_next_time(tmp_path):
    """The report keeps Hypothesis' database in <out>/hypothesis/<implementation>: the first run finds a
    mutant's failure and saves its example; a second run with a single example per clause fails again,
    while a run from an empty database with that single example passes (Hypothesis tries the simplest
    example first, and it has no shared reference). No --hypothesis-seed: a pinned seed turns the database
    off."""
    spec, clause_id = "mutant.no_memo", "serializer.identity.shared"
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "conformance", "report", "--impl", spec, "--out", str(out)]
    first = subprocess.run(cmd + ["--max-examples", "25"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stdout + first.stderr
    assert assert_valid_report(out / "report.json")["implementations"][0]["results"][clause_id]["status"] == "fail"
    saved = [p for p in (out / "hypothesis" / spec).rglob("*") if p.is_file()]
    assert saved, "no example was saved under the output folder"
    assert str(out / "hypothesis" / spec) == database_dir(str(out), spec)

    again = run_implementation(spec, clauses=[clause_id], max_examples=1, database=database_dir(str(out), spec))
    fresh = run_implementation(spec, clauses=[clause_id], max_examples=1, database=str(tmp_path / "empty"))
    assert again.clauses[clause_id].status == "fail", again.log
    assert fresh.clauses[clause_id].status == "pass", "one generated example already finds it: the test proves nothing"
