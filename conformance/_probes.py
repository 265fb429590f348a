"""Probes: plain functions the parent and a fresh child both apply to a value, returning plain data.

The parent computes the expected result from the original value; the child computes it from the value it
deserialized. Equal results mean the value works the same where its definition was never seen.
"""

from __future__ import annotations

from typing import Any


def call(value: Any) -> Any:
    """``value`` is ``(function, args)``: the result of calling it."""
    fn, args = value
    return fn(*args)


def call_repeatedly(value: Any) -> Any:
    """``value`` is ``(function, args, times)``: the results of calling it ``times`` times (closure state)."""
    fn, args, times = value
    return [fn(*args) for _ in range(times)]


def describe_function(value: Any) -> Any:
    """``value`` is ``(function, args)``: the call's result and the function's metadata."""
    fn, args = value
    return {"result": fn(*args), "name": fn.__name__, "doc": fn.__doc__, "defaults": fn.__defaults__,
            "kwdefaults": fn.__kwdefaults__, "dict": dict(fn.__dict__)}


def describe_instance(value: Any) -> Any:
    """``value`` is ``(instance, method names)``: its class's name, attributes and what its methods return."""
    obj, methods = value
    cls = type(obj)
    public = {k: v for k, v in vars(cls).items() if not k.startswith("_") and not callable(v)
              and not isinstance(v, (property, staticmethod, classmethod))}
    return {"class": cls.__name__, "mro": [c.__name__ for c in cls.__mro__],
            "class_attrs": public,
            "calls": {m: getattr(obj, m)() for m in methods}}


def describe_slots(value: Any) -> Any:
    """``value`` is an instance of a slotted class: its slot values, and whether it grew a ``__dict__``."""
    cls = type(value)
    slots = [s for c in cls.__mro__ for s in c.__dict__.get("__slots__", ())]
    return {"slots": {s: getattr(value, s, "<unset>") for s in slots},
            "has_dict": hasattr(value, "__dict__"), "total": value.total()}


def describe_enum(value: Any) -> Any:
    """``value`` is ``(member, member, ...)`` of one enum: names, values and member identity."""
    cls = type(value[0])
    return {"members": [(m.name, m.value) for m in cls], "is_member": [m is cls[m.name] for m in value],
            "same_class": all(type(m) is cls for m in value), "label": value[0].label()}


def describe_dataclass(value: Any) -> Any:
    """``value`` is ``(instance, instance)`` of one dataclass: fields, repr, equality, defaults."""
    import dataclasses

    a, b = value
    return {"fields": [f.name for f in dataclasses.fields(a)], "repr": repr(a), "equal": a == b,
            "fresh": repr(type(a)(1)), "is_dataclass": dataclasses.is_dataclass(a)}


def same_class(value: Any) -> Any:
    """``value`` is ``(instance, instance)``: whether both have one class object, and it works."""
    a, b = value
    return {"same_class": type(a) is type(b), "isinstance": isinstance(a, type(b)),
            "calls": [a.hello(), b.hello()]}


def own_facts(value: Any) -> Any:
    """``value`` is an instance with a ``facts(cls)`` method, sent alone: what it says of itself and its
    class."""
    return value.facts(type(value))


def last_item_facts(value: Any) -> Any:
    """``value`` is a long list whose last item has a ``facts(cls)`` method: the list's length, and what
    that item says of itself and its class."""
    item = value[-1]
    return {"length": len(value), "facts": item.facts(type(item))}
