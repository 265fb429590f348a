"""The suite proves itself against the Ray store adapter: each Ray mutant (``conformance.mutants_ray``)
fails the clauses meant to catch it. Needs Ray (skipped without it), so it runs in ``tox -e ray``, not in
``tox -e meta`` (where these mutants do not load and skip).

Each mutant runs in its own pytest subprocess with its own local Ray, restricted to its target clauses,
with a fixed Hypothesis seed; two run at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'objstore-conformance[ray]')")

from conformance.mutants import MUTANTS  # noqa: E402
from conformance.mutants_ray import RAY_MUTANTS  # noqa: E402
from conformance.report import ImplResult, run_implementation  # noqa: E402


@pytest.fixture(scope="module")
def results() -> Dict[str, ImplResult]:
    def run(name: str) -> ImplResult:
        return run_implementation(f"mutant.{name}", clauses=MUTANTS[name].targets, max_examples=5,
                                  extra_args=["--hypothesis-seed", "0"], timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(RAY_MUTANTS, pool.map(run, RAY_MUTANTS)))


@pytest.mark.parametrize("name", RAY_MUTANTS)
def test_ray_mutant_is_caught(results: Dict[str, Any], name: str) -> None:
    """Every clause a Ray mutant targets fails (or errors) against it, on a real Ray."""
    result = results[name]
    survived = {c: result.clauses[c].status if c in result.clauses else "not run"
                for c in MUTANTS[name].targets
                if c not in result.clauses or result.clauses[c].status not in ("fail", "error")}
    assert not survived, (f"mutant {name!r} ({MUTANTS[name].defect}) survived clauses {survived}; "
                          f"pytest exit status {result.exitstatus}\n{result.log}")


def test_ray_mutants_target_ray_clauses() -> None:
    """A Ray mutant targets only clauses whose capabilities Ray claims (else its proof would be vacuous)."""
    from conformance.adapters.ray import ray_implementation
    from conformance.clauses import all_clauses

    clauses = all_clauses()
    impl = ray_implementation()
    for name in RAY_MUTANTS:
        for target in MUTANTS[name].targets:
            assert not impl.missing(clauses[target].requires), (name, target)
