"""Mutants: implementations with one deliberate defect each, which the suite must catch.

Each mutant wraps a correct serializer (cloudpickle's, or the reference) and breaks exactly one promise,
while claiming every capability a correct one would. ``MUTANTS[name].targets`` lists the clause ids that
must fail against it; the meta tests (``tests/test_conformance_mutants.py``) run those clauses against
each mutant and fail when one passes, and fail when a clause has no mutant. Load one with
``--impl mutant.<name>``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import pickle
import threading
import types
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import cloudpickle

from conformance.adapters.frames import PickleFrame, read_frame
from conformance.adapters.pickling import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS
from conformance.api import Implementation

__all__ = ["MUTANTS", "Mutant"]


class Mutant(NamedTuple):
    """A broken implementation: how to build it, the clauses that must catch it, and its defect."""

    factory: Callable[[], Implementation]
    targets: Tuple[str, ...]
    defect: str


MUTANTS: Dict[str, Mutant] = {}

_SERIALIZER_CAPS = frozenset({"numpy", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
                              "zero_copy", "read_only"})


def mutant(name: str, *targets: str) -> Callable[[Callable[[], Implementation]], Callable[[], Implementation]]:
    """Register ``factory`` as the mutant ``name`` that clauses ``targets`` must catch."""

    def register(factory: Callable[[], Implementation]) -> Callable[[], Implementation]:
        doc = (factory.__doc__ or "").strip().splitlines()[0]
        MUTANTS[name] = Mutant(factory, tuple(targets), doc)
        return factory

    return register


class _Serializer:
    """A cloudpickle-based serializer whose pickler, unpickling and buffers a mutant can bend."""

    pickler_class: type = cloudpickle.Pickler
    fast = False
    out_of_band = True
    protocol_override = None

    def serialize(self, obj: Any, *, protocol: int) -> PickleFrame:
        protocol = self.protocol_override or protocol
        out = io.BytesIO()
        buffers: List[Any] = []
        callback = buffers.append if protocol >= 5 and self.out_of_band else None
        pickler = self.pickler_class(out, protocol=protocol, buffer_callback=callback)
        pickler.fast = self.fast
        pickler.dump(obj)
        return PickleFrame(out.getvalue(), [b.raw() for b in buffers])

    def buffers_for_load(self, buffers: List[memoryview]) -> List[Any]:
        return buffers

    def loads(self, inband: Any, buffers: List[Any]) -> Any:
        return pickle.loads(inband, buffers=buffers)

    def deserialize(self, frame: Any) -> Any:
        inband, buffers = read_frame(frame)
        return self.loads(inband, self.buffers_for_load(buffers))


def _impl(name: str, serializer: Any, **kw: Any) -> Implementation:
    kw.setdefault("capabilities", _SERIALIZER_CAPS)
    kw.setdefault("protocols", (3, 4, 5))
    kw.setdefault("serialization_error", PICKLE_DUMP_ERRORS)
    kw.setdefault("deserialization_error", PICKLE_LOAD_ERRORS)
    return Implementation(name=f"mutant.{name}", serializer=serializer, description="a mutant", **kw)


# -- values -------------------------------------------------------------------------------------------------
def _bytes_from(*args: Any) -> bytes:
    return bytes(bytearray(*args))


class _BytearrayAsBytes(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "bytearray"):
            return _bytes_from
        return super().find_class(module, name)


@mutant("bytearray_as_bytes", "serializer.native.roundtrip")
def _bytearray_as_bytes() -> Implementation:
    """bytearray comes back as bytes (protocols 3 and 4, where bytearray is rebuilt by name)."""
    s = _Serializer()
    s.loads = lambda inband, buffers: _BytearrayAsBytes(io.BytesIO(bytes(inband)), buffers=buffers).load()
    return _impl("bytearray_as_bytes", s, protocols=(3, 4))


@mutant("no_memo", "serializer.identity.shared", "serializer.identity.recursive")
def _no_memo() -> Implementation:
    """Pickles in "fast" mode (no memo): shared references come back as copies, cycles fail."""
    s = _Serializer()
    s.fast = True
    return _impl("no_memo", s)


@mutant("ignores_protocol", "serializer.protocols.roundtrip")
def _ignores_protocol() -> Implementation:
    """Always pickles at protocol 5, whatever protocol was asked for."""
    s = _Serializer()
    s.protocol_override = 5
    return _impl("ignores_protocol", s)


class _PrivateStrings(cloudpickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        # A bytes id: an id holding the str itself would be asked for its own id again on Python 3.8.
        return obj.encode("utf-8", "surrogatepass") if type(obj) is str else None


class _PrivateUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return pid.decode("utf-8", "surrogatepass")


@mutant("private_inband", "serializer.protocols.stdlib_loads")
def _private_inband() -> Implementation:
    """Writes strings as persistent ids that only its own loader understands: stdlib pickle cannot load it."""
    s = _Serializer()
    s.pickler_class = _PrivateStrings
    s.loads = lambda inband, buffers: _PrivateUnpickler(io.BytesIO(bytes(inband)), buffers=buffers).load()
    return _impl("private_inband", s)


# -- numpy and buffers --------------------------------------------------------------------------------------
class _TruncatesDatetimes(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if type(obj) is np.ndarray and obj.dtype.kind in "mM" and np.datetime_data(obj.dtype)[0] in (
                "ms", "us", "ns", "ps", "fs", "as"):
            coarse = obj.astype(obj.dtype.str[:-4] + "[s]" if obj.dtype.str.endswith("s]") else obj.dtype)
            return np.asarray, (coarse.tolist() if coarse.ndim else coarse.item(), coarse.dtype)
        return super().reducer_override(obj)


@mutant("truncates_datetimes", "serializer.numpy.roundtrip")
def _truncates_datetimes() -> Implementation:
    """datetime64/timedelta64 arrays finer than seconds come back rounded to seconds."""
    s = _Serializer()
    s.pickler_class = _TruncatesDatetimes
    return _impl("truncates_datetimes", s)


@mutant("inband_buffers", "serializer.out_of_band.inband_size", "serializer.out_of_band.zero_copy")
def _inband_buffers() -> Implementation:
    """Claims out-of-band buffers but pickles every array in-band."""
    s = _Serializer()
    s.out_of_band = False
    return _impl("inband_buffers", s)


@mutant("copies_buffers", "serializer.out_of_band.zero_copy")
def _copies_buffers() -> Implementation:
    """Copies each out-of-band buffer (read-only copies) before loading: no zero copy."""
    s = _Serializer()
    s.buffers_for_load = lambda buffers: [bytes(b) for b in buffers]
    return _impl("copies_buffers", s)


def _writable_alias(view: memoryview) -> memoryview:
    if not view.readonly or view.nbytes == 0:
        return view
    # A writable view of read-only memory: exactly what a store must never hand out.
    import numpy as np

    arr = np.frombuffer(view, dtype=np.uint8)
    addr = arr.__array_interface__["data"][0]
    return memoryview((ctypes.c_char * view.nbytes).from_address(addr)).cast("B")


@mutant("writable_arrays", "serializer.out_of_band.read_only")
def _writable_arrays() -> Implementation:
    """Hands out writable arrays over a read-only frame (shared memory, but writes go through)."""
    s = _Serializer()
    s.buffers_for_load = lambda buffers: [_writable_alias(b) for b in buffers]
    return _impl("writable_arrays", s)


# -- errors -------------------------------------------------------------------------------------------------
class _SwallowsLocks(cloudpickle.Pickler):
    _culprits = (type(threading.Lock()), type(threading.RLock()), types.GeneratorType)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._culprits):
            return type(None), ()
        return super().reducer_override(obj)


@mutant("swallows_locks", "serializer.errors.unserializable")
def _swallows_locks() -> Implementation:
    """Serializes locks and generators silently, as None."""
    s = _Serializer()
    s.pickler_class = _SwallowsLocks
    return _impl("swallows_locks", s)


@mutant("untyped_errors", "serializer.errors.corrupt")
def _untyped_errors() -> Implementation:
    """Declares pickle.UnpicklingError for corrupt frames, but its frame reader raises other errors."""
    return _impl("untyped_errors", _Serializer(), deserialization_error=(pickle.UnpicklingError,))


class _ReferenceBased:
    def __init__(self) -> None:
        from conformance.adapters.reference import ReferenceSerializer

        self._inner = ReferenceSerializer()

    def serialize(self, obj: Any, *, protocol: int) -> Any:
        return self._inner.serialize(obj, protocol=protocol)

    def deserialize(self, frame: Any) -> Any:
        return self._inner.deserialize(frame)

    def register_serializer(self, cls: type, **kw: Any) -> None:
        self._inner.register_serializer(cls, **kw)

    def deregister_serializer(self, cls: type) -> None:
        self._inner.deregister_serializer(cls)

    def inspect(self, value: Any, *, name: str = "value") -> Any:
        return self._inner.inspect(value, name=name)


def _reference_mutant(name: str, serializer: Any) -> Implementation:
    import reference

    return _impl(name, serializer, capabilities=_SERIALIZER_CAPS | {"custom_serializers", "inspect"},
                 serialization_error=(reference.SerializationError,),
                 deserialization_error=(reference.DeserializationError,))


@mutant("native_byte_order", "serializer.numpy.byte_order")
def _native_byte_order() -> Implementation:
    """Turns every array native-endian before serializing (values intact, byte order lost)."""
    class S(_ReferenceBased):
        def serialize(self, obj: Any, *, protocol: int) -> Any:
            import numpy as np

            if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
                obj = obj.astype(obj.dtype.newbyteorder("="))
            return self._inner.serialize(obj, protocol=protocol)

    impl = _reference_mutant("native_byte_order", S())
    return dataclasses.replace(impl, capabilities=impl.capabilities | {"numpy_byte_order"})


@mutant("inspect_first_only", "serializer.inspect.culprits")
def _inspect_first_only() -> Implementation:
    """inspect reports only the first culprit it finds."""
    class S(_ReferenceBased):
        def inspect(self, value: Any, *, name: str = "value") -> Any:
            ok, failures = self._inner.inspect(value, name=name)
            return ok, set(sorted(failures, key=lambda f: f.path)[:1])

    return _reference_mutant("inspect_first_only", S())


@mutant("register_ignored", "serializer.custom.register")
def _register_ignored() -> Implementation:
    """register_serializer does nothing."""
    class S(_ReferenceBased):
        def register_serializer(self, cls: type, **kw: Any) -> None:
            self._registered = cls

        def deregister_serializer(self, cls: type) -> None:
            pass

    return _reference_mutant("register_ignored", S())


@mutant("deregister_ignored", "serializer.custom.deregister")
def _deregister_ignored() -> Implementation:
    """deregister_serializer does nothing: the custom serializer stays in force."""
    class S(_ReferenceBased):
        def deregister_serializer(self, cls: type) -> None:
            pass

    return _reference_mutant("deregister_ignored", S())


# -- functions and classes ----------------------------------------------------------------------------------
_IN_PROCESS: Dict[int, Any] = {}


def _lookup_in_process(key: int) -> Any:
    return _IN_PROCESS[key]


class _InProcess(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        from conformance.dynamic import DYNAMIC_MODULE

        if isinstance(obj, (types.FunctionType, type)) and getattr(obj, "__module__", None) in (
                DYNAMIC_MODULE, "__main__"):
            _IN_PROCESS[id(obj)] = obj
            return _lookup_in_process, (id(obj),)
        return super().reducer_override(obj)


_DYNAMIC_CLAUSES = tuple(f"serializer.functions.{c}" for c in (
    "lambda", "nested", "closure", "recursive_closure", "runtime", "main")) + tuple(
    f"serializer.classes.{c}" for c in (
        "methods", "attributes", "inheritance", "slots", "enums", "dataclasses", "one_class"))


@mutant("in_process_registry", *_DYNAMIC_CLAUSES)
def _in_process_registry() -> Implementation:
    """Pickles run-time functions and classes as keys into the writer's memory: works in-process only."""
    s = _Serializer()
    s.pickler_class = _InProcess
    return _impl("in_process_registry", s)


class _DropsClassAttributes(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        from conformance.dynamic import DYNAMIC_MODULE

        rv = super().reducer_override(obj)
        if isinstance(obj, type) and obj.__module__ == DYNAMIC_MODULE and isinstance(rv, tuple) and len(rv) > 2:
            state, slotstate = rv[2]
            state = {k: v for k, v in state.items() if k.startswith("_") or callable(v)
                     or isinstance(v, (property, staticmethod, classmethod))}
            rv = rv[:2] + ((state, slotstate),) + rv[3:]
        return rv


@mutant("drops_class_attributes", "serializer.classes.attributes")
def _drops_class_attributes() -> Implementation:
    """Leaves a dynamic class's plain class attributes behind."""
    s = _Serializer()
    s.pickler_class = _DropsClassAttributes
    return _impl("drops_class_attributes", s)


def _rebuild(cls: type, state: Dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


class _ClassPerInstance(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        from conformance.dynamic import DYNAMIC_MODULE

        cls = type(obj)
        if cls.__module__ == DYNAMIC_MODULE and hasattr(obj, "__dict__") and not isinstance(obj, type):
            # A fresh copy of the class for each instance: two instances, two class objects.
            body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            return _rebuild, (type(cls.__name__, cls.__bases__, body), dict(vars(obj)))
        return super().reducer_override(obj)


@mutant("class_per_instance", "serializer.classes.one_class")
def _class_per_instance() -> Implementation:
    """Gives each instance of a dynamic class its own copy of the class."""
    s = _Serializer()
    s.pickler_class = _ClassPerInstance
    return _impl("class_per_instance", s)


# -- stores -------------------------------------------------------------------------------------------------
# Each store mutant is the minimal shared-memory store (conformance.adapters.shared_memory) with one defect.
def _store_mutant(name: str, store_class: type, **kw: Any) -> Implementation:
    from conformance.adapters import shared_memory as shm

    class Factory(shm.ShmStoreFactory):
        def create(self, *, capacity: int) -> Any:
            return store_class(f"{__import__('secrets').token_hex(6)}-{capacity}", capacity)

        def attach(self, name: str) -> Any:
            return store_class(name, int(name.rsplit("-", 1)[1]))

    base = shm.shared_memory_implementation()
    fields = {f: getattr(base, f) for f in ("serializer", "protocols", "capabilities", "serialization_error",
                                             "deserialization_error", "object_exists_error",
                                             "store_full_error", "timeout_error", "not_found_error")}
    fields.update(kw)
    return Implementation(name=f"mutant.{name}", store_factory=Factory(), description="a store mutant",
                          **fields)


def _shm() -> Any:
    from conformance.adapters import shared_memory

    return shared_memory


@mutant("store_unlisted", "store.put_get.roundtrip", "store.stateful.model")
def _store_unlisted() -> Implementation:
    """list() forgets the objects this client put."""
    class S(_shm().ShmStore):
        def put(self, value: Any, object_id: Any = None) -> bytes:
            oid = super().put(value, object_id)
            self._mine = getattr(self, "_mine", set()) | {oid}
            return oid

        def list(self) -> List[bytes]:
            return [o for o in super().list() if o not in getattr(self, "_mine", set())]

    return _store_mutant("store_unlisted", S)


@mutant("store_overwrites", "store.immutability.exists")
def _store_overwrites() -> Implementation:
    """put with an existing id replaces the object."""
    class S(_shm().ShmStore):
        def put(self, value: Any, object_id: Any = None) -> bytes:
            if object_id is not None and self.contains(object_id):
                self.delete(object_id)
            return super().put(value, object_id)

    return _store_mutant("store_overwrites", S)


@mutant("store_writable_gets", "store.immutability.read_only")
def _store_writable_gets() -> Implementation:
    """get and get_buffer hand out writable views of the stored object."""
    class S(_shm().ShmStore):
        def _open(self, oid: bytes, timeout: Any) -> memoryview:
            view = super()._open(oid, timeout)
            return _writable_alias(view)

    return _store_mutant("store_writable_gets", S)


@mutant("store_writer_view_survives", "store.immutability.sealed_bytes")
def _store_writer_view_survives() -> Implementation:
    """seal leaves the writer's create() view writable, so sealed bytes can still change."""
    class S(_shm().ShmStore):
        def seal(self, object_id: bytes) -> None:
            import os

            shm_obj = self._creating.pop(object_id)
            self._views.pop(object_id)  # not released: the writer keeps writing into the sealed object
            os.rename(os.path.join("/dev/shm", self._unsealed(object_id)),
                      os.path.join("/dev/shm", self._sealed(object_id)))
            self._mapped.append(shm_obj)

    return _store_mutant("store_writer_view_survives", S)


@mutant("store_copies_on_get", "store.zero_copy.local", "store.multiprocess.zero_copy")
def _store_copies_on_get() -> Implementation:
    """get deserializes from a private copy of the object's bytes."""
    class S(_shm().ShmStore):
        def get(self, object_id: bytes, *, timeout: Any = None) -> Any:
            view = self._open(self._check(object_id), timeout)
            return self._serializer.deserialize(memoryview(bytes(view)).toreadonly())

    return _store_mutant("store_copies_on_get", S)


@mutant("store_shows_unsealed", "store.visibility.unsealed", "store.multiprocess.unsealed_invisible")
def _store_shows_unsealed() -> Implementation:
    """Creates objects under their final name: readers see them before seal."""
    class S(_shm().ShmStore):
        def _unsealed(self, oid: bytes, pid: Any = None) -> str:
            return self._sealed(oid)

        def seal(self, object_id: bytes) -> None:
            shm_obj = self._creating.pop(object_id)
            self._views.pop(object_id).release()
            self._mapped.append(shm_obj)

    return _store_mutant("store_shows_unsealed", S)


@mutant("store_abort_leaks", "store.abort.leaves_nothing")
def _store_abort_leaks() -> Implementation:
    """abort forgets the object but leaves its space allocated."""
    class S(_shm().ShmStore):
        def abort(self, object_id: bytes) -> None:
            import os

            shm_obj = self._creating.pop(object_id)
            self._views.pop(object_id).release()
            os.rename(os.path.join("/dev/shm", self._unsealed(object_id)),
                      os.path.join("/dev/shm", self._unsealed(object_id)) + "x" + os.urandom(4).hex())  # hidden, counted
            self._mapped.append(shm_obj)

    return _store_mutant("store_abort_leaks", S)


@mutant("store_timeout_zero_waits", "store.timeouts.zero")
def _store_timeout_zero_waits() -> Implementation:
    """get(timeout=0) waits a second before giving up."""
    class S(_shm().ShmStore):
        def _open(self, oid: bytes, timeout: Any) -> memoryview:
            return super()._open(oid, 1.0 if timeout == 0 else timeout)

    return _store_mutant("store_timeout_zero_waits", S)


@mutant("store_ignores_timeout", "store.timeouts.positive", "store.timeouts.wait_for_put")
def _store_ignores_timeout() -> Implementation:
    """get never waits: any timeout behaves like 0."""
    class S(_shm().ShmStore):
        def _open(self, oid: bytes, timeout: Any) -> memoryview:
            return super()._open(oid, 0)

    return _store_mutant("store_ignores_timeout", S)


@mutant("store_delete_scribbles", "store.delete.views_valid")
def _store_delete_scribbles() -> Implementation:
    """delete zeroes the object's memory under its readers before unlinking it."""
    class S(_shm().ShmStore):
        def delete(self, object_id: bytes) -> None:
            view = _writable_alias(self._open(self._check(object_id), None))
            view[:] = bytes(len(view))
            super().delete(object_id)

    return _store_mutant("store_delete_scribbles", S)


@mutant("store_never_full", "store.full.raises")
def _store_never_full() -> Implementation:
    """Ignores its capacity: a put larger than the store succeeds."""
    class S(_shm().ShmStore):
        def _used(self) -> int:
            return -(1 << 40)

    return _store_mutant("store_never_full", S)


@mutant("store_process_local", "store.multiprocess.get")
def _store_process_local() -> Implementation:
    """Keeps its objects in the writer's memory: another process sees an empty store."""
    class S(_shm().ShmStore):
        _local: Dict[Tuple[str, bytes], Any] = {}

        def put(self, value: Any, object_id: Any = None) -> bytes:
            oid = object_id or __import__("os").urandom(20)
            if (self.name, oid) in self._local:
                raise _shm().ObjectExistsError(oid.hex())
            self._local[(self.name, oid)] = value
            return oid

        def get(self, object_id: bytes, *, timeout: Any = None) -> Any:
            try:
                return self._local[(self.name, object_id)]
            except KeyError:
                return super().get(object_id, timeout=timeout)

    return _store_mutant("store_process_local", S)


@mutant("store_dead_writers_linger", "store.multiprocess.killed_writer")
def _store_dead_writers_linger() -> Implementation:
    """Never reclaims the space of writers that died before sealing."""
    class S(_shm().ShmStore):
        def _reclaim_dead_writers(self) -> None:
            pass

    return _store_mutant("store_dead_writers_linger", S)


# Eviction mutants: the reference store plus an eviction policy of their own, applied before each put
# (deleting hides an object at once, as eviction does). They need reference.store.
def _reference_store_mutant(name: str, policy: Callable[[Any, List[bytes], int], None]) -> Implementation:
    from conformance.adapters.reference import reference_implementation
    from conformance.adapters.reference_store import ReferenceStore, ReferenceStoreFactory

    base = reference_implementation()
    factory = ReferenceStoreFactory.available()
    if factory is None or "store" not in base.capabilities:
        raise ImportError("this mutant needs the reference store (reference.store), which is not installed")

    class Store(ReferenceStore):
        def __init__(self, handle: Any) -> None:
            super().__init__(handle)
            self.order: List[bytes] = []  # least recently used first, as this client saw it

        def _used(self, oid: bytes) -> None:
            if oid in self.order:
                self.order.remove(oid)
            self.order.append(oid)

        def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
            from reference.serializer import serialize

            policy(self, self.order, serialize(value).frame_size)
            oid = super().put(value, object_id)
            self._used(oid)
            return oid

        def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
            value = super().get(object_id, timeout=timeout)
            self._used(bytes(object_id))
            return value

    class Factory(ReferenceStoreFactory):
        def create(self, *, capacity: int) -> Any:
            return Store(super().create(capacity=capacity)._s)

        def attach(self, name: str) -> Any:
            return Store(self._cls.attach(name))

    fields = {f: getattr(base, f) for f in ("serializer", "protocols", "capabilities", "serialization_error",
                                             "deserialization_error", "object_exists_error",
                                             "store_full_error", "timeout_error", "not_found_error")}
    return Implementation(name=f"mutant.{name}", description="a store mutant",
                          store_factory=Factory(factory._cls, factory.errors, factory.capabilities), **fields)


def _evict_until_fits(store: Any, candidates: List[bytes], size: int) -> None:
    for oid in candidates:
        if store._s.stats().largest_free_block >= size + 4096:
            return
        if store.contains(oid):
            store.delete(oid)
        store.order.remove(oid)


@mutant("store_evicts_pinned", "store.eviction.pinning", "store.full.pinned")
def _store_evicts_pinned() -> Implementation:
    """Evicts least recently used first, held (pinned) objects included."""
    return _reference_store_mutant("store_evicts_pinned",
                                   lambda store, order, size: _evict_until_fits(store, list(order), size))


@mutant("store_evicts_newest", "store.eviction.lru")
def _store_evicts_newest() -> Implementation:
    """Evicts the most recently used unpinned object first."""
    def policy(store: Any, order: List[bytes], size: int) -> None:
        import gc

        gc.collect()
        stats = store._s.stats()
        if stats.largest_free_block >= size + 4096:
            return
        pinned = stats.pinned_objects
        unpinned = [o for o in reversed(order)]
        if pinned:
            return  # keep out of the pinning clauses' way: only break the order
        _evict_until_fits(store, unpinned, size)

    return _reference_store_mutant("store_evicts_newest", policy)


def _cluster_mutant(name: str, node_class: Callable[[Any], type]) -> Implementation:
    shm = _shm()

    class Cluster(shm.ShmCluster):
        def __init__(self, n: int, capacity: int) -> None:
            super().__init__(n, capacity)
            cls = node_class(shm)
            self._nodes = [cls(node.name, capacity, node._peer_names) for node in self._nodes]

    class Factory(shm.ShmStoreFactory):
        def create_cluster(self, n: int, *, capacity: int) -> Any:
            return Cluster(n, capacity)

    base = shm.shared_memory_implementation()
    fields = {f: getattr(base, f) for f in ("serializer", "protocols", "capabilities", "serialization_error",
                                             "deserialization_error", "object_exists_error",
                                             "store_full_error", "timeout_error", "not_found_error")}
    return Implementation(name=f"mutant.{name}", store_factory=Factory(), description="a nodes mutant",
                          **fields)


@mutant("nodes_eager_push", "store.nodes.pull_on_demand")
def _nodes_eager_push() -> Implementation:
    """put copies the object to every node at once."""
    def node_class(shm: Any) -> type:
        class Node(shm.ShmNode):
            def put(self, value: Any, object_id: Any = None) -> bytes:
                oid = super().put(value, object_id)
                for peer in self._peers():
                    data = self.get_buffer(oid)
                    buf = peer.create(oid, len(data))
                    buf[:len(data)] = data
                    peer.seal(oid)
                return oid
        return Node

    return _cluster_mutant("nodes_eager_push", node_class)


@mutant("nodes_no_local_copy", "store.nodes.pull_on_demand")
def _nodes_no_local_copy() -> Implementation:
    """A node serves objects of other nodes without ever holding them: every get goes to the network."""
    def node_class(shm: Any) -> type:
        class Node(shm.ShmNode):
            def get(self, object_id: bytes, *, timeout: Any = None) -> Any:
                if shm.ShmStore.contains(self, object_id):
                    return super().get(object_id, timeout=timeout)
                for peer in self._peers():
                    if peer.contains(object_id):
                        return peer.get(object_id, timeout=0)
                return super().get(object_id, timeout=timeout)
        return Node

    return _cluster_mutant("nodes_no_local_copy", node_class)


# The Ray store adapter's mutants register themselves here (they need Ray only when loaded).
from conformance import mutants_ray  # noqa: E402,F401
