"""How reliably the suite catches its mutants: run every mutant's target clauses ``--runs`` times, each
with another Hypothesis seed and an empty example database, and print per mutant how many runs caught it.

    python tests/meta_catch_rate.py                        # 10 runs at the ci profile's examples
    python tests/meta_catch_rate.py --max-examples 5 --runs 10 --mutant no_memo --mutant plain_builtins

A mutant is caught by a run when every clause it targets fails (or errors) there, as in the meta test
(``tests/test_conformance_mutants.py``). The cheapest ``--max-examples`` at which every mutant is caught
in every run is what the ``ci`` profile (``conformance.settings.PROFILES``) should use; README.md gives the
figures of the last calibration. Exit status 1 when a mutant was missed in some run, else 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from conformance.mutants import MUTANTS
from conformance.report import run_implementation
from conformance.settings import PROFILES

__all__ = ["catch_counts", "caught", "main"]


def caught(name: str, *, seed: int, max_examples: int) -> Optional[bool]:
    """Whether one run (Hypothesis seed ``seed``, ``max_examples`` per property clause, an empty example
    database) fails every clause mutant ``name`` targets; ``None`` when the mutant cannot be built here
    (what it wraps is not installed)."""
    try:
        MUTANTS[name].factory()
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="catch-rate-db-") as database:
        result = run_implementation(f"mutant.{name}", clauses=MUTANTS[name].targets, max_examples=max_examples,
                                    database=database, extra_args=["--hypothesis-seed", str(seed)])
    return all(c in result.clauses and result.clauses[c].status in ("fail", "error")
               for c in MUTANTS[name].targets)


def catch_counts(names: Sequence[str], *, runs: int, max_examples: int, workers: int = 2,
                 first_seed: int = 0) -> Dict[str, Tuple[int, int]]:
    """``name -> (runs that caught it, runs)`` for each mutant in ``names``, over seeds ``first_seed`` ...
    ``first_seed + runs - 1``, ``workers`` runs at a time. A mutant that cannot be built here is left out."""
    jobs = [(name, seed) for seed in range(first_seed, first_seed + runs) for name in names]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda job: caught(job[0], seed=job[1], max_examples=max_examples), jobs))
    counts: Dict[str, Tuple[int, int]] = {}
    for (name, _seed), outcome in zip(jobs, outcomes):
        if outcome is None:
            continue
        hits, total = counts.get(name, (0, 0))
        counts[name] = (hits + bool(outcome), total + 1)
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per mutant, each with its own seed (10)")
    parser.add_argument("--max-examples", type=int, default=PROFILES["ci"]["max_examples"],
                        help="Hypothesis examples per property clause (default: the ci profile's)")
    parser.add_argument("--mutant", action="append", default=[], metavar="NAME",
                        help="only this mutant (repeatable; default: every mutant)")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (2)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first Hypothesis seed (0)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.mutant if m not in MUTANTS]
    if unknown:
        parser.error(f"unknown mutants {unknown}: choose from {sorted(MUTANTS)}")
    names = args.mutant or sorted(MUTANTS)
    start = time.monotonic()
    counts = catch_counts(names, runs=args.runs, max_examples=args.max_examples, workers=args.workers,
                          first_seed=args.first_seed)
    width = max(len(n) for n in names)
    print(f"{'mutant':<{width}}  caught  targets   (max_examples={args.max_examples}, seeds "
          f"{args.first_seed}..{args.first_seed + args.runs - 1})")
    for name in names:
        if name not in counts:
            print(f"{name:<{width}}  -       cannot be built here")
            continue
        hits, total = counts[name]
        print(f"{name:<{width}}  {hits:>2}/{total:<2}   {', '.join(MUTANTS[name].targets)}")
    missed = sorted(n for n, (hits, total) in counts.items() if hits < total)
    print(f"{len(counts)} mutants, {sum(h for h, _ in counts.values())} catches in "
          f"{sum(t for _, t in counts.values())} runs; missed in some run: {missed or 'none'}; "
          f"{time.monotonic() - start:.0f} s")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
