"""Mutants of failures and of the optional serializer operations: unserializable values, corrupt frames,
inspection, custom serializers."""

from __future__ import annotations

import pickle
import threading
import types
from typing import Any, Callable, Set, Tuple

import cloudpickle

from conformance.adapters.reference import ReferenceSerializer
from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import MutantSerializer, pickler_dumps, reference_mutant, serializer_mutant


class _SwallowsLocks(cloudpickle.Pickler):
    _culprits = (type(threading.Lock()), type(threading.RLock()), types.GeneratorType)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._culprits):
            return type(None), ()
        return super().reducer_override(obj)


@mutant("swallows_locks", "serializer.errors.unserializable")
def swallows_locks() -> Implementation:
    """Serializes locks and generators silently, as None."""
    return serializer_mutant("swallows_locks", MutantSerializer(pickler_dumps(_SwallowsLocks)))


@mutant("untyped_errors", "serializer.errors.corrupt")
def untyped_errors() -> Implementation:
    """Declares pickle.UnpicklingError for corrupt frames, but its frame reader raises other errors."""
    return serializer_mutant("untyped_errors", MutantSerializer(),
                             deserialization_error=(pickle.UnpicklingError,))


class _InspectFirstOnly(ReferenceSerializer):
    def inspect(self, value: Any, *, name: str = "value", depth: int = 64) -> Tuple[bool, Set[Any]]:
        ok, failures = super().inspect(value, name=name, depth=depth)
        return ok, set(sorted(failures, key=lambda f: f.path)[:1])


@mutant("inspect_first_only", "serializer.inspect.culprits")
def inspect_first_only() -> Implementation:
    """inspect reports only the first culprit it finds."""
    return reference_mutant("inspect_first_only", _InspectFirstOnly())


class _RegisterIgnored(ReferenceSerializer):
    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        pass

    def deregister_serializer(self, cls: type) -> None:
        pass


@mutant("register_ignored", "serializer.custom.register")
def register_ignored() -> Implementation:
    """register_serializer does nothing."""
    return reference_mutant("register_ignored", _RegisterIgnored())


class _DeregisterIgnored(ReferenceSerializer):
    def deregister_serializer(self, cls: type) -> None:
        pass


@mutant("deregister_ignored", "serializer.custom.deregister")
def deregister_ignored() -> Implementation:
    """deregister_serializer does nothing: the custom serializer stays in force."""
    return reference_mutant("deregister_ignored", _DeregisterIgnored())
