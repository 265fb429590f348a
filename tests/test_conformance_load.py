"""A conformance suite must never fail a correct implementation because the machine is busy.

The store clauses (the multiprocess and timeout ones above all: they start child interpreters and wait
for them) run against the reference while every core is kept busy by several spinning processes. Every
claimed store clause must pass. The spinners are started by the test and always killed and reaped, even
when the run fails or is interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator, List

import pytest

from conformance.report import run_implementation

# Slow and about the suite, not the interpreter: tox runs it once, in the `meta` environment. The load
# these tests make (and whatever else the machine runs) slows them several times over: they get twice the
# project's usual 10 minutes.
pytestmark = [pytest.mark.meta, pytest.mark.timeout(1200)]

#: Busy processes per core: a load average of about four times the cores, beyond what CI machines see.
SPINNERS_PER_CORE = 4
#: Few examples: the point is waiting under load, not finding rare values.
MAX_EXAMPLES = 5


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@pytest.fixture
def cpu_load() -> Iterator[List["subprocess.Popen[bytes]"]]:
    """``SPINNERS_PER_CORE`` spinning interpreters per core for the duration of the test."""
    spinners: List["subprocess.Popen[bytes]"] = []
    try:
        for _ in range(SPINNERS_PER_CORE * _cores()):
            spinners.append(subprocess.Popen([sys.executable, "-c", "while 1: pass"],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        time.sleep(1.0)  # let them take the cores before the suite starts
        yield spinners
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()


def test_store_clauses_pass_under_cpu_load(cpu_load):
    """Every store clause passes against the reference with every core busy several times over."""
    assert all(p.poll() is None for p in cpu_load), "a spinner died before the suite ran"
    result = run_implementation("reference", clauses=["store.*"], max_examples=MAX_EXAMPLES)
    assert all(p.poll() is None for p in cpu_load), "a spinner died while the suite ran: the load was not there"
    assert not result.broken, f"the run broke down (exit status {result.exitstatus}):\n{result.log}"
    store_clauses = [c for c in result.clauses if c.startswith("store.")]
    assert "store.timeouts.wait_for_put" in store_clauses and "store.multiprocess.get" in store_clauses
    failed = {c: (r.status, r.message[:500]) for c, r in result.clauses.items() if r.status != "pass"}
    assert not failed, f"store clauses that did not pass under load ({len(cpu_load)} spinners): {failed}"


#: Makes every ``python -m conformance._child_main`` interpreter start this many seconds late (what a loaded
#: machine does to an interpreter importing numpy), and no other.
SLOW_START = '''
import os
import sys
import time

if "conformance._child_main" in getattr(sys, "orig_argv", ()):
    time.sleep(float(os.environ["CONFORMANCE_TEST_SLOW_START"]))
'''

#: Longer than any wait a clause used to start before its child had even imported (30 s).
START_DELAY = 35.0


@pytest.mark.skipif(sys.version_info < (3, 10), reason="needs sys.orig_argv (3.10+) to single out the children")
def test_a_child_that_starts_slowly_fails_no_clause(tmp_path, monkeypatch):
    """A clause that waits for another process measures from the moment that process is ready (its
    interpreter has imported and set up), not from when it was started: children that take longer to start
    than any bound a clause sets fail no clause."""
    (tmp_path / "sitecustomize.py").write_text(SLOW_START)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("CONFORMANCE_TEST_SLOW_START", str(START_DELAY))
    start = time.monotonic()
    result = run_implementation("reference", clauses=["store.timeouts.wait_for_put"], max_examples=MAX_EXAMPLES)
    assert time.monotonic() - start > START_DELAY, "the child did not start late: the test proves nothing"
    assert not result.broken, f"the run broke down (exit status {result.exitstatus}):\n{result.log}"
    cell = result.clauses["store.timeouts.wait_for_put"]
    assert cell.status == "pass", f"{cell.status}: {cell.message[:1000]}"
