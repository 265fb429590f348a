"""One real ``objstore-conformance bench --quick`` run, as a user runs it in a project's clone: asv runs, the
ratios to the reference and to memcpy are printed with what was skipped and why, the work folder's index
names the run, and ``--compare`` against that run's own results passes the gate.

A subset of the suite (put and memcpy) keeps it to about a minute; tox runs it in ``bench-check``, where asv
is installed (elsewhere it skips, saying so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.bench.asvrun import recorded_runs

pytest.importorskip("asv", reason="asv is in the `bench` extra (tox -e bench-check); install it to run this test")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args], cwd=cwd,
                   check=True, capture_output=True)


def _fast_base(path: Path) -> Path:
    """A results file in which shared_memory's puts took a nanosecond: any real run is slower past any
    threshold (no reference in it, so nothing to normalize by)."""
    columns = ["result", "params", "version", "started_at", "duration"]
    values = ["int", "dict-10", "1KiB", "1MiB"]
    row = [[1e-9] * len(values), [["'shared_memory'"], [repr(v) for v in values]], "v", 1, 1.0]
    path.write_text(json.dumps({"commit_hash": "0" * 40, "params": {"machine": "old"}, "result_columns": columns,
                                "results": {"bench_store.Put.time_put": row}, "version": 2}))
    return path


def test_a_quick_run_prints_ratios_and_the_gate_fails_on_a_slowdown(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "README").write_text("a project that benchmarks its adapter\n")
    _git(project, "init", "-q")
    _git(project, "add", "README")
    _git(project, "commit", "-qm", "start")
    env = dict(os.environ, HOME=str(tmp_path))  # asv writes ~/.asv-machine.json
    cmd = [sys.executable, "-m", "conformance", "bench", "--impl", "shared_memory", "--quick", "--host", "ci",
           "--bench", r"Put\.time_put|Memcpy", "--compare", str(_fast_base(tmp_path / "base.json")),
           "--threshold", "25%"]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert "shared_memory: ratios to the reference and to the limits" in out, out[-4000:]
    assert "store put" in out and "memcpy (warm)" in out and "vs ref" in out
    assert "skipped Dumps [3]: protocol 3 not claimed" in out  # shared_memory claims protocol 5 only
    (run,) = recorded_runs(project / ".objstore-bench")
    assert run.spec == "shared_memory" and run.machine == "ci--shared_memory--quick" and run.results.exists()
    assert "4 timings compared, threshold 1.25x" in out and "REGRESSED store put [1MiB]" in out
    assert proc.returncode == 1, out[-4000:]
