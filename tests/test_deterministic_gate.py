"""Deterministic gates: ``--derandomize`` (and the report's ``--strict-xfail``, which implies it) draws the
same examples on every run of the same code, so a rarely hit failure cannot flip the verdict between runs;
``--explore`` draws random ones even where Hypothesis would derandomize; ``--no-shrink`` leaves out the
shrink phase."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import Phase

from conformance.settings import clause_settings

#: A Hypothesis test under the suite's clause settings (chosen by argv[1]) that prints what it drew.
DRAWS = textwrap.dedent('''
    import json, sys
    from hypothesis import given, strategies as st
    from conformance.settings import clause_settings

    mode = sys.argv[1]
    drawn = []

    @clause_settings(max_examples=30, derandomize={"derandomize": True, "explore": False}[mode])
    @given(st.integers(0, 2**64))
    def draw(n):
        drawn.append(n)

    draw()
    print(json.dumps(drawn))
''')


def _draws(mode: str) -> list:
    out = subprocess.run([sys.executable, "-c", DRAWS, mode], capture_output=True, text=True, check=True,
                         timeout=300, env={"PATH": "", "PYTHONHASHSEED": "random"}).stdout
    return json.loads(out)


def test_derandomized_runs_draw_the_same_examples_and_exploring_ones_do_not():
    first, second = _draws("derandomize"), _draws("derandomize")
    assert first == second and len(first) == 30
    assert _draws("explore") != _draws("explore"), "two exploring runs drew the same 30 integers below 2**64"


def test_derandomize_uses_no_database_and_no_shrink_drops_the_phase(tmp_path):
    gate = clause_settings(derandomize=True, database=str(tmp_path))
    assert gate.derandomize and gate.database is None
    explore = clause_settings(derandomize=False, database=str(tmp_path))
    assert not explore.derandomize and explore.database is not None
    assert Phase.shrink in clause_settings().phases
    assert Phase.shrink not in clause_settings(shrink=False).phases


def test_report_strict_xfail_runs_derandomized_and_no_shrink_reaches_the_runs(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "conformance", "report", "--impl", "pickle5", "--strict-xfail",
                           "--no-shrink", "--max-examples", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    settings = json.loads((out / "report.json").read_text())["settings"]
    assert {"--derandomize", "--no-shrink"} <= set(settings["pytest_args"])
    assert not (out / "hypothesis" / "pickle5").exists() or not any((out / "hypothesis" / "pickle5").rglob("*.*"))


@pytest.mark.parametrize("flags", [["--derandomize", "--explore"]])
def test_derandomize_and_explore_exclude_each_other(flags):
    proc = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance", "--impl", "pickle5",
                           "--clause", "serializer.native.roundtrip", "-p", "no:cacheprovider", *flags],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "exclude each other" in proc.stdout + proc.stderr
