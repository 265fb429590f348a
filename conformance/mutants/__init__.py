"""Mutants: implementations with one deliberate defect each, which the suite must catch.

Each mutant wraps a correct implementation (one of the shipped adapters, through its public classes) and
breaks exactly one promise, while claiming every capability a correct one would. ``MUTANTS[name].targets``
lists the clause ids that must fail against it; the meta tests (``tests/test_conformance_mutants.py``) run
those clauses against each mutant and fail when one passes, and fail when a clause has no mutant. Load one
with ``--impl mutant.<name>``.

One module per family: :mod:`~conformance.mutants.values` (native values, identity, protocols),
:mod:`~conformance.mutants.buffers` (numpy and out-of-band buffers), :mod:`~conformance.mutants.errors`
(errors, inspection, custom serializers), :mod:`~conformance.mutants.dynamic` (functions and classes by
value), :mod:`~conformance.mutants.stores` (one store client) and :mod:`~conformance.mutants.machinery`
(processes, eviction, nodes), :mod:`~conformance.mutants.leaks` (serializers and stores that keep objects
alive), :mod:`~conformance.mutants.regressions` (the reference's fixed bugs, issue 13,
brought back) and :mod:`~conformance.mutants.ray_store` (the Ray store adapter; loading one needs
Ray); :mod:`~conformance.mutants.base` holds what they share.
"""

from __future__ import annotations

import importlib
from typing import Callable, Dict, NamedTuple, Tuple

from conformance.api import Implementation

__all__ = ["FAMILIES", "MUTANTS", "Mutant", "mutant"]


class Mutant(NamedTuple):
    """A broken implementation: how to build it, the clauses that must catch it, and its defect."""

    factory: Callable[[], Implementation]
    targets: Tuple[str, ...]
    defect: str


#: Every mutant, by name (``--impl mutant.<name>`` loads one).
MUTANTS: Dict[str, Mutant] = {}


def mutant(name: str, *targets: str) -> Callable[[Callable[[], Implementation]], Callable[[], Implementation]]:
    """Register the decorated factory as the mutant ``name`` that clauses ``targets`` must catch; the first
    line of its docstring states the defect."""
    if not targets:
        raise ValueError(f"mutant {name!r} names no clause that must catch it")

    def register(factory: Callable[[], Implementation]) -> Callable[[], Implementation]:
        if name in MUTANTS:
            raise ValueError(f"mutant name {name!r} is used twice")
        doc = (factory.__doc__ or "").strip().splitlines()
        if not doc:
            raise ValueError(f"mutant {name!r}: its factory's docstring must state the defect")
        MUTANTS[name] = Mutant(factory, tuple(targets), doc[0])
        return factory

    return register


#: The families, in the order listings show their mutants (each registers its mutants on import).
FAMILIES = ("values", "buffers", "errors", "dynamic", "stores", "machinery", "regressions", "ray_store", "leaks")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
