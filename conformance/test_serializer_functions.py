"""Serializer clauses ``serializer.functions.*``: functions made at run time work in a fresh interpreter.

Each case is defined in a module no other interpreter can import (or in ``__main__``), serialized here,
and exercised in a child interpreter that never saw its definition (see :func:`conformance.dynamic.check_case`).
"""

from __future__ import annotations

import secrets
import sys
import types
from typing import Any, Tuple

import pytest

from conformance.child import run_in_child
from conformance.clauses import clause
from conformance.dynamic import check_case
from conformance.harness import frame_buffer, reproduce


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


# -- a module-level function whose module changed (issue 13b) ----------------------------------------------

#: How the function's module changes between the two serializations.
MODULE_CHANGES = ("deleted", "rebound", "module_dropped")

#: The module the function lives in: ``f`` reads a module global and its module's name.
MODULE_SOURCE = "OFFSET = 1\n\ndef f(x):\n    return [x + OFFSET, __name__]\n"


def function_whose_module_changed(impl: Any, change: str, *, protocol: int) -> Tuple[Any, bytes]:
    """``(f, frame)``: ``f`` is a function of a module made here and put in ``sys.modules`` (so a
    serializer may carry it by reference), serialized once while the module holds it; then ``f`` is deleted
    from its module, or the module's name rebound to another function, or the module dropped from
    ``sys.modules`` (``change``), and ``frame`` is ``(f, (1,))`` serialized again (what the ``call`` probe
    of :func:`conformance.child.run_in_child` calls). Only a frame that carries ``f`` by value can work
    where the module was never seen."""
    module = types.ModuleType(f"conformance_changing_module_{change}_{secrets.token_hex(4)}")
    exec(compile(MODULE_SOURCE, f"<{module.__name__}>", "exec"), module.__dict__)  # noqa: S102 - fixed text
    f = module.__dict__["f"]
    sys.modules[module.__name__] = module
    try:
        impl.serializer.serialize(f, protocol=protocol)  # while the module holds it: by reference is fine
        if change == "deleted":
            del module.__dict__["f"]
        elif change == "rebound":
            module.__dict__["f"] = lambda x: "another function"
        else:
            del sys.modules[module.__name__]
        frame = impl.serializer.serialize((f, (1,)), protocol=protocol)
    finally:
        sys.modules.pop(module.__name__, None)
    return f, bytes(frame_buffer(frame)[0])


@clause("serializer.functions.rebound_module", "by_value_functions")
def test_serializer_functions_rebound_module(impl):
    """Clause serializer.functions.rebound_module: a module-level function serialized once while its module
    holds it, then deleted from the module, rebound there to another function, or left behind by its module
    dropping out of ``sys.modules``, still serializes, and works in a fresh interpreter (by value: its name
    no longer leads to it). Nothing remembered from the first serialization may stand in for the facts."""
    protocol = max(impl.protocols)
    reproduce(impl, "from conformance.test_serializer_functions import function_whose_module_changed",
              "from conformance.child import run_in_child",
              f"f, frame = function_whose_module_changed(impl, 'rebound', protocol={protocol})",
              f"run_in_child({impl.name!r}, [('rebound', 'call', frame)])  # f(1)")
    jobs, expected = [], {}
    for change in MODULE_CHANGES:
        try:
            f, frame = function_whose_module_changed(impl, change, protocol=protocol)
        except Exception as exc:  # noqa: BLE001 - any failure to serialize fails the clause
            pytest.fail(f"{change}: serializing the function again raised {type(exc).__name__}: {exc}",
                        pytrace=False)
        expected[change] = f(1)
        jobs.append((change, "call", frame))
    for change, (status, actual) in run_in_child(impl.name, jobs).items():
        if status != "ok":
            pytest.fail(f"{change}: in a fresh interpreter: {actual}", pytrace=False)
        assert actual == expected[change], f"{change}: the child got {actual!r}, here it is {expected[change]!r}"
