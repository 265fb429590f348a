"""Serializer clauses: functions and classes made at run time work in a fresh interpreter.

Every case is defined with ``exec`` in a module no other interpreter can import (or in ``__main__``),
serialized here, and deserialized and exercised in a child interpreter (``conformance.child``) that never
saw its definition; the child's results must equal those computed here from the originals. One child runs
all the cases of a kind, bounded by a timeout.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import pytest

from conformance import _probes
from conformance.child import run_in_child
from conformance.clauses import clause
from conformance.dynamic import CLASS_CASES, FUNCTION_CASES
from conformance.harness import frame_buffer, reproduce

_cache: Dict[Tuple[str, str], Dict[str, Tuple[str, Any, Any]]] = {}


def _results(impl, kind: str) -> Dict[str, Tuple[str, Any, Any]]:
    """case -> (status, expected, actual) for every case of ``kind``, computed once per implementation."""
    key = (impl.name, kind)
    if key in _cache:
        return _cache[key]
    cases = FUNCTION_CASES if kind == "functions" else CLASS_CASES
    protocol = max(impl.protocols)
    jobs, expected, out = [], {}, {}
    for case, builder in cases.items():
        probe, value = builder()
        fresh_probe, fresh = builder()  # probing may change state (a closure's): expect from a twin
        expected[case] = getattr(_probes, fresh_probe)(fresh)
        try:
            frame = impl.serializer.serialize(value, protocol=protocol)
            jobs.append((case, probe, bytes(frame_buffer(frame)[0])))
        except Exception as exc:  # noqa: BLE001 - a serialization failure fails this case only
            out[case] = ("serialize failed", expected[case], f"{type(exc).__name__}: {exc}")
    for case, (status, actual) in run_in_child(impl.name, jobs).items():
        out[case] = ("ok" if status == "ok" else "child failed", expected[case], actual)
    _cache[key] = out
    return out


def _check(impl, kind: str, case: str) -> None:
    reproduce(impl, f"from conformance.dynamic import {'FUNCTION_CASES' if kind == 'functions' else 'CLASS_CASES'} as CASES",
              "from conformance.child import run_in_child",
              f"probe, value = CASES[{case!r}]()",
              f"frame = bytes(frame_buffer(impl.serializer.serialize(value, protocol={max(impl.protocols)}))[0])",
              f"run_in_child({impl.name!r}, [({case!r}, probe, frame)])")
    status, expected, actual = _results(impl, kind)[case]
    if status != "ok":
        pytest.fail(f"{case}: {status}: {actual}", pytrace=False)
    assert actual == expected, f"{case}: the child got {actual!r}, here it is {expected!r}"


@clause("serializer.functions.lambda", "by_value_functions")
def test_lambda(impl):
    """Clause serializer.functions.lambda: a lambda with a default argument and a global it reads works in a
    fresh interpreter."""
    _check(impl, "functions", "lambda")


@clause("serializer.functions.nested", "by_value_functions")
def test_nested_function(impl):
    """Clause serializer.functions.nested: a function defined inside another (two levels deep) works in a
    fresh interpreter."""
    _check(impl, "functions", "nested")


@clause("serializer.functions.closure", "by_value_functions")
def test_closure(impl):
    """Clause serializer.functions.closure: a closure over a mutable list and a ``nonlocal`` counter keeps
    its state and updates it in a fresh interpreter."""
    _check(impl, "functions", "closure")


@clause("serializer.functions.recursive_closure", "by_value_functions")
def test_recursive_closure(impl):
    """Clause serializer.functions.recursive_closure: closures that call themselves and each other
    (factorial, mutual recursion) work in a fresh interpreter."""
    _check(impl, "functions", "recursive_closure")


@clause("serializer.functions.runtime", "by_value_functions")
def test_runtime_function(impl):
    """Clause serializer.functions.runtime: a function built at run time (``types.FunctionType``) with its
    name, docstring, keyword defaults, attributes and globals comes back whole in a fresh interpreter."""
    _check(impl, "functions", "runtime")


@clause("serializer.functions.main", "by_value_functions")
def test_main_function(impl):
    """Clause serializer.functions.main: a function defined in ``__main__``, using a ``__main__`` global and
    an imported module, works in a fresh interpreter whose ``__main__`` is another."""
    _check(impl, "functions", "main")


@clause("serializer.classes.methods", "dynamic_classes")
def test_class_methods(impl):
    """Clause serializer.classes.methods: an instance of a class made at run time keeps its methods,
    static and class methods and properties in a fresh interpreter."""
    _check(impl, "classes", "methods")


@clause("serializer.classes.attributes", "dynamic_classes")
def test_class_attributes(impl):
    """Clause serializer.classes.attributes: class attributes (one changed at run time, one a dict) and
    instance attributes travel with a dynamic class."""
    _check(impl, "classes", "attributes")


@clause("serializer.classes.inheritance", "dynamic_classes")
def test_class_inheritance(impl):
    """Clause serializer.classes.inheritance: a dynamic subclass of a dynamic class keeps its MRO, overrides
    and ``super()`` calls."""
    _check(impl, "classes", "inheritance")


@clause("serializer.classes.slots", "dynamic_classes")
def test_class_slots(impl):
    """Clause serializer.classes.slots: an instance of a dynamic class with ``__slots__`` (inherited too)
    keeps its slot values and grows no ``__dict__``."""
    _check(impl, "classes", "slots")


@clause("serializer.classes.enums", "dynamic_classes")
def test_enums(impl):
    """Clause serializer.classes.enums: members of a dynamic ``Enum`` come back as members (identity,
    names, values, methods) of one enum class."""
    _check(impl, "classes", "enums")


@clause("serializer.classes.dataclasses", "dynamic_classes")
def test_dataclasses(impl):
    """Clause serializer.classes.dataclasses: instances of a dynamic frozen dataclass keep their fields,
    defaults, ``repr`` and field-wise equality."""
    _check(impl, "classes", "dataclasses")


@clause("serializer.classes.one_class", "dynamic_classes")
def test_one_class_object(impl):
    """Clause serializer.classes.one_class: two instances of a dynamic class in one value come back with one
    class object."""
    _check(impl, "classes", "one_class")
