"""Every xfail of an adapter written with the kit is cited: its comment names the upstream issue
(``owner/repo#N``) or says "no upstream issue found" and points at a reproduction under ``docs/repro/``; and
each reproduction still reproduces (it prints ``reproduced: True``) wherever its peer is installed.

A reproduction is a script a maintainer can paste into a bug report: it imports only the peer, and takes the
pickler to use as its argument where several peers share the bug (cloudpickle and the libraries that vendor
or wrap it).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPRO = ROOT / "docs" / "repro"
XFAILS = ROOT / "conformance" / "xfails"
#: The xfails files of the adapters written with the kit: every entry there must be cited.
CITED = ("dask", "dask-serialize", "joblib", "srsly", "torch")
#: (script, argument, module the run needs): each reproduction, once per peer that shares it.
RUNS: List[Tuple[str, str, str]] = [
    ("joblib_shared_members.py", "", "joblib"),
    ("dask_serialize_frames.py", "", "distributed"),
    ("forkingpickler_sockets.py", "", "torch"),
    ("cloudpickle_slots.py", "cloudpickle", "cloudpickle"),
    ("cloudpickle_slots.py", "srsly", "srsly"),
    ("cloudpickle_slots.py", "dask", "distributed"),
    ("cloudpickle_unhashable_metaclass.py", "cloudpickle", "cloudpickle"),
    ("cloudpickle_unhashable_metaclass.py", "srsly", "srsly"),
    ("cloudpickle_unhashable_metaclass.py", "dask", "distributed"),
]
_ISSUE = re.compile(r"\b[\w.-]+/[\w.-]+#\d+|\B#\d+\b")


def entries_with_comments(path: Path) -> List[Tuple[int, str, str]]:
    """``(line, entry, comment)`` of each entry of an xfails file: the ``#`` block just above it (a blank
    line ends a block; entries in a row share it)."""
    found, block, last_was_entry = [], [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text:
            block, last_was_entry = [], False
        elif text.startswith("#"):
            if last_was_entry:
                block = []
            block.append(text.lstrip("# "))
            last_was_entry = False
        else:
            found.append((n, text.split("#", 1)[0].strip(), " ".join(block)))
            last_was_entry = True
    return found


@pytest.mark.parametrize("name", CITED)
def test_every_xfail_cites_an_issue_or_a_reproduction(name):
    path = XFAILS / f"{name}.txt"
    assert path.is_file(), f"{path} is missing"
    for line, entry, comment in entries_with_comments(path):
        if _ISSUE.search(comment):
            continue
        assert "no upstream issue found" in comment.lower(), (
            f"{path.name}:{line}: {entry} cites no upstream issue and does not say 'no upstream issue found'")
        scripts = re.findall(r"docs/repro/([\w.-]+\.py)", comment)
        assert scripts, f"{path.name}:{line}: {entry} has no reproduction (docs/repro/<script>.py)"
        for script in scripts:
            assert (REPRO / script).is_file(), f"{path.name}:{line}: docs/repro/{script} does not exist"
            assert any(s == script for s, _, _ in RUNS), f"docs/repro/{script} is not run by this test"


@pytest.mark.parametrize("script, which, module", RUNS, ids=[f"{s}-{w or m}" for s, w, m in RUNS])
def test_reproduction_still_reproduces(script, which, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed here (tox -e peers-light and -e peers run this)")
    proc = subprocess.run([sys.executable, str(REPRO / script), *([which] if which else [])], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last == "reproduced: True", f"{script} {which} no longer reproduces: {proc.stdout}"
