"""Mutants that leak: a Pickler in bpo-39492's reference cycle, a loader that keeps what it loaded, and
stores that keep what they were given or gave back."""

from __future__ import annotations

from typing import Any, List, Optional

import cloudpickle

from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import (
    MutantSerializer,
    StoreWrapper,
    pickler_dumps,
    serializer_mutant,
    shared_memory_mutant,
)


class _CyclicPickler(cloudpickle.Pickler):
    """cloudpickle's Pickler holding its own bound ``reducer_override``: the reference cycle of CPython
    3.8.0/3.8.1's C Pickler and of the pickle5 backport before 0.0.10 (bpo-39492). Until the cyclic GC runs,
    the Pickler, and through its memo every object it pickled, stays alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bound_reducer_override = self.reducer_override  # the cycle


@mutant("pickler_cycle_leaks", "serializer.leaks.inband", "serializer.leaks.out_of_band")
def pickler_cycle_leaks() -> Implementation:
    """Pickles with a Pickler in a reference cycle (bpo-39492): with the GC off, every pickled object stays alive."""
    return serializer_mutant("pickler_cycle_leaks", MutantSerializer(pickler_dumps(_CyclicPickler)))


class _KeepingLoads:
    """``pickle.loads`` that keeps every value it loaded (a cache never emptied)."""

    def __init__(self) -> None:
        self.kept: List[Any] = []

    def __call__(self, inband: Any, *, buffers: Any = ()) -> Any:
        import pickle

        value = pickle.loads(inband, buffers=buffers)
        self.kept.append(value)
        return value


@mutant("loads_keeps_values", "serializer.leaks.inband", "serializer.leaks.out_of_band")
def loads_keeps_values() -> Implementation:
    """deserialize keeps every value it loaded, for ever."""
    return serializer_mutant("loads_keeps_values", MutantSerializer(loads=_KeepingLoads()))


class _KeepsValues(StoreWrapper):
    def __init__(self, inner: Any, serializer: Any) -> None:
        super().__init__(inner, serializer)
        self.kept: List[Any] = []

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        self.kept.append(value)
        return super().put(value, object_id)


@mutant("store_keeps_values", "store.leaks.objects", "store.leaks.rss")
def store_keeps_values() -> Implementation:
    """put keeps every value it was given, after delete too."""
    return shared_memory_mutant("store_keeps_values", _KeepsValues)


class _KeepsCopies(StoreWrapper):
    def __init__(self, inner: Any, serializer: Any) -> None:
        super().__init__(inner, serializer)
        self.copies: List[bytes] = []

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        # A private copy of the object's bytes per get, never freed: no object the caller knows stays alive.
        self.copies.append(bytes(self.get_buffer(object_id, timeout=timeout)))
        return super().get(object_id, timeout=timeout)


@mutant("store_keeps_copies", "store.leaks.rss")
def store_keeps_copies() -> Implementation:
    """get keeps a private copy of each object's bytes, for ever: memory grows, no value stays alive."""
    return shared_memory_mutant("store_keeps_copies", _KeepsCopies)
