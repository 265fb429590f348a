"""The adapter for Ray (``ray``, extra ``[ray]``): Ray's own serialization, object store and tools.

What runs is Ray's code, unchanged:

* ``serialize`` is Ray's serialization context (``global_worker.get_serialization_context().serialize``):
  the msgpack envelope around Ray's cloudpickle at protocol 5, with Ray's reducers and every serializer
  registered through ``ray.util.register_serializer``. The frame is Ray's serialized bytes and metadata
  (what Ray keeps in its object store), behind a small header of this adapter (:class:`RayFrame`).
* ``deserialize`` puts those bytes and metadata into Ray's object store as they are (the core worker's
  ``put_object``) and reads the value back with ``ray.get``: Ray's own read path, zero-copy from its
  store.
* ``inspect`` is ``ray.util.inspect_serializability``; ``register_serializer`` / ``deregister_serializer``
  are ``ray.util``'s.

Ray runs once per process: the first call starts a local Ray with a bounded object store, no dashboard and
one CPU (:func:`conformance.adapters.ray_runtime.ensure_ray`), and an exit handler shuts it down. A child
interpreter of the suite joins the parent's Ray through ``RAY_ADDRESS`` instead of starting its own. The
Ray this adapter starts listens on 127.0.0.1 only (CVE-2023-48022; :mod:`conformance.adapters.ray_runtime`
says how).

The store (``--impl ray`` claims ``store``, ``zero_copy``, ``multiprocess``, ``timeouts`` and ``nodes``) is
Ray's object store behind an id directory: ``ray.put``, ``ray.get`` with its timeout, Ray's reference counting, pinning
and spilling, and, for nodes, Ray's pull on demand between raylets. :mod:`conformance.adapters.ray_store`
explains the design.

Not claimed, because the contract cannot observe it in Ray or Ray has no such operation:

* ``out_of_band``: Ray sends buffers out-of-band, but its frame has no separate in-band pickle to measure.
  ``zero_copy`` is claimed for what it means to a store: a ``get`` shares the store's memory (in this
  process and in another); a value deserialized from a bare frame is a copy, so
  ``serializer.out_of_band.zero_copy`` is a listed failure.
* ``raw_buffers``: Ray has no public create/seal/abort, and ``ray.get`` gives values, not raw bytes.
* ``eviction``: Ray never evicts an object that is still referenced (the directory references every
  object until it is deleted); it spills it to disk instead, so LRU eviction is not Ray's contract.
* protocols 3 and 4: Ray always pickles at protocol 5.
* ``numpy_byte_order``: a big-endian array that travels in-band (non-contiguous) comes back native.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Callable, Sequence, Set, Tuple

from conformance.adapters.ray_runtime import ensure_ray
from conformance.api import Implementation
from reference.frame import Frame, FrameError, FrameFormat, byte_view, read_frame

__all__ = ["RayFrame", "RayInspectFailure", "RaySerializer", "ray_implementation", "read_ray_frame"]

#: Seconds a ``ray.get`` of the adapter may wait (the object is local: it never should).
GET_TIMEOUT = 60.0

#: The frame around Ray's bytes: reference.frame's plain format, Ray's metadata in-band, Ray's data as the buffer.
FORMAT = FrameFormat(b"RAYF", checked=False)

def _context() -> Any:
    from ray._private import worker

    return worker.global_worker.get_serialization_context()


class RayFrame:
    """Ray's serialized object as one frame: Ray's metadata, then Ray's bytes at a 64-byte boundary.

    The layout is :mod:`reference.frame`'s plain format (magic ``b"RAYF"``) with Ray's metadata as the
    in-band part and Ray's data as the one buffer. As the contract sees it, ``inband`` is Ray's data (Ray's
    msgpack envelope and its own pickle-5 layout, not a plain pickle stream); Ray keeps its out-of-band
    buffers inside it, so ``buffers`` is empty.

    :func:`read_ray_frame` checks the header and the total length before Ray sees anything, so truncated
    or foreign frames stop here (``FrameError``), and the corruption clause, which changes only the first
    64 bytes, changes this header: Ray's own reading of damaged data is not what it exercises.
    """

    __slots__ = ("metadata", "inband", "buffers", "frame_size", "_frame")

    def __init__(self, metadata: bytes, data: bytes) -> None:
        self.metadata = bytes(metadata)
        self.inband = data
        self.buffers: Sequence[memoryview] = ()
        self._frame = Frame(self.metadata, [byte_view(data)], format=FORMAT)
        self.frame_size = self._frame.frame_size

    def write_to(self, buffer: Any) -> int:
        return self._frame.write_to(buffer)


def read_ray_frame(frame: Any) -> Tuple[bytes, memoryview]:
    """(metadata, data view) of a :class:`RayFrame` laid out in ``frame``; :class:`FrameError` if it is not one."""
    parsed = read_frame(frame, format=FORMAT)
    size = memoryview(frame).nbytes
    if len(parsed.buffers) != 1 or parsed.frame_size != size:
        raise FrameError(f"the header says {parsed.frame_size} bytes in {len(parsed.buffers)} buffers, "
                         f"the frame has {size} bytes and must hold Ray's data as its one buffer")
    return bytes(parsed.inband), parsed.buffers[0]


class RayInspectFailure:
    """One culprit of ``ray.util.inspect_serializability``: ``path`` joins Ray's names with dots."""

    __slots__ = ("obj", "path", "names", "parent")

    def __init__(self, obj: Any, names: Tuple[Any, ...], parent: Any) -> None:
        self.obj = obj
        self.names = names
        self.parent = parent
        # Ray 2.x reports a tuple of the names it followed, not an expression; joined with dots they
        # evaluate for a chain of attributes and nowhere else. Shown as Ray gives them.
        self.path = ".".join("unknown" if n is None else str(n) for n in names)

    def __repr__(self) -> str:
        return f"RayInspectFailure(path={self.path!r}, obj={self.obj!r})"


class RaySerializer:
    """The contract's serializer over Ray's serialization context and ``ray.get``."""

    def serialize(self, obj: Any, *, protocol: int) -> RayFrame:
        if protocol != 5:
            raise ValueError(f"Ray pickles at protocol 5 only, got protocol={protocol!r}")
        serialized = _context().serialize(obj)
        if hasattr(serialized, "to_bytes"):
            data = serialized.to_bytes()
        else:  # RawSerializedObject: a bytes value is stored as it is
            data = bytes(obj)
        return RayFrame(serialized.metadata, data)

    def deserialize(self, frame: Any) -> Any:
        metadata, data = read_ray_frame(frame)
        ray = ensure_ray()
        import ray._raylet as raylet
        from ray._private import worker

        class _Serialized(raylet.RawSerializedObject):  # Ray's bytes with Ray's metadata, as Ray wrote them
            @property
            def metadata(self) -> bytes:
                return metadata

        ref = worker.global_worker.core_worker.put_object(
            _Serialized(bytes(data)), pin_object=True, inline_small_object=False,
            _is_experimental_channel=False)
        return ray.get(ref, timeout=GET_TIMEOUT)

    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        import ray.util

        ray.util.register_serializer(cls, serializer=serializer, deserializer=deserializer)

    def deregister_serializer(self, cls: type) -> None:
        import ray.util

        ray.util.deregister_serializer(cls)

    def inspect(self, value: Any, *, name: str = "value", depth: int = 64) -> Tuple[bool, Set[Any]]:
        import ray.util

        ok, failures = ray.util.inspect_serializability(value, name=name, depth=depth,
                                                        print_file=io.StringIO())
        return ok, {RayInspectFailure(f.obj, tuple(getattr(f, "path", (getattr(f, "name", None),))),
                                      f.parent) for f in failures}


def ray_version() -> str:
    import ray

    return ray.__version__


def ray_implementation() -> Implementation:
    """Ray's serialization, ``ray.get``, ``inspect_serializability`` and ``register_serializer``, and Ray's
    object store behind an id directory (:mod:`conformance.adapters.ray_store`).

    Raises ``ImportError`` naming the fix when Ray is not installed.
    """
    try:
        import ray  # noqa: F401
        import ray.exceptions
    except ImportError as exc:
        raise ImportError(f"the 'ray' adapter needs Ray: pip install 'objstore-conformance[ray]' ({exc})") \
            from exc
    from conformance.adapters import ray_store

    # Not numpy_byte_order: a non-contiguous big-endian array travels in-band and numpy's own unpickling
    # turns it native (checked by hand: the clause draws protocols Ray does not claim and skips).
    caps = {"numpy", "recursive", "by_value_functions", "dynamic_classes", "read_only", "custom_serializers",
            "inspect", "store", "multiprocess", "timeouts", "nodes", "zero_copy", "store_zero_copy",
            "store_read_only"}
    return Implementation(
        name="ray",
        serializer=RaySerializer(),
        protocols=(5,),
        capabilities=frozenset(caps),
        store_factory=ray_store.RayStoreFactory(),
        serialization_error=(TypeError, pickle.PicklingError),
        deserialization_error=(FrameError, ray.exceptions.RayError),
        object_exists_error=(ray_store.ObjectIdExistsError,),
        store_full_error=(ray.exceptions.ObjectStoreFullError,),
        timeout_error=(ray.exceptions.GetTimeoutError,),
        not_found_error=(ray_store.ObjectIdNotFoundError,),
        description=f"Ray {ray_version()}: its serialization context, ray.get, ray.util; ray.put/ray.get "
                    f"behind an id directory actor",
        # Ray has no user-chosen ids: the directory actor, not Ray, refuses an id that exists. (The other
        # clauses of ID_DIRECTORY_CLAUSES need raw_buffers, which Ray does not claim.)
        adapter_tested={"store.immutability.exists": "the adapter's id directory actor refuses an id that "
                                                     "exists, not Ray (whose ray.put makes a new ObjectRef)"},
    )
