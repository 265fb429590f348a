"""The suite proves itself: each mutant fails the clauses meant to catch it, and every clause has a mutant.

Each mutant runs in its own pytest subprocess, restricted to its target clauses (``--clause``), at the
``ci`` profile's examples per clause, with a fixed Hypothesis seed and an empty example database, so the
proof neither depends on luck nor on failures remembered from earlier runs; two run at a time. How reliably
each mutant is caught over other seeds is measured by ``tests/meta_catch_rate.py`` (figures in README.md).
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Optional

import pytest

from conformance.clauses import all_clauses
from conformance.mutants import MUTANTS
from conformance.report import ImplResult, run_implementation
from conformance.settings import PROFILES

# The proof is about the suite, not the interpreter: tox runs it once, in the `meta` environment. Each item
# runs a mutant's clauses in a child pytest; on a loaded 2-core machine that took over the default 600 s once,
# so the meta tests share the 20-minute bound of the load and narrow meta tests.
pytestmark = [pytest.mark.meta, pytest.mark.timeout(1200)]

#: The quick profile's examples per clause: the proof is that the profile CI runs catches every mutant
#: (calibrated with tests/meta_catch_rate.py); the seed makes the run repeatable.
MAX_EXAMPLES = PROFILES["ci"]["max_examples"]


def _unloadable(name: str) -> Optional[str]:
    """Why mutant ``name`` cannot be built here (a part of what it wraps is not installed), or None."""
    try:
        MUTANTS[name].factory()
    except ImportError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def mutant_results(request) -> Dict[str, Optional[ImplResult]]:
    def run(name: str) -> Optional[ImplResult]:
        if _unloadable(name) is not None:
            return None
        with tempfile.TemporaryDirectory(prefix="meta-db-") as database:
            return run_implementation(f"mutant.{name}", clauses=MUTANTS[name].targets,
                                      max_examples=MAX_EXAMPLES, database=database,
                                      extra_args=["--hypothesis-seed", "0"])

    # Only the mutants whose tests were selected (``-k`` and friends), two at a time.
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "originalname", "") == "test_mutant_is_caught"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(run, names)))


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(mutant_results, name):
    """Every clause a mutant targets fails (or errors) against it."""
    result = mutant_results[name]
    if result is None:
        pytest.skip(f"mutant {name!r} cannot be built here: {_unloadable(name)}")
    survived = {c: result.clauses[c].status if c in result.clauses else "not run"
                for c in MUTANTS[name].targets
                if c not in result.clauses or result.clauses[c].status not in ("fail", "error")}
    assert not survived, (f"mutant {name!r} ({MUTANTS[name].defect}) survived clauses {survived}; "
                          f"pytest exit status {result.exitstatus}\n{result.log}")


def test_every_clause_has_a_mutant():
    """A clause that no mutant targets is not finished."""
    targeted = {c for m in MUTANTS.values() for c in m.targets}
    untested = sorted(set(all_clauses()) - targeted)
    assert not untested, f"clauses no mutant targets: {untested}"


def test_mutant_targets_are_clauses():
    """Targets name real clauses (a typo would make a mutant vacuous)."""
    clauses = set(all_clauses())
    unknown = {name: [t for t in m.targets if t not in clauses] for name, m in MUTANTS.items()}
    assert not {k: v for k, v in unknown.items() if v}, unknown
