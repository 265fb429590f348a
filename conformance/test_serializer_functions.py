"""Serializer clauses ``serializer.functions.*``: functions made at run time work in a fresh interpreter.

Each case is defined in a module no other interpreter can import (or in ``__main__``), serialized here,
and exercised in a child interpreter that never saw its definition (see :func:`conformance.dynamic.check_case`).
"""

from __future__ import annotations

from conformance.clauses import clause
from conformance.dynamic import check_case


@clause("serializer.functions.lambda", "by_value_functions")
def test_serializer_functions_lambda(impl):
    """Clause serializer.functions.lambda: a lambda with a default argument and a global it reads works in a
    fresh interpreter."""
    check_case(impl, "functions", "lambda")


@clause("serializer.functions.nested", "by_value_functions")
def test_serializer_functions_nested(impl):
    """Clause serializer.functions.nested: a function defined inside another (two levels deep) works in a
    fresh interpreter."""
    check_case(impl, "functions", "nested")


@clause("serializer.functions.closure", "by_value_functions")
def test_serializer_functions_closure(impl):
    """Clause serializer.functions.closure: a closure over a mutable list and a ``nonlocal`` counter keeps
    its state and updates it in a fresh interpreter."""
    check_case(impl, "functions", "closure")


@clause("serializer.functions.recursive_closure", "by_value_functions")
def test_serializer_functions_recursive_closure(impl):
    """Clause serializer.functions.recursive_closure: closures that call themselves and each other
    (factorial, mutual recursion) work in a fresh interpreter."""
    check_case(impl, "functions", "recursive_closure")


@clause("serializer.functions.runtime", "by_value_functions")
def test_serializer_functions_runtime(impl):
    """Clause serializer.functions.runtime: a function built at run time (``types.FunctionType``) with its
    name, docstring, keyword defaults, attributes and globals comes back whole in a fresh interpreter."""
    check_case(impl, "functions", "runtime")


@clause("serializer.functions.main", "by_value_functions")
def test_serializer_functions_main(impl):
    """Clause serializer.functions.main: a function defined in ``__main__``, using a ``__main__`` global and
    an imported module, works in a fresh interpreter whose ``__main__`` is another."""
    check_case(impl, "functions", "main")
