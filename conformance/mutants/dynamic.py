"""Mutants of functions and classes made at run time (by value, in a fresh interpreter)."""

from __future__ import annotations

import types
from typing import Any, Dict

import cloudpickle

from conformance.api import Implementation
from conformance.dynamic import DYNAMIC_MODULE
from conformance.mutants import mutant
from conformance.mutants.base import MutantSerializer, pickler_dumps, serializer_mutant

_IN_PROCESS: Dict[int, Any] = {}


def _lookup_in_process(key: int) -> Any:
    return _IN_PROCESS[key]


class _InProcess(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and getattr(obj, "__module__", None) in (
                DYNAMIC_MODULE, "__main__"):
            _IN_PROCESS[id(obj)] = obj
            return _lookup_in_process, (id(obj),)
        return super().reducer_override(obj)


_DYNAMIC_CLAUSES = tuple(f"serializer.functions.{c}" for c in (
    "lambda", "nested", "closure", "recursive_closure", "runtime", "main")) + tuple(
    f"serializer.classes.{c}" for c in (
        "methods", "attributes", "inheritance", "slots", "enums", "dataclasses", "one_class", "named_tuple",
        "unhashable_metaclass", "typing_constructs"))


@mutant("in_process_registry", *_DYNAMIC_CLAUSES)
def in_process_registry() -> Implementation:
    """Pickles run-time functions and classes as keys into the writer's memory: works in-process only."""
    return serializer_mutant("in_process_registry", MutantSerializer(pickler_dumps(_InProcess)))


class _DropsClassAttributes(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        rv = super().reducer_override(obj)
        if isinstance(obj, type) and obj.__module__ == DYNAMIC_MODULE and isinstance(rv, tuple) and len(rv) > 2:
            state, slotstate = rv[2]
            state = {k: v for k, v in state.items() if k.startswith("_") or callable(v)
                     or isinstance(v, (property, staticmethod, classmethod))}
            rv = rv[:2] + ((state, slotstate),) + rv[3:]
        return rv


@mutant("drops_class_attributes", "serializer.classes.attributes")
def drops_class_attributes() -> Implementation:
    """Leaves a dynamic class's plain class attributes behind."""
    return serializer_mutant("drops_class_attributes", MutantSerializer(pickler_dumps(_DropsClassAttributes)))


def _rebuild(cls: type, state: Dict[str, Any]) -> Any:
    obj: Any = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


class _ClassPerInstance(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls.__module__ == DYNAMIC_MODULE and hasattr(obj, "__dict__") and not isinstance(obj, type):
            # A fresh copy of the class for each instance: two instances, two class objects.
            body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            return _rebuild, (type(cls.__name__, cls.__bases__, body), dict(vars(obj)))
        return super().reducer_override(obj)


@mutant("class_per_instance", "serializer.classes.one_class")
def class_per_instance() -> Implementation:
    """Gives each instance of a dynamic class its own copy of the class."""
    return serializer_mutant("class_per_instance", MutantSerializer(pickler_dumps(_ClassPerInstance)))
