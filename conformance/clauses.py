"""Naming clauses: every conformance test is a clause with a stable id, a docstring and the capabilities
it needs. ``@clause("serializer.numpy.roundtrip", "numpy")`` marks a test; the plugin turns a missing
capability into a skip that says "not claimed", and the report groups results by clause id.

A clause is found by its id (array-api-tests' way): the *area* of ``serializer.numpy.roundtrip`` is its
first two parts, so it lives in ``conformance/test_serializer_numpy.py`` as
``test_serializer_numpy_roundtrip``. :func:`clause` refuses a test anywhere else.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Tuple, TypeVar

import pytest

from conformance.api import CAPABILITIES

__all__ = ["CLAUSES", "MODULE_ORDER", "ClauseInfo", "all_clauses", "clause", "clause_location"]

F = TypeVar("F", bound=Callable[..., Any])
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class ClauseInfo:
    """What a clause checks: its id, the first line of its docstring and the capabilities it needs."""

    __slots__ = ("id", "summary", "requires", "module", "function")

    def __init__(self, id: str, summary: str, requires: Tuple[str, ...], module: str, function: str) -> None:
        self.id = id
        self.summary = summary
        self.requires = requires
        self.module = module
        self.function = function

    def __repr__(self) -> str:
        return f"ClauseInfo({self.id!r}, requires={self.requires!r})"

    @property
    def location(self) -> str:
        """Where the clause lives, as pytest names it: ``conformance/test_<area>.py::test_<id>``."""
        return f"{self.module.replace('.', '/')}.py::{self.function}"


#: Every clause defined so far (clause modules register on import), by id.
CLAUSES: Dict[str, ClauseInfo] = {}


def clause_location(clause_id: str) -> Tuple[str, str]:
    """The module and the test function that clause ``clause_id`` must live in: for
    ``store.put_get.roundtrip``, ``("conformance.test_store_put_get", "test_store_put_get_roundtrip")``."""
    area = "_".join(clause_id.split(".")[:2])
    return f"conformance.test_{area}", "test_" + clause_id.replace(".", "_")


def clause(clause_id: str, *requires: str) -> Callable[[F], F]:
    """Mark a test as checking clause ``clause_id``; skip it ("not claimed") unless the implementation claims
    every capability in ``requires``.

    The test must be the function :func:`clause_location` names (``test_<id with dots as underscores>`` in
    ``conformance/test_<first two parts of the id>.py``) and its docstring must start with
    ``Clause <clause_id>:``; a ``ValueError`` that says where the test belongs otherwise.
    """
    if not _ID.match(clause_id):
        raise ValueError(f"clause id {clause_id!r} must be dotted lower-case words, like 'serializer.x.y'")
    unknown = [r for r in requires if r not in CAPABILITIES]
    if unknown:
        raise ValueError(f"clause {clause_id!r} requires unknown capabilities {unknown}")

    def mark(fn: F) -> F:
        module, function = clause_location(clause_id)
        if (fn.__module__, fn.__name__) != (module, function):
            raise ValueError(
                f"clause {clause_id!r} is checked by {fn.__module__}.{fn.__qualname__}; a clause lives in the "
                f"module of its area, as a function named after its id: move it to {module}.{function}")
        doc = (fn.__doc__ or "").strip()
        prefix = f"Clause {clause_id}:"
        if not doc.startswith(prefix):
            raise ValueError(f"{fn.__qualname__}'s docstring must start with {prefix!r}")
        summary = doc[len(prefix):].strip().split("\n\n")[0]
        CLAUSES[clause_id] = ClauseInfo(clause_id, " ".join(summary.split()), tuple(requires),
                                        fn.__module__, fn.__name__)
        fn = pytest.mark.requires(*requires)(fn)
        return pytest.mark.clause(clause_id)(fn)

    return mark


def all_clauses() -> Dict[str, ClauseInfo]:
    """Import every clause module and return :data:`CLAUSES`, areas in :data:`MODULE_ORDER` (modules not
    listed there last, by name), clauses of one area in the order they are defined."""
    import importlib
    import pkgutil

    import conformance

    names = [m.name for m in pkgutil.iter_modules(conformance.__path__) if m.name.startswith("test_")]
    names.sort(key=lambda n: (MODULE_ORDER.index(n) if n in MODULE_ORDER else len(MODULE_ORDER), n))
    for name in names:
        importlib.import_module(f"conformance.{name}")
    order = {n: i for i, n in enumerate(names)}
    ranked = sorted(CLAUSES.values(), key=lambda c: order.get(c.module.rpartition(".")[2], len(order)))
    return {c.id: c for c in ranked}


#: The order of areas (clause modules) in listings and reports: serializer first, values before machinery.
#: Within a module, clauses keep the order they are defined in.
MODULE_ORDER = [
    "test_serializer_native", "test_serializer_identity", "test_serializer_protocols", "test_serializer_numpy",
    "test_serializer_out_of_band", "test_serializer_functions", "test_serializer_classes",
    "test_serializer_errors", "test_serializer_inspect", "test_serializer_custom", "test_serializer_leaks",
    "test_store_put_get", "test_store_immutability", "test_store_zero_copy", "test_store_visibility",
    "test_store_abort", "test_store_timeouts", "test_store_delete", "test_store_full", "test_store_multiprocess",
    "test_store_eviction", "test_store_nodes", "test_store_stateful", "test_store_leaks",
]
