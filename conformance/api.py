"""The contract: what an implementation under test provides, as typed Protocols, and what it claims.

An implementation is an :class:`Implementation`: a name, a serializer that meets :class:`Serializer`, an
optional store factory that meets :class:`StoreFactory`, the pickle protocols it supports, the
capabilities it claims (see :data:`CAPABILITIES`) and the exception types it declares for each kind of
failure. An adapter (see ``conformance.adapters``) builds one around a concrete library and translates its
API into this one; the suite never touches the library directly.

The contract is deliberately small: the operations any pickle-5 serializer and any immutable
shared-memory object store can reasonably provide. Optional parts (custom serializers, inspection,
eviction, nodes, ...) sit behind capabilities: a clause whose capability is not claimed is skipped with
that reason, never passed. An implementation claims only what it truly does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (Any, Callable, Dict, FrozenSet, Iterable, Optional, Protocol, Sequence, Set, Tuple,
                    Type, runtime_checkable)

__all__ = [
    "CAPABILITIES",
    "Cluster",
    "ExceptionTypes",
    "Factory",
    "Frame",
    "Implementation",
    "InspectFailure",
    "OBJECT_ID_SIZE",
    "Serializer",
    "Store",
    "StoreFactory",
]

#: Every capability an implementation may claim, with what claiming it promises.
CAPABILITIES: Dict[str, str] = {
    "numpy": "numpy arrays of every dtype, shape, order and stride pattern round-trip bit for bit",
    "numpy_byte_order": "numpy arrays of a non-native byte order come back in that byte order, bit for bit "
                        "(numpy's own pickling turns in-band ones native)",
    "recursive": "recursive objects and shared references keep their identity structure",
    "by_value_functions": "lambdas, nested functions, closures, run-time and __main__ functions travel by "
                          "value and work in a fresh interpreter",
    "dynamic_classes": "classes made at run time (and their instances) travel by value",
    "out_of_band": "at protocol 5, contiguous buffers leave the in-band pickle (PEP 574)",
    "zero_copy": "deserializing shares the out-of-band buffers' memory with the frame",
    "read_only": "a read-only frame gives read-only arrays whose writes raise",
    "custom_serializers": "register_serializer / deregister_serializer",
    "inspect": "inspect(value, name=...) finds every unserializable object with its path",
    "store": "an object store (put/get/contains/delete, create/seal/abort)",
    "multiprocess": "a store attached from another process sees sealed objects, zero-copy",
    "eviction": "a full store evicts unpinned objects in LRU order, never pinned ones",
    "timeouts": "get(timeout=...) waits for a put, and raises the declared timeout error when it expires",
    "nodes": "several nodes, each with its own store; objects are pulled on demand",
}

#: Object ids at the contract level are ``bytes`` of this length (adapters translate to their own type).
OBJECT_ID_SIZE = 20

ExceptionTypes = Tuple[Type[BaseException], ...]


@runtime_checkable
class Frame(Protocol):
    """A serialized value: a standard pickle stream (``inband``) plus its out-of-band buffers.

    ``inband`` must be a pickle of the protocol asked for, loadable by the stdlib's ``pickle.loads(inband,
    buffers=buffers)`` where the protocol allows it. ``frame_size`` is the size of the one contiguous frame
    that :meth:`write_to` lays into a writable buffer; the implementation's :meth:`Serializer.deserialize`
    reads such a frame back.
    """

    inband: bytes
    buffers: Sequence[memoryview]
    frame_size: int

    def write_to(self, buffer: Any) -> int:
        """Write the frame into a writable buffer of ``frame_size`` bytes or more; return ``frame_size``."""


@runtime_checkable
class InspectFailure(Protocol):
    """One unserializable object found by :meth:`Serializer.inspect`."""

    obj: Any
    #: A Python expression, starting with the root name, that evaluates to ``obj``.
    path: str


@runtime_checkable
class Serializer(Protocol):
    """A pickle-compatible serializer.

    ``serialize`` raises the implementation's declared ``serialization_error`` for a value it cannot
    serialize; ``deserialize`` raises the declared ``deserialization_error`` for a corrupt frame.
    ``register_serializer``, ``deregister_serializer`` (capability ``custom_serializers``) and ``inspect``
    (capability ``inspect``) are optional: an adapter that does not claim them may leave them out.
    """

    def serialize(self, obj: Any, *, protocol: int) -> Frame:
        """Serialize ``obj`` at pickle ``protocol``."""

    def deserialize(self, frame: Any) -> Any:
        """Read a value back from a frame (any C-contiguous buffer holding what ``write_to`` wrote)."""


class Store(Protocol):
    """An immutable object store, as one client (one process, one node) sees it.

    Ids are ``bytes`` of :data:`OBJECT_ID_SIZE`. A sealed value never changes. ``get`` of an array gives a
    read-only array backed by the store's memory (capability ``zero_copy``). An object is *pinned*, and
    never evicted, while a value or buffer obtained from ``get``/``get_buffer`` is referenced; deleting or
    evicting a pinned object hides it at once but keeps its bytes until the last view is gone.
    ``delete`` of a missing object raises the declared ``not_found_error``; ``get`` of one waits (see
    :meth:`get`) and raises the declared ``timeout_error``.
    """

    #: What another process passes to ``StoreFactory.attach`` to reach this same store.
    name: str

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        """Serialize and seal ``value``; the declared ``object_exists_error`` if the id exists; returns the id."""

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        """The value; waits up to ``timeout`` seconds for it to be sealed (``None``: as long as it takes,
        ``0``: not at all), then raises the declared ``timeout_error``."""

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        """The sealed object's bytes, read-only and zero-copy."""

    def contains(self, object_id: bytes) -> bool:
        """True for a sealed object of this store."""

    def delete(self, object_id: bytes) -> None:
        """Remove a sealed object (readers' views stay valid)."""

    def create(self, object_id: bytes, size: int) -> memoryview:
        """Allocate an unsealed object of ``size`` bytes and return its writable memory."""

    def seal(self, object_id: bytes) -> None:
        """Make a created object immutable and visible to every client."""

    def abort(self, object_id: bytes) -> None:
        """Drop an unsealed object and free its space."""

    def list(self) -> Iterable[bytes]:
        """The ids of the sealed objects."""

    def close(self) -> None:
        """Disconnect this client (the store lives on while others use it)."""


class StoreFactory(Protocol):
    """Makes fresh stores for the suite and attaches to them from another process."""

    def create(self, *, capacity: int) -> Store:
        """A new, empty store able to hold ``capacity`` bytes of objects. The suite destroys it after use."""

    def attach(self, name: str) -> Store:
        """A client of the existing store called ``name`` (from any process on this machine)."""

    def destroy(self, store: Store) -> None:
        """Close ``store`` and free everything it holds."""


class Cluster(Protocol):
    """Several nodes, each with its own store (capability ``nodes``); optional part of a StoreFactory,
    ``StoreFactory.create_cluster(n, *, capacity) -> Cluster``."""

    def node(self, index: int) -> Store:
        """A client of node ``index``'s store: ``get`` pulls from other nodes on demand."""

    def is_local(self, index: int, object_id: bytes) -> bool:
        """True when node ``index``'s own store holds the object (without pulling it)."""

    def close(self) -> None:
        """Stop every node and free everything."""


@dataclass(frozen=True)
class Implementation:
    """An implementation under test, as an adapter describes it.

    ``capabilities`` must be a subset of :data:`CAPABILITIES`; ``protocols`` the pickle protocols the
    serializer supports. The ``*_error`` fields are the exception types the implementation declares for
    each failure: a clause passes only when the failure raises an instance of one of them.
    """

    name: str
    serializer: Serializer
    protocols: Tuple[int, ...] = (5,)
    capabilities: FrozenSet[str] = frozenset()
    store_factory: Optional[StoreFactory] = None
    serialization_error: ExceptionTypes = (Exception,)
    deserialization_error: ExceptionTypes = (Exception,)
    object_exists_error: ExceptionTypes = (Exception,)
    store_full_error: ExceptionTypes = (Exception,)
    timeout_error: ExceptionTypes = (TimeoutError,)
    not_found_error: ExceptionTypes = (KeyError,)
    description: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(
                f"implementation {self.name!r} claims unknown capabilities {sorted(unknown)}; "
                f"known ones are {sorted(CAPABILITIES)}"
            )
        if not self.protocols or any(p not in (2, 3, 4, 5) for p in self.protocols):
            raise ValueError(f"implementation {self.name!r}: 'protocols' must name pickle protocols "
                             f"2-5, got {self.protocols!r}")
        if "store" in self.capabilities and self.store_factory is None:
            raise ValueError(f"implementation {self.name!r} claims 'store' but has no store_factory")
        for label in ("serialization_error", "deserialization_error", "object_exists_error",
                      "store_full_error", "timeout_error", "not_found_error"):
            value = getattr(self, label)
            if not isinstance(value, tuple) or not all(
                    isinstance(t, type) and issubclass(t, BaseException) for t in value):
                raise TypeError(f"implementation {self.name!r}: {label!r} must be a tuple of exception "
                                f"types, got {value!r}")

    def __repr__(self) -> str:
        return f"load_implementation({self.name!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis (and IPython) pretty-print dataclasses field by field; a failing example should
        # show how to get the implementation back, not its innards.
        printer.text(repr(self))

    def claims(self, capability: str) -> bool:
        """True when this implementation claims ``capability`` (a key of :data:`CAPABILITIES`)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known ones are {sorted(CAPABILITIES)}")
        return capability in self.capabilities

    def missing(self, capabilities: Iterable[str]) -> Set[str]:
        """The capabilities of ``capabilities`` that this implementation does not claim."""
        return {c for c in capabilities if not self.claims(c)}


Factory = Callable[[], Implementation]
