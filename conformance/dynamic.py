"""Functions and classes made at run time, in namespaces no other interpreter can import.

Each builder runs source text with ``exec`` in a fresh namespace whose ``__name__`` is a module that does
not exist (or ``__main__``), so a serializer can only carry them by value: a child interpreter has no
way to look them up by name.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable, Dict, Tuple

import pytest

from conformance import _probes
from conformance.api import Implementation
from conformance.child import run_in_child
from conformance.harness import frame_buffer, reproduce

__all__ = ["CLASS_CASES", "DYNAMIC_MODULE", "FUNCTION_CASES", "build", "check_case"]

#: The module name the dynamic definitions claim; it is never importable.
DYNAMIC_MODULE = "conformance_dynamic_definitions"


def build(source: str, *, module: str = DYNAMIC_MODULE) -> Dict[str, Any]:
    """Run ``source`` in a fresh namespace named ``module`` and return the namespace.

    While the source runs, a module of that name sits in ``sys.modules`` (``dataclasses`` and ``enum`` look
    their class's module up); it is removed afterwards, so nothing can find the definitions by name.
    """
    if module == "__main__":
        namespace: Dict[str, Any] = {"__name__": module, "__builtins__": __builtins__}
        exec(compile(source, f"<{module}>", "exec"), namespace)  # noqa: S102 - fixed source text
        return namespace
    mod = types.ModuleType(module)
    sys.modules[module] = mod
    try:
        exec(compile(source, f"<{module}>", "exec"), mod.__dict__)  # noqa: S102 - fixed source text
    finally:
        del sys.modules[module]
    return mod.__dict__


def _lambda() -> Tuple[str, Any]:
    ns = build("OFFSET = 5\nf = lambda x, y=2: x * y + OFFSET\n")
    return "call", (ns["f"], (3,))


def _nested() -> Tuple[str, Any]:
    ns = build(
        "def outer(scale):\n"
        "    def inner(x):\n"
        "        def innermost(y):\n"
        "            return [y] * scale\n"
        "        return innermost(x) + [x]\n"
        "    return inner\n")
    return "call", (ns["outer"](2), ("z",))


def _closure() -> Tuple[str, Any]:
    ns = build(
        "def make_counter(start):\n"
        "    seen = []\n"
        "    count = start\n"
        "    def step():\n"
        "        nonlocal count\n"
        "        count += 1\n"
        "        seen.append(count)\n"
        "        return list(seen)\n"
        "    return step\n")
    return "call_repeatedly", (ns["make_counter"](10), (), 3)


def _recursive_closure() -> Tuple[str, Any]:
    ns = build(
        "def make():\n"
        "    def fact(n):\n"
        "        return 1 if n <= 1 else n * fact(n - 1)\n"
        "    def is_even(n):\n"
        "        return True if n == 0 else is_odd(n - 1)\n"
        "    def is_odd(n):\n"
        "        return False if n == 0 else is_even(n - 1)\n"
        "    def both(n):\n"
        "        return fact(n), is_even(n), is_odd(n)\n"
        "    return both\n")
    return "call", (ns["make"](), (7,))


def _runtime() -> Tuple[str, Any]:
    ns = build("TABLE = {'a': 1, 'b': 2}\n")
    code = compile("def made(key, *, bonus=100):\n    '''made at run time'''\n    return TABLE[key] + bonus\n",
                   "<runtime>", "exec")
    exec(code, ns)  # noqa: S102 - fixed source text
    fn = ns["made"]
    fn.__defaults__ = None
    clone = types.FunctionType(fn.__code__, ns, "made_again", None, fn.__closure__)
    clone.__kwdefaults__ = {"bonus": 1000}
    clone.__doc__ = "rebuilt with types.FunctionType"
    clone.__dict__["tag"] = "attribute on a function"
    return "describe_function", (clone, ("b",))


def _main() -> Tuple[str, Any]:
    ns = build("import math\nRADIUS = 2.0\ndef area(scale):\n    return round(math.pi * RADIUS ** 2 * scale, 6)\n",
               module="__main__")
    return "call", (ns["area"], (3,))


#: clause suffix -> builder of (probe name, value)
FUNCTION_CASES: Dict[str, Callable[[], Tuple[str, Any]]] = {
    "lambda": _lambda,
    "nested": _nested,
    "closure": _closure,
    "recursive_closure": _recursive_closure,
    "runtime": _runtime,
    "main": _main,
}

_CLASSES = '''
import dataclasses
import enum

class Shape:
    sides = 0
    registry = {"kind": "shape"}
    def __init__(self, size):
        self.size = size
    def area(self):
        return self.size * self.sides
    @staticmethod
    def unit():
        return "cm"
    @classmethod
    def kind(cls):
        return cls.__name__.lower()
    @property
    def double(self):
        return self.size * 2
    def describe(self):
        return (self.area(), self.unit(), self.kind(), self.double)

class Square(Shape):
    sides = 4
    def area(self):
        return super().area() * 10

class Slotted:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a = a
        self.b = b
    def total(self):
        return self.a + self.b

class MoreSlots(Slotted):
    __slots__ = ("c",)
    def __init__(self, a, b, c):
        super().__init__(a, b)
        self.c = c
    def total(self):
        return super().total() + self.c

class Colour(enum.Enum):
    RED = 1
    GREEN = "green"
    def label(self):
        return self.name.title()

@dataclasses.dataclass(frozen=True)
class Record:
    id: int
    tags: tuple = ("x",)
    note: str = dataclasses.field(default="n/a", compare=False)

class Greeter:
    greeting = "hello"
    def hello(self):
        return f"{self.greeting} {type(self).__name__}"
'''


def _classes() -> Dict[str, Any]:
    return build(_CLASSES)


def _methods() -> Tuple[str, Any]:
    ns = _classes()
    return "describe_instance", (ns["Shape"](3), ["describe", "area"])


def _attributes() -> Tuple[str, Any]:
    ns = _classes()
    obj = ns["Shape"](2)
    obj.extra = {"instance": True}
    type(obj).sides = 3  # a class attribute changed at run time must travel too
    return "describe_instance", (obj, ["describe"])


def _inheritance() -> Tuple[str, Any]:
    ns = _classes()
    return "describe_instance", (ns["Square"](2), ["describe", "area"])


def _slots() -> Tuple[str, Any]:
    ns = _classes()
    return "describe_slots", ns["MoreSlots"](1, 2, 3)


def _enums() -> Tuple[str, Any]:
    ns = _classes()
    colour = ns["Colour"]
    return "describe_enum", (colour.GREEN, colour.RED, colour.GREEN)


def _dataclasses() -> Tuple[str, Any]:
    ns = _classes()
    record = ns["Record"]
    return "describe_dataclass", (record(7, ("a", "b"), "first"), record(7, ("a", "b"), "second"))


def _one_class() -> Tuple[str, Any]:
    ns = _classes()
    return "same_class", (ns["Greeter"](), ns["Greeter"]())


CLASS_CASES: Dict[str, Callable[[], Tuple[str, Any]]] = {
    "methods": _methods,
    "attributes": _attributes,
    "inheritance": _inheritance,
    "slots": _slots,
    "enums": _enums,
    "dataclasses": _dataclasses,
    "one_class": _one_class,
}


_results_cache: Dict[Tuple[str, str], Dict[str, Tuple[str, Any, Any]]] = {}


def _results(impl: Implementation, kind: str) -> Dict[str, Tuple[str, Any, Any]]:
    """case -> (status, expected, actual) for every case of ``kind``, computed once per implementation:
    one child interpreter runs all the cases of a kind, bounded by a timeout."""
    key = (impl.name, kind)
    if key in _results_cache:
        return _results_cache[key]
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
    _results_cache[key] = out
    return out


def check_case(impl: Implementation, kind: str, case: str) -> None:
    """Check one case of ``kind`` (``"functions"``: :data:`FUNCTION_CASES`, ``"classes"``:
    :data:`CLASS_CASES`): serialized here, the value must behave in a fresh interpreter as the original
    does here. Fails the calling test with the case, and what the child got, otherwise."""
    table = "FUNCTION_CASES" if kind == "functions" else "CLASS_CASES"
    reproduce(impl, f"from conformance.dynamic import {table} as CASES",
              "from conformance.child import run_in_child",
              f"probe, value = CASES[{case!r}]()",
              f"frame = bytes(frame_buffer(impl.serializer.serialize(value, protocol={max(impl.protocols)}))[0])",
              f"run_in_child({impl.name!r}, [({case!r}, probe, frame)])")
    status, expected, actual = _results(impl, kind)[case]
    if status != "ok":
        pytest.fail(f"{case}: {status}: {actual}", pytrace=False)
    assert actual == expected, f"{case}: the child got {actual!r}, here it is {expected!r}"
