"""What the mutant families share: a serializer over the adapters' :class:`PicklerSerializer` whose
pickler, loader and buffers a mutant can bend, and stores that wrap a shipped store and forward every
operation but the one a mutant breaks. Everything here goes through the adapters' public classes.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import pickle
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence

import cloudpickle

from conformance.adapters.frames import read_frame
from conformance.adapters.pickling import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS, PicklerSerializer
from conformance.api import Implementation

__all__ = ["SERIALIZER_CAPS", "ClusterWrapper", "MutantSerializer", "StoreWrapper", "WrappingFactory",
           "pickler_dumps", "reference_mutant", "serializer_mutant", "shared_memory_mutant", "writable_alias"]

#: What a cloudpickle-based serializer mutant claims (all a correct one would).
SERIALIZER_CAPS = frozenset({"numpy", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
                             "zero_copy", "read_only"})


def pickler_dumps(pickler_class: type = cloudpickle.Pickler, *, fast: bool = False,
                  protocol: Optional[int] = None) -> Callable[..., bytes]:
    """A ``dumps(obj, protocol=, buffer_callback=)`` over ``pickler_class``; ``fast`` turns the memo off,
    ``protocol`` replaces the one asked for."""

    forced = protocol

    def dumps(obj: Any, *, protocol: int, buffer_callback: Any = None) -> bytes:
        out = io.BytesIO()
        pickler = pickler_class(out, protocol=forced or protocol, buffer_callback=buffer_callback)
        pickler.fast = fast
        pickler.dump(obj)
        return out.getvalue()

    return dumps


class MutantSerializer(PicklerSerializer):
    """:class:`PicklerSerializer` with a replaceable loader (``loads(inband, buffers=...)``) and a hook
    that may change the out-of-band buffers before they are loaded."""

    def __init__(self, dumps: Callable[..., bytes] = pickler_dumps(), *, out_of_band: bool = True,
                 loads: Callable[..., Any] = pickle.loads,
                 buffers: Callable[[List[memoryview]], Sequence[Any]] = list) -> None:
        super().__init__(dumps, out_of_band=out_of_band)
        self.loads = loads
        self.buffers_for_load = buffers

    def deserialize(self, frame: Any) -> Any:
        inband, buffers = read_frame(frame)
        return self.loads(inband, buffers=self.buffers_for_load(list(buffers)))


def serializer_mutant(name: str, serializer: Any, **fields: Any) -> Implementation:
    """The implementation ``mutant.<name>``: ``serializer`` with cloudpickle's capabilities and stdlib
    pickle's errors, unless ``fields`` say otherwise."""
    fields.setdefault("capabilities", SERIALIZER_CAPS)
    fields.setdefault("protocols", (3, 4, 5))
    fields.setdefault("serialization_error", PICKLE_DUMP_ERRORS)
    fields.setdefault("deserialization_error", PICKLE_LOAD_ERRORS)
    return Implementation(name=f"mutant.{name}", serializer=serializer, description="a mutant", **fields)


def reference_mutant(name: str, serializer: Any, **fields: Any) -> Implementation:
    """The implementation ``mutant.<name>``: ``serializer`` (a subclass of the reference adapter's
    ``ReferenceSerializer``) with the reference's errors, claiming what the reference serializer does
    (no store), plus ``fields``."""
    from conformance.adapters.reference import reference_implementation

    base = reference_implementation()
    fields.setdefault("capabilities", SERIALIZER_CAPS | {"custom_serializers", "inspect", "memoryview", "error_paths"})
    return dataclasses.replace(base, name=f"mutant.{name}", serializer=serializer, store_factory=None,
                               description="a mutant", **fields)


def writable_alias(view: memoryview) -> memoryview:
    """A writable view of ``view``'s memory, even when ``view`` is read-only (what a store must never hand
    out). It does not keep the memory alive: the caller keeps ``view``'s owner alive."""
    if view.nbytes == 0:
        return view
    import numpy as np

    address = np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0]
    return memoryview((ctypes.c_char * view.nbytes).from_address(address)).cast("B")


class StoreWrapper:
    """A store that forwards every operation to ``inner`` (a store of a shipped adapter); a mutant
    overrides the operation it breaks. ``serializer`` is the implementation's, for mutants that read an
    object's bytes themselves."""

    def __init__(self, inner: Any, serializer: Any) -> None:
        self.inner = inner
        self.serializer = serializer
        self.name = inner.name

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        return self.inner.put(value, object_id)

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self.inner.get(object_id, timeout=timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return self.inner.get_buffer(object_id, timeout=timeout)

    def contains(self, object_id: bytes) -> bool:
        return self.inner.contains(object_id)

    def delete(self, object_id: bytes) -> None:
        self.inner.delete(object_id)

    def create(self, object_id: bytes, size: int) -> memoryview:
        return self.inner.create(object_id, size)

    def seal(self, object_id: bytes) -> None:
        self.inner.seal(object_id)

    def abort(self, object_id: bytes) -> None:
        self.inner.abort(object_id)

    def list(self) -> List[bytes]:
        return list(self.inner.list())

    def close(self) -> None:
        self.inner.close()


class ClusterWrapper:
    """A cluster of ``size`` nodes whose nodes are ``wrap(this wrapper, index)``; locality is the inner
    cluster's."""

    def __init__(self, inner: Any, size: int, wrap: Callable[[ClusterWrapper, int], Any]) -> None:
        self.inner = inner
        self.size = size
        self._nodes: Dict[int, Any] = {}  # one wrapped node per index, as the contract's node() promises
        self._wrap = wrap

    def node(self, index: int) -> Any:
        if index not in self._nodes:
            self._nodes[index] = self._wrap(self, index)
        return self._nodes[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        return self.inner.is_local(index, object_id)

    def close(self) -> None:
        self.inner.close()


class WrappingFactory:
    """A store factory whose stores are ``wrap(inner store)``; ``capacity`` maps the capacity asked for
    to the one the inner store gets, and ``wrap_node`` (optional) wraps clusters' nodes."""

    def __init__(self, inner: Any, wrap: Callable[[Any], StoreWrapper], *,
                 capacity: Callable[[int], int] = lambda c: c,
                 wrap_node: Optional[Callable[[ClusterWrapper, int], Any]] = None) -> None:
        self.inner = inner
        self.wrap = wrap
        self.capacity = capacity
        self.wrap_node = wrap_node

    def create(self, *, capacity: int) -> StoreWrapper:
        return self.wrap(self.inner.create(capacity=self.capacity(capacity)))

    def attach(self, name: str) -> StoreWrapper:
        return self.wrap(self.inner.attach(name))

    def destroy(self, store: Any) -> None:
        self.inner.destroy(store.inner)

    def create_cluster(self, n: int, *, capacity: int) -> Any:
        cluster = self.inner.create_cluster(n, capacity=capacity)
        if self.wrap_node is None:
            return cluster
        return ClusterWrapper(cluster, n, self.wrap_node)


def shared_memory_mutant(name: str, store_class: Optional[Callable[[Any, Any], StoreWrapper]] = None, *,
                         capacity: Callable[[int], int] = lambda c: c,
                         wrap_node: Optional[Callable[[ClusterWrapper, int], Any]] = None,
                         capabilities: FrozenSet[str] = frozenset()) -> Implementation:
    """The implementation ``mutant.<name>``: the ``shared_memory`` adapter whose stores are
    ``store_class(inner store, serializer)`` (and clusters' nodes ``wrap_node(cluster, index)``),
    claiming the adapter's capabilities plus ``capabilities``."""
    from conformance.adapters.shared_memory import shared_memory_implementation

    base = shared_memory_implementation()
    wrap_class = store_class or StoreWrapper
    factory = WrappingFactory(base.store_factory, lambda inner: wrap_class(inner, base.serializer),
                              capacity=capacity, wrap_node=wrap_node)
    return dataclasses.replace(base, name=f"mutant.{name}", store_factory=factory,
                               capabilities=base.capabilities | capabilities, description="a store mutant")
