"""The reliability and security battery (issue 7): scale, the ``stress`` marker, and the figures each part prints.

``STRESS_SCALE`` chooses the size: ``short`` (the default, the CI form: the whole battery in about a minute)
or ``full`` (``tox -e stress``: 8 processes, 100+ SIGKILLs, a million fuzz inputs). Every test here carries
the ``stress`` marker, so ``pytest -m "not stress"`` leaves the battery out and ``pytest -m stress`` runs it
alone.

CI runs the project's tests on six interpreters; the battery exercises processes, signals and shared memory,
not the interpreter, so when ``STRESS_SCALE`` is not set it runs on CPython 3.11 only and is skipped with
that reason elsewhere. Setting ``STRESS_SCALE`` (to ``short`` or ``full``) runs it on any interpreter.

Each part records its figures with the ``figures`` fixture; they are printed after the run under
"stress figures" whatever pytest's capture mode, and written as JSON to ``$STRESS_FIGURES`` if that is set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Tuple

import pytest

_HOME_PYTHON = (3, 11)
_collected: List[Tuple[str, Dict[str, Any]]] = []


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        "stress: the reliability and security battery (tests/stress); STRESS_SCALE=short|full sizes it",
    )


def pytest_collection_modifyitems(config: Any, items: List[Any]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    skip = None
    if "STRESS_SCALE" not in os.environ and sys.version_info[:2] != _HOME_PYTHON:
        skip = pytest.mark.skip(
            reason=f"the stress battery runs once per CI run, on CPython {_HOME_PYTHON[0]}.{_HOME_PYTHON[1]}; "
                   f"set STRESS_SCALE=short (or full) to run it on this interpreter"
        )
    battery = []
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.stress)
            if skip is not None:
                item.add_marker(skip)
            battery.append(item)
    # The battery runs last: it allocates and frees hundreds of MiB in this process, after which glibc serves
    # small allocations from memory already resident (its mmap threshold grows), and a test measuring RSS
    # growth (tests/test_benchmarks.py::test_the_leaky_pickler_makes_store_rss_jump) would see none.
    if battery:
        ids = {id(item) for item in battery}
        items[:] = [item for item in items if id(item) not in ids] + battery


@pytest.fixture
def figures(request: Any) -> Dict[str, Any]:
    """A dict a test fills with its figures (counts, rates); printed after the run, also on failure."""
    record: Dict[str, Any] = {}
    yield record
    if record:
        _collected.append((request.node.nodeid, record))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _collected:
        return
    terminalreporter.section("stress figures (STRESS_SCALE=%s)" % os.environ.get("STRESS_SCALE", "short"))
    for nodeid, record in _collected:
        terminalreporter.write_line(nodeid)
        for key, value in record.items():
            if isinstance(value, float):
                value = f"{value:,.1f}"
            elif isinstance(value, int) and not isinstance(value, bool):
                value = f"{value:,}"
            terminalreporter.write_line(f"    {key:<34} {value}")
    path = os.environ.get("STRESS_FIGURES")
    if path:
        with open(path, "w") as f:
            json.dump({nodeid: record for nodeid, record in _collected}, f, indent=1, default=str)
