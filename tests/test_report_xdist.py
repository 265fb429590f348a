"""The suite under pytest-xdist (`-n`): the whole suite, multiprocess, node and stateful clauses included,
passes in parallel against the reference, and the report gives the same matrix with `-n` as without."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conformance.report import run_implementation

pytest.importorskip("xdist", reason="pytest-xdist is in the `test` extra")

# End to end (the whole suite under workers, twice): tox runs it once, in `e2e`.
pytestmark = pytest.mark.e2e


def test_whole_suite_passes_with_two_workers(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "--pyargs",
                           "conformance", "--impl", "reference", "-q", "-rfE"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "failed" not in proc.stdout and "error" not in proc.stdout.lower()
    assert "crashed" not in proc.stdout + proc.stderr  # no worker died on the way


@pytest.mark.parametrize("spec, clauses, fails", [
    ("mutant.store_copies_on_get", ["store.*"], True),  # processes, stateful model, a failure to report
    ("reference", ["store.nodes.*", "store.multiprocess.*", "serializer.functions.*"], False),
])
def test_report_matrix_is_the_same_with_and_without_workers(spec, clauses, fails):
    serial = run_implementation(spec, clauses=clauses, max_examples=5)
    parallel = run_implementation(spec, clauses=clauses, max_examples=5, extra_args=["-n", "2"])
    assert serial.clauses and parallel.exitstatus == serial.exitstatus, parallel.log
    assert {c: r.status for c, r in parallel.clauses.items()} == {c: r.status for c, r in serial.clauses.items()}
    assert parallel.capabilities == serial.capabilities and parallel.description == serial.description
    assert ("fail" in {r.status for r in serial.clauses.values()}) is fails
