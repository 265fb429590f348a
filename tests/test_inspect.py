"""Clauses of ``inspect_serializability``: every culprit, with a path that evaluates to it."""

from __future__ import annotations

import functools
import io
import threading
from typing import Any, List, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
from reference.inspect import find_failures


class Holder:
    """An object with attributes in ``__dict__``."""


class Slotted:
    __slots__ = ("first", "__hidden")

    def __init__(self, first, hidden):
        self.first = first
        self.__hidden = hidden


def _closure_over(value):
    return lambda: value


@st.composite
def nestings(draw: st.DrawFn, path: str = "value", level: int = 0) -> Tuple[Any, List[str]]:
    """Returns a strategy for generating (value, paths): a nesting of dicts, lists, tuples, objects with
    attributes or slots, and closures, with fresh locks planted at ``paths``."""
    kinds = ["leaf", "lock"] + (["list", "tuple", "dict", "attrs", "slots", "closure"] if level < 4 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "lock":
        return threading.Lock(), [path]
    if kind == "leaf":
        return draw(st.one_of(st.integers(), st.text(max_size=3), st.none())), []
    paths: List[str] = []
    if kind in ("list", "tuple"):
        items = []
        for i in range(draw(st.integers(0, 3))):
            item, sub = draw(nestings(f"{path}[{i}]", level + 1))
            items.append(item)
            paths += sub
        return (items if kind == "list" else tuple(items)), paths
    if kind == "dict":
        out = {}
        for key in draw(st.lists(st.text("abc", min_size=1, max_size=3), unique=True, max_size=3)):
            out[key], sub = draw(nestings(f"{path}[{key!r}]", level + 1))
            paths += sub
        return out, paths
    if kind == "attrs":
        obj = Holder()
        for name in draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3)):
            value, sub = draw(nestings(f"{path}.{name}", level + 1))
            setattr(obj, name, value)
            paths += sub
        return obj, paths
    if kind == "slots":
        first, sub1 = draw(nestings(f"{path}.first", level + 1))
        hidden, sub2 = draw(nestings(f"{path}._Slotted__hidden", level + 1))
        return Slotted(first, hidden), sub1 + sub2
    value, sub = draw(nestings(f"{path}.__closure__[0].cell_contents", level + 1))
    return _closure_over(value), sub


@given(case=nestings())
def test_every_culprit_is_found_with_a_path_that_evaluates_to_it(case):
    """In generated nestings, the culprits found are exactly the planted locks, and each path, evaluated
    from the top object, is the very lock."""
    value, planted = case
    ok, failures = reference.inspect_serializability(value, depth=10, print_file=io.StringIO())
    assert ok == (not planted)
    assert sorted(f.path for f in failures) == sorted(planted)
    for failure in failures:
        assert eval(failure.path, {"value": value}) is failure.obj
        assert failure.type_name == "_thread.lock"
        assert "_thread.lock" in failure.reason


def test_serializable_value_reports_ok():
    """A value that serializes gives (True, empty set) and says so."""
    out = io.StringIO()
    assert reference.inspect_serializability({"a": [1, np.arange(3)]}, print_file=out) == (True, set())
    assert "serializes" in out.getvalue()


def _make_function_with_everything():
    lock_a, lock_b, lock_c = threading.Lock(), threading.RLock(), threading.Lock()
    # Made at run time, outside any importable module, so cloudpickle takes them (and their globals) by
    # value; a module-level function of an importable module travels by reference and hides nothing.
    namespace = {"STATE": {"lock": threading.Lock()}}
    exec("def _uses_global():\n    return STATE['lock']", namespace)
    _uses_global = namespace["_uses_global"]

    def f(x=lock_b, *, y=lock_c):
        return lock_a, x, y, _uses_global()

    return f


def test_function_globals_nonlocals_and_defaults_are_walked():
    """A function's nonlocals, defaults, keyword defaults and the globals of the functions it calls."""
    f = _make_function_with_everything()
    paths = sorted(failure.path for failure in find_failures(f))
    assert paths == sorted([
        "value.__closure__[1].cell_contents",  # lock_a: free variables are numbered in name order
        "value.__defaults__[0]",
        "value.__kwdefaults__['y']",
        "value.__closure__[0].cell_contents.__globals__['STATE']['lock']",
    ]), paths
    for failure in find_failures(f):
        assert eval(failure.path, {"value": f}) is failure.obj


def test_partials_methods_and_class_attributes_are_walked():
    """functools.partial arguments, a bound method's instance and a dynamic class's attributes."""
    holder = Holder()
    holder.lock = threading.Lock()
    Dynamic = type("Dynamic", (), {"guard": threading.Lock(), "__module__": "__main__"})
    value = {
        "partial": functools.partial(print, threading.Lock(), sep=threading.Lock()),
        "method": _closure_over(holder),
        "class": Dynamic,
    }
    failures = find_failures(value)
    paths = sorted(f.path for f in failures)
    assert paths == sorted([
        "value['partial'].args[0]",
        "value['partial'].keywords['sep']",
        "value['method'].__closure__[0].cell_contents.lock",
        "vars(value['class'])['guard']",
    ]), paths
    for failure in failures:
        assert eval(failure.path, {"value": value}) is failure.obj


def test_dict_with_non_literal_keys_uses_positional_paths():
    """A dict keyed by objects whose repr does not read back is addressed by position."""
    key = Holder()
    value = {key: threading.Lock()}
    (failure,) = find_failures(value)
    assert failure.path == "list(value.values())[0]"
    assert eval(failure.path, {"value": value}) is failure.obj


def test_cycles_do_not_hang_and_report_the_culprit_once():
    """A self-containing structure is walked once; its culprit is reported once."""
    value: dict = {"lock": threading.Lock()}
    value["self"] = value
    assert [f.path for f in find_failures(value)] == ["value['lock']"]


def test_depth_limit_reports_the_deepest_failing_object():
    """At the depth limit the search stops and marks the failing object it reached as depth-limited."""
    value = {"a": {"b": {"c": threading.Lock()}}}
    ok, failures = reference.inspect_serializability(value, depth=1, print_file=io.StringIO())
    (failure,) = failures
    assert not ok and failure.path == "value['a']" and failure.depth_limited
    ok, failures = reference.inspect_serializability(value, depth=3, print_file=io.StringIO())
    (failure,) = failures
    assert failure.path == "value['a']['b']['c']" and not failure.depth_limited


def test_the_printed_tree_shows_each_step_and_colour_only_on_a_terminal():
    """The tree names every step from the top to the culprit; ANSI colour appears only on a terminal."""
    value = {"model": Holder()}
    value["model"].cache = threading.Lock()
    plain = io.StringIO()
    reference.inspect_serializability(value, name="cfg", print_file=plain)
    text = plain.getvalue()
    assert "['model']" in text and ".cache" in text and "cfg['model'].cache: _thread.lock" in text
    assert "\x1b[" not in text

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    reference.inspect_serializability(value, print_file=term)
    assert "\x1b[31m" in term.getvalue()


def test_custom_serializers_count_when_deciding():
    """An object made serializable by a registered serializer is not a culprit."""
    s = reference.Serializer()
    s.register_serializer(Holder, serializer=lambda h: None, deserializer=lambda _: Holder())
    holder = Holder()
    holder.lock = threading.Lock()
    assert reference.inspect_serializability([holder], serializer=s, print_file=io.StringIO()) == (True, set())
    assert [f.path for f in find_failures([holder])] == ["value[0].lock"]


def test_negative_depth_is_refused():
    """A negative depth is a ValueError naming the parameter."""
    with pytest.raises(ValueError, match="'depth'"):
        reference.inspect_serializability(1, depth=-1, print_file=io.StringIO())
