"""The contract: what an implementation under test provides, as typed Protocols, and what it claims.

An implementation is an :class:`Implementation`: a name, a serializer that meets :class:`Serializer`, an
optional store factory that meets :class:`StoreFactory`, the pickle protocols it supports, the
capabilities it claims (see :data:`CAPABILITIES`) and the exception types it declares for each kind of
failure. An adapter (see ``conformance.adapters``) builds one around a concrete library and translates its
API into this one; the suite never touches the library directly.

The contract is deliberately small: the operations any pickle-5 serializer and any immutable
shared-memory object store can reasonably provide. Optional parts (custom serializers, inspection, raw
buffers, eviction, nodes, ...) sit behind capabilities: a clause whose capability is not claimed is skipped
with that reason, never passed. An implementation claims only what it truly does.

Each optional *operation* has a ``Supports...`` Protocol (zarr's ``supports_*`` made checkable):
:class:`SupportsInspect`, :class:`SupportsCustomSerializers`, :class:`SupportsRawBuffers` and
:class:`SupportsClusters`. The Protocols are the check: :data:`CAPABILITY_PROTOCOLS` says which Protocol
each capability needs of the serializer, the store factory, a store or a cluster, and :class:`Implementation`
checks, when it is built, that each one's methods are there and take the contract's call (a store through
the class its factory's ``create`` is annotated to return, and again on each store the suite makes:
:func:`check_store`; a cluster likewise, through ``create_cluster``'s annotation and :func:`check_cluster`).
A gap raises :class:`ContractError` naming the implementation, the capability and the missing operation.
Reading a Protocol's operations is :mod:`conformance.operations`' job.

About 470 lines on purpose: the whole contract an implementer meets, read top to bottom in one place (the
Protocols, the capabilities and the table that ties them together belong together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
    Type,
    runtime_checkable,
)

from conformance.operations import annotated_return, missing_operation

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_PROTOCOLS",
    "Cluster",
    "ContractError",
    "DECLARED_ERRORS",
    "ExceptionTypes",
    "Factory",
    "Implementation",
    "InspectFailure",
    "MADE_BY_FACTORY",
    "OBJECT_ID_SIZE",
    "Serialized",
    "Serializer",
    "Store",
    "StoreFactory",
    "SupportsClusters",
    "SupportsCustomSerializers",
    "SupportsInspect",
    "SupportsRawBuffers",
    "check_cluster",
    "check_store",
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
    "store": "an object store: put/get/contains/delete/list/close",
    "raw_buffers": "create/seal/abort an object's bytes in place, and get_buffer of a sealed one",
    "multiprocess": "a store attached from another process sees sealed objects, zero-copy",
    "eviction": "a full store evicts unpinned objects in LRU order, never pinned ones",
    "timeouts": "get(timeout=...) waits for a put, and raises the declared timeout error when it expires",
    "nodes": "several nodes, each with its own store; objects are pulled on demand",
    # The store's own zero copy, apart from the serializer's (zero_copy, read_only): a store that shares its
    # memory can be paired with a serializer that keeps every buffer in-band, and claim one without the other.
    "store_zero_copy": "get of an array shares the store's memory: two gets (and, with multiprocess, a get "
                       "in another process) share one copy",
    "store_read_only": "arrays from get are read-only: writing to them raises and the stored value never "
                       "changes",
    "memoryview": "memoryview objects serialize (out-of-band at protocol 5 where out_of_band is claimed) and come "
                  "back as memoryviews of the same format, shape and bytes",
    "error_paths": "a serialization error's message names each unserializable object inside the value, with "
                   "a path from the value (value[0]['key'].attr) that evaluates to it",
}

#: Object ids at the contract level are ``bytes`` of this length (adapters translate to their own type).
OBJECT_ID_SIZE = 20

ExceptionTypes = Tuple[Type[BaseException], ...]

#: Each ``*_error`` field of :class:`Implementation`: the capability that needs it declared (None: every
#: implementation) and what raises it. Clauses pass only when the failure raises one of the declared types.
DECLARED_ERRORS: Dict[str, Tuple[Optional[str], str]] = {
    "serialization_error": (None, "serialize(value) of an unserializable value"),
    "deserialization_error": (None, "deserialize(frame) of a corrupt frame"),
    "object_exists_error": ("store", "put (and create) with an id that exists"),
    "store_full_error": ("store", "a put that cannot fit"),
    "timeout_error": ("store", "get(object_id, timeout=...) when the timeout expires"),
    "not_found_error": ("store", "delete (and get with timeout=0) of a missing object"),
}


class ContractError(TypeError):
    """An implementation claims a capability but lacks an operation the capability needs, or does not
    declare an error type its claims need (or declares one that catches everything).

    The message names the implementation, the capability (or the ``*_error`` field) and what is missing,
    and says the way out: drop the claim, add the operation, or declare the exact exception types.
    """


@runtime_checkable
class Serialized(Protocol):
    """A serialized value: a standard pickle stream (``inband``) plus its out-of-band buffers.

    ``inband`` must be a pickle of the protocol asked for, loadable by the stdlib's ``pickle.loads(inband,
    buffers=buffers)`` where the protocol allows it. ``frame_size`` is the size of the one contiguous frame
    that :meth:`write_to` lays into a writable buffer; the implementation's :meth:`Serializer.deserialize`
    reads such a frame back.
    """

    @property
    def inband(self) -> bytes:
        """The in-band pickle stream."""

    @property
    def buffers(self) -> Sequence[memoryview]:
        """The out-of-band buffers, in the order the pickle stream refers to them."""

    @property
    def frame_size(self) -> int:
        """The size in bytes of the frame :meth:`write_to` lays out."""

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
    Optional operations: :class:`SupportsCustomSerializers` (capability ``custom_serializers``) and
    :class:`SupportsInspect` (capability ``inspect``); an adapter that does not claim them may leave them out.
    """

    def serialize(self, obj: Any, *, protocol: int) -> Serialized:
        """Serialize ``obj`` at pickle ``protocol``."""

    def deserialize(self, frame: Any) -> Any:
        """Read a value back from a frame (any C-contiguous buffer holding what ``write_to`` wrote)."""


@runtime_checkable
class SupportsCustomSerializers(Protocol):
    """A serializer's optional custom serializers (capability ``custom_serializers``)."""

    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        """From now on serialize instances of ``cls`` as ``serializer(obj)`` and rebuild them with
        ``deserializer``."""

    def deregister_serializer(self, cls: type) -> None:
        """Serialize instances of ``cls`` the ordinary way again."""


@runtime_checkable
class SupportsInspect(Protocol):
    """A serializer's optional inspection (capability ``inspect``)."""

    def inspect(self, value: Any, *, name: str) -> Tuple[bool, Set[InspectFailure]]:
        """``(serializes, failures)``: whether ``value`` serializes, and each unserializable object inside
        it once, with a path that starts with ``name``."""


class Store(Protocol):
    """An immutable object store, as one client (one process, one node) sees it.

    Ids are ``bytes`` of :data:`OBJECT_ID_SIZE`. A sealed value never changes. ``get`` of an array gives a
    read-only array backed by the store's memory (capability ``zero_copy``). An object is *pinned*, and
    never evicted, while a value or buffer obtained from ``get``/``get_buffer`` is referenced; deleting or
    evicting a pinned object hides it at once but keeps its bytes until the last view is gone.
    ``delete`` of a missing object raises the declared ``not_found_error``; ``get`` of one waits (see
    :meth:`get`) and raises the declared ``timeout_error``.

    These are the operations of capability ``store`` (``name``, an attribute, is checked on each store the
    suite makes, since a class need not show it). A store whose implementation claims ``raw_buffers`` also
    meets :class:`SupportsRawBuffers` (create, seal, abort, get_buffer).
    """

    #: What another process passes to ``StoreFactory.attach`` to reach this same store.
    name: str

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        """Serialize and seal ``value``; the declared ``object_exists_error`` if the id exists; returns the id."""

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        """The value; waits up to ``timeout`` seconds for it to be sealed (``None``: as long as it takes,
        ``0``: not at all), then raises the declared ``timeout_error``."""

    def contains(self, object_id: bytes) -> bool:
        """True for a sealed object of this store."""

    def delete(self, object_id: bytes) -> None:
        """Remove a sealed object (readers' views stay valid); the declared ``not_found_error`` if it is
        missing."""

    def list(self) -> Iterable[bytes]:
        """The ids of the sealed objects."""

    def close(self) -> None:
        """Disconnect this client (the store lives on while others use it)."""


@runtime_checkable
class SupportsRawBuffers(Protocol):
    """A store's optional raw buffers (capability ``raw_buffers``): an object's bytes written in place, then
    sealed, and read back as they are.

    An id being created exists: ``put`` or ``create`` with it raises the declared ``object_exists_error``.
    An unsealed object is invisible to ``contains``, ``list`` and ``get`` (in every process) until
    :meth:`seal`; after it, the bytes never change.
    """

    def create(self, object_id: bytes, size: int) -> memoryview:
        """Allocate an unsealed object of ``size`` bytes and return its writable memory."""

    def seal(self, object_id: bytes) -> None:
        """Make a created object immutable and visible to every client."""

    def abort(self, object_id: bytes) -> None:
        """Drop an unsealed object and free its space."""

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        """The sealed object's bytes, read-only and zero-copy."""


class StoreFactory(Protocol):
    """Makes fresh stores for the suite and attaches to them from another process."""

    def create(self, *, capacity: int) -> Store:
        """A new, empty store able to hold ``capacity`` bytes of objects. The suite destroys it after use."""

    def attach(self, name: str) -> Store:
        """A client of the existing store called ``name`` (from any process on this machine)."""

    def destroy(self, store: Any) -> None:
        """Close ``store`` (one this factory made or attached) and free everything it holds."""


@runtime_checkable
class SupportsClusters(Protocol):
    """A store factory's optional clusters (capability ``nodes``)."""

    def create_cluster(self, n: int, *, capacity: int) -> Cluster:
        """``n`` new nodes, each with an empty store of ``capacity`` bytes. The suite closes it after use."""


class Cluster(Protocol):
    """Several nodes, each with its own store (capability ``nodes``; see :class:`SupportsClusters`)."""

    def node(self, index: int) -> Store:
        """A client of node ``index``'s store: ``get`` pulls from other nodes on demand."""

    def is_local(self, index: int, object_id: bytes) -> bool:
        """True when node ``index``'s own store holds the object (without pulling it)."""

    def close(self) -> None:
        """Stop every node and free everything."""


#: What each capability adds to the contract: ``(capability, owner, Protocol)``, where the implementation's
#: ``owner`` (its ``serializer``, its ``store_factory``, a ``store`` the factory makes, or a ``cluster`` its
#: ``create_cluster`` makes) meets the Protocol
#: when the capability is claimed (``None``: always). The build-time check reads the operations from the
#: Protocols themselves (:mod:`conformance.operations`), so the two cannot drift apart.
CAPABILITY_PROTOCOLS: Tuple[Tuple[Optional[str], str, type], ...] = (
    (None, "serializer", Serializer),
    ("custom_serializers", "serializer", SupportsCustomSerializers),
    ("inspect", "serializer", SupportsInspect),
    ("store", "store_factory", StoreFactory),
    ("store", "store", Store),
    ("raw_buffers", "store", SupportsRawBuffers),
    ("nodes", "store_factory", SupportsClusters),
    ("nodes", "cluster", Cluster),
)
#: The owners made by the factory, each with the factory method that makes it (checked through the class
#: that method is annotated to return, and again on each one the suite makes).
MADE_BY_FACTORY = {"store": "create", "cluster": "create_cluster"}


@dataclass(frozen=True)
class Implementation:
    """An implementation under test, as an adapter describes it.

    ``capabilities`` must be a subset of :data:`CAPABILITIES`; ``protocols`` the pickle protocols the
    serializer supports. The ``*_error`` fields are the exception types the implementation declares for
    each failure: a clause passes only when the failure raises an instance of one of them.

    Every ``*_error`` field that a claim needs (:data:`DECLARED_ERRORS`: the serializer's two always, the
    store's four with ``store``) must name the exact types the implementation raises; none defaults to a
    catch-all, and ``Exception`` or ``BaseException`` is refused, because a clause that accepts any
    exception checks nothing.

    Raises ``ValueError`` for an unknown capability or protocol, ``TypeError`` for an ``*_error`` field that
    is not a tuple of exception types, and :class:`ContractError` when a claimed capability's operation is
    missing (see the ``Supports...`` Protocols), or a needed ``*_error`` field is empty or catches
    everything.
    """

    name: str
    serializer: Serializer
    protocols: Tuple[int, ...] = (5,)
    capabilities: FrozenSet[str] = frozenset()
    store_factory: Optional[StoreFactory] = None
    # No default error type catches everything: a field a claim needs must be declared (see DECLARED_ERRORS).
    serialization_error: ExceptionTypes = ()
    deserialization_error: ExceptionTypes = ()
    object_exists_error: ExceptionTypes = ()
    store_full_error: ExceptionTypes = ()
    timeout_error: ExceptionTypes = ()
    not_found_error: ExceptionTypes = ()
    description: str = ""
    #: Clause id -> why: the clauses whose check the adapter's own code meets rather than the system under
    #: test (an id directory refusing existing ids, say: ``conformance.kit.ID_DIRECTORY_CLAUSES``). They run
    #: as any other; the report marks their cells "adapter-tested" with the reason.
    adapter_tested: Mapping[str, str] = field(default_factory=dict, hash=False)

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
        if "raw_buffers" in self.capabilities and "store" not in self.capabilities:
            raise ValueError(f"implementation {self.name!r} claims 'raw_buffers' but not 'store': raw buffers "
                             f"are operations of a store; claim both or neither")
        store_only = sorted(c for c in ("store_zero_copy", "store_read_only") if c in self.capabilities)
        if store_only and "store" not in self.capabilities:
            raise ValueError(f"implementation {self.name!r} claims {store_only[0]!r} but not 'store': it is a "
                             f"property of a store's get; claim 'store' too, or drop it")
        self._check_operations()
        for label in DECLARED_ERRORS:
            value = getattr(self, label)
            if not isinstance(value, tuple) or not all(
                    isinstance(t, type) and issubclass(t, BaseException) for t in value):
                raise TypeError(f"implementation {self.name!r}: {label!r} must be a tuple of exception "
                                f"types, got {value!r}")
        self._check_declared_errors()
        if not isinstance(self.adapter_tested, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.adapter_tested.items()):
            raise TypeError(f"implementation {self.name!r}: 'adapter_tested' must map clause ids to the reason "
                            f"each is adapter-tested (str -> str), got {self.adapter_tested!r}")

    def _check_declared_errors(self) -> None:
        for label, (capability, raised_by) in DECLARED_ERRORS.items():
            value = getattr(self, label)
            vacuous = [t.__name__ for t in value if t in (Exception, BaseException)]
            if vacuous:
                raise ContractError(
                    f"implementation {self.name!r} declares {label}={value!r}, and {vacuous[0]} catches "
                    f"every error, so the clauses checking it would check nothing; declare the exact type(s) "
                    f"{raised_by} raises instead")
            if not value and (capability is None or capability in self.capabilities):
                needs = "every implementation needs it" if capability is None else f"it claims {capability!r}"
                raise ContractError(
                    f"implementation {self.name!r} declares no {label} ({needs}); pass {label}=(...) with the "
                    f"exact exception type(s) {raised_by} raises")

    def _check_operations(self) -> None:
        # What can be checked without making a store or a cluster: the serializer, the factory, and the
        # classes the factory's create() and create_cluster() are annotated to return (each store and
        # cluster the suite makes is checked again, by check_store and check_cluster).
        for capability, owner, protocol in CAPABILITY_PROTOCOLS:
            if capability is not None and capability not in self.capabilities:
                continue
            if owner not in MADE_BY_FACTORY:
                _check_protocol(self.name, capability, getattr(self, owner), protocol, owner)
                continue
            maker = getattr(self.store_factory, MADE_BY_FACTORY[owner], None)
            made_class = annotated_return(maker) if callable(maker) else None
            if made_class is not None:
                _check_protocol(self.name, capability, made_class, protocol,
                                f"{owner} ({made_class.__qualname__})")

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


def check_store(impl: Implementation, store: Any) -> None:
    """Raise :class:`ContractError` when ``store`` (made by ``impl``'s factory) lacks an operation of a
    Protocol that ``impl``'s claims need of a store (:data:`CAPABILITY_PROTOCOLS`: :class:`Store`, and
    :class:`SupportsRawBuffers` with ``raw_buffers``)."""
    for capability, owner, protocol in CAPABILITY_PROTOCOLS:
        if owner == "store" and (capability is None or impl.claims(capability)):
            _check_protocol(impl.name, capability, store, protocol, f"store ({type(store).__qualname__})")


def check_cluster(impl: Implementation, cluster: Any) -> None:
    """Raise :class:`ContractError` when ``cluster`` (made by ``impl``'s ``create_cluster``) lacks an
    operation of :class:`Cluster` (the Protocols of :data:`CAPABILITY_PROTOCOLS` owned by a cluster)."""
    for capability, owner, protocol in CAPABILITY_PROTOCOLS:
        if owner == "cluster" and (capability is None or impl.claims(capability)):
            _check_protocol(impl.name, capability, cluster, protocol, f"cluster ({type(cluster).__qualname__})")


def _check_protocol(name: str, capability: Optional[str], target: Any, protocol: type, label: str) -> None:
    """Raise :class:`ContractError` for implementation ``name`` when ``target`` (its ``label``: serializer,
    store factory, a store or cluster, or the class of one) lacks an operation of ``protocol``, which ``capability``
    (None: every implementation) needs."""
    problem = missing_operation(target, protocol)
    if problem is not None:
        claim = "needs" if capability is None else f"claims {capability!r} but"
        raise ContractError(f"implementation {name!r} {claim} its {label} {problem}; "
                            + ("add the method" if capability is None else "drop the claim or add the method"))
