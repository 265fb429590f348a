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
one CPU (:func:`ensure_ray`), and an exit handler shuts it down. A child interpreter of the suite joins the
parent's Ray through ``RAY_ADDRESS`` instead of starting its own.

The Ray this adapter starts listens on 127.0.0.1 only: an unauthenticated Ray API on a network is remote
code execution (CVE-2023-48022). Ray binds its servers (GCS, raylets, workers, object manager) to the node's
IP address, which on Linux is the machine's network address unless Ray's own switch
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes it the loopback address. Ray reads the switch when ``ray`` is
first imported, so importing this module sets it (:func:`bind_to_loopback`) unless ``RAY_ADDRESS`` names a
cluster on another address; the same holds for a cluster on 127.0.0.1 that a driver or a child of the suite
joins (with the switch unset, Ray resolves 127.0.0.1 to the machine's address and looks for its raylet
there). :func:`ensure_ray` refuses to start a Ray that would not be on loopback.

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

import atexit
import io
import ipaddress
import os
import pickle
import socket
from typing import Any, Callable, Sequence, Set, Tuple

from conformance.api import Implementation
from reference.frame import Frame, FrameError, FrameFormat, byte_view, read_frame

__all__ = ["LOOPBACK_SWITCH", "RAY_OPTIONS", "RayFrame", "RayInspectFailure", "RaySerializer", "bind_to_loopback",
           "ensure_ray", "is_loopback", "ray_implementation", "read_ray_frame", "shutdown_ray", "started_here"]

#: Ray's switch (read once, when ``ray`` is imported): "0" makes the node's IP address, and so every server
#: Ray starts, 127.0.0.1 on Linux.
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

#: ``ray.init`` options for the Ray this adapter starts: small, quiet, and gone when the process exits.
RAY_OPTIONS = {
    "num_cpus": 1,
    "object_store_memory": 200 * 2**20,
    "include_dashboard": False,
    "log_to_driver": False,
    "configure_logging": False,
}
#: Seconds the GCS at ``RAY_ADDRESS`` has to accept a TCP connection (the kernel accepts for a busy
#: process; only an unroutable host takes this long) before :func:`ensure_ray` gives up.
CONNECT_TIMEOUT = 30.0
#: Seconds a ``ray.get`` of the adapter may wait (the object is local: it never should).
GET_TIMEOUT = 60.0

#: The frame around Ray's bytes: reference.frame's plain format, Ray's metadata in-band, Ray's data as the buffer.
FORMAT = FrameFormat(b"RAYF", checked=False)

_started_here = False


def is_loopback(address: str) -> bool:
    """True when ``address`` (``host``, ``host:port`` or ``[host]:port``) is on the loopback interface."""
    host = address.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_to_loopback() -> bool:
    """Set :data:`LOOPBACK_SWITCH` to "0" (unless the caller set it) when the Ray to run or join is on this
    machine's loopback: ``RAY_ADDRESS`` unset (a local Ray is started), or naming 127.0.0.1/localhost.
    Returns whether the switch is now "0". Takes effect for a ``ray`` imported after the call (children
    inherit it); :func:`ensure_ray` checks what the imported one does."""
    address = os.environ.get("RAY_ADDRESS", "")
    if not address or is_loopback(address):
        os.environ.setdefault(LOOPBACK_SWITCH, "0")
    return os.environ.get(LOOPBACK_SWITCH) == "0"


bind_to_loopback()


def _check_reachable(address: str) -> None:
    """Raise ``RuntimeError`` naming ``address`` when nothing accepts connections there: ``ray.init``
    itself retries an absent GCS for minutes, so every clause would hang instead of saying why.
    Addresses that Ray resolves itself (``auto``, ``ray://...``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise RuntimeError(f"no Ray at RAY_ADDRESS={address!r} ({exc}): start the cluster, or unset RAY_ADDRESS "
                           f"so that the adapter starts a local Ray") from exc


def _refuse_network_ray(ray: Any) -> None:
    """Raise before starting a Ray whose servers would listen on the machine's network address."""
    from ray._private import services

    address = services.get_node_ip_address()
    if not is_loopback(address):
        raise RuntimeError(
            f"refusing to start a local Ray on {address}: it would listen on the network, and an "
            f"unauthenticated Ray API there is remote code execution (CVE-2023-48022). Ray binds to "
            f"127.0.0.1 only when {LOOPBACK_SWITCH}=0 is set before 'ray' is first imported: set it in "
            f"the environment, or import conformance.adapters.ray before ray")


def ensure_ray() -> Any:
    """The ``ray`` module, connected: joins ``RAY_ADDRESS`` when set, else starts a local Ray with
    :data:`RAY_OPTIONS`, on 127.0.0.1 only (once per process; :func:`shutdown_ray` at exit), and exports
    its address in ``RAY_ADDRESS`` so that child interpreters join it.

    Raises ``RuntimeError`` instead of starting a Ray that would listen on a network address (see the
    module docstring), and when nothing listens at ``RAY_ADDRESS``."""
    global _started_here
    import ray

    if ray.is_initialized():
        return ray
    if os.environ.get("RAY_ADDRESS"):
        _check_reachable(os.environ["RAY_ADDRESS"])
        ray.init(log_to_driver=False, configure_logging=False)
        return ray
    _refuse_network_ray(ray)
    context = ray.init(**RAY_OPTIONS)
    _started_here = True
    os.environ["RAY_ADDRESS"] = context.address_info["address"]
    atexit.register(shutdown_ray)
    return ray


def shutdown_ray() -> None:
    """Disconnect from Ray; stop it when this process started it. Safe to call more than once."""
    global _started_here
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
    if _started_here:
        os.environ.pop("RAY_ADDRESS", None)
        _started_here = False


def started_here() -> bool:
    """True when this process started the Ray it is connected to (not one it joined via ``RAY_ADDRESS``)."""
    return _started_here


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
    )
