"""The report's event writer, a pytest plugin: one JSON line per test outcome to ``--conformance-results``.

Loaded with ``-p conformance.report.events`` in each per-implementation pytest subprocess; the parent
(:mod:`conformance.report.runner`) reads the file as it grows (progress) and after the child ends
(results), so a crash loses only the tests not run.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

import pytest

_EXAMPLE_START = re.compile(r"(Falsifying example|Failing test case)")


def pytest_addoption(parser: Any) -> None:
    parser.getgroup("conformance").addoption(
        "--conformance-results", default=None, metavar="PATH",
        help="write one JSON line per test outcome here (used by objstore-conformance report)")


class _Writer:
    def __init__(self, path: str) -> None:
        self._f = open(path, "a", encoding="utf-8")

    def write(self, record: Dict[str, Any]) -> None:
        self._f.write(json.dumps(record, default=repr) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


_writer: Optional[_Writer] = None


def pytest_configure(config: Any) -> None:
    global _writer
    path = config.getoption("conformance_results")
    # Under pytest-xdist only the controller writes: workers' reports reach it with their user properties.
    if path and not hasattr(config, "workerinput"):
        _writer = _Writer(path)


def pytest_unconfigure(config: Any) -> None:
    global _writer
    if _writer is not None:
        _writer.close()
        _writer = None


def _clause(item: Any) -> Optional[str]:
    mark = item.get_closest_marker("clause")
    return mark.args[0] if mark else None


def pytest_collection_finish(session: Any) -> None:
    for it in session.items:
        if _clause(it):
            it.user_properties.append(("clause", _clause(it)))
    if _writer is not None:
        # The implementation as this process loaded it: the report's own process never imports a peer.
        from conformance.choice import chosen

        impl = chosen(session.config)
        about = ({"description": impl.description, "capabilities": sorted(impl.capabilities),
                  "adapter_tested": dict(impl.adapter_tested)} if impl is not None else {})
        _writer.write({"event": "collected", "implementation": about, "tests": [
            {"nodeid": it.nodeid, "clause": _clause(it)} for it in session.items]})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: List[str]) -> None:
    """Under pytest-xdist the controller collects nothing itself: the first worker's collection stands for
    the run's (every worker collects the same tests), and the implementation is loaded here to describe it."""
    global _collected_by_worker
    if _writer is None or _collected_by_worker:
        return
    _collected_by_worker = True
    from conformance.choice import impl_name
    from conformance.registry import ImplementationError, load_implementation

    about: Dict[str, Any] = {}
    name = impl_name(node.config)
    if name:
        try:
            impl = load_implementation(name)
            about = {"description": impl.description, "capabilities": sorted(impl.capabilities),
                     "adapter_tested": dict(impl.adapter_tested)}
        except ImplementationError:
            pass  # the workers report it
    _writer.write({"event": "collected", "implementation": about,
                   "tests": [{"nodeid": nodeid, "clause": None} for nodeid in ids]})


_collected_by_worker = False


def _strip(lines: List[str]) -> List[str]:
    out = []
    for line in lines:
        if line.startswith("E "):
            line = line[2:]
        out.append(line.rstrip()[:300])
    return out


def extract_failure(text: str, sections: List[Any]) -> Dict[str, str]:
    """(message, example, reproduce) from a failure's long report and captured output."""
    lines = text.splitlines()
    e_lines = [ln for ln in lines if ln.startswith("E ")]
    message = ""
    for ln in e_lines:
        body = ln[2:].strip()
        if body and not body.startswith(("+", "where", "At index", "Use -v", "Omitting")):
            message = body
            break
    if not message:
        message = next((ln.strip() for ln in lines if ln.strip()), "")[:300]
    example: List[str] = []
    for i, ln in enumerate(lines):
        if _EXAMPLE_START.search(ln):
            for follow in _strip(lines[i:]):
                if follow.strip().startswith(("# reproduce:", "Explanation:", "You can reproduce")):
                    break
                if follow.strip().startswith("impl=") or "load_implementation(" in follow and "impl=" in follow:
                    continue
                example.append(follow.strip())
                if len(example) >= 15:
                    break
            break
    snippet: List[str] = []
    sources = [lines] + [str(content).splitlines() for _title, content in sections]
    for src in sources:
        for i, ln in enumerate(src):
            if "# reproduce:" in ln:
                for follow in _strip(src[i:]):
                    s = follow.strip()
                    if not s or s.startswith(("Explanation:", "You can reproduce", "These lines")):
                        break
                    snippet.append(s)
                break
        if snippet:
            break
    return {"message": message, "example": "\n".join(example), "reproduce": "\n".join(snippet[:20])}


def pytest_runtest_logreport(report: Any) -> None:
    if _writer is None:
        return
    wasxfail = hasattr(report, "wasxfail")
    outcome = None
    detail: Dict[str, Any] = {}
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.passed:
            outcome = "xpassed" if wasxfail else "passed"
        elif report.skipped:
            if wasxfail:
                outcome, detail = "xfailed", {"reason": str(report.wasxfail)}
            else:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                reason = reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
                outcome = "not claimed" if reason.startswith("not claimed") else "skipped"
                detail = {"reason": reason}
        else:
            outcome = "failed" if report.when == "call" else "error"
            detail = extract_failure(report.longreprtext, list(report.sections))
    elif report.when == "teardown" and report.failed:
        outcome = "error"
        detail = extract_failure(report.longreprtext, list(report.sections))
    if outcome is None:
        return
    clause = None
    for key, value in report.user_properties:
        if key == "clause":
            clause = value
    _writer.write({"event": "test", "nodeid": report.nodeid, "clause": clause, "outcome": outcome,
                   "duration": round(report.duration, 3), **detail})


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if _writer is not None:
        _writer.write({"event": "finished", "exitstatus": int(exitstatus)})
