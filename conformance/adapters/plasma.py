"""The adapter for Apache Arrow's Plasma (``plasma``): its object store, with this project's frames for values.

Plasma stores raw bytes; it has no serializer of its own any more (``pyarrow.serialize`` is gone). Values
are therefore this project's pickle-5 frames (``reference.serialize(...).write_to(buffer)`` into the buffer
Plasma hands out, ``reference.deserialize`` of the sealed buffer), and every store operation is Plasma's
raw client API from pyarrow 11.0.0, the last release that ships Plasma:

==================  =====================================================================================
contract            Plasma
==================  =====================================================================================
``create``/``seal``  ``PlasmaClient.create`` (a writable ``PlasmaBuffer``) / ``PlasmaClient.seal``
``put``             ``create``, ``write_to`` into it, ``seal``
``get_buffer``      ``PlasmaClient.get_buffers([id], timeout_ms)``: read-only and zero-copy; Plasma answers
                    ``None`` when the wait expires, raised as ``TimeoutError`` (``timeout=None`` waits
                    :data:`NONE_TIMEOUT` seconds: the suite must fail, not hang, on an evicted object)
``get``             ``get_buffer``, then ``reference.deserialize``; the object stays pinned while a
                    ``PlasmaBuffer`` (or any view or array made from it) lives, as in the contract
``contains``        ``PlasmaClient.contains``
``delete``          ``PlasmaClient.delete([id])``
``list``            ``PlasmaClient.list()``, sealed entries
``abort``           none: pyarrow does not expose the C++ client's ``Abort``; raises
                    ``NotImplementedError`` (see ``conformance/xfails/plasma.txt``)
==================  =====================================================================================

A store is a ``plasma-store-server`` process (the binary inside the pyarrow wheel) started with
``-m CAPACITY -s SOCKET``; its name is the socket path, which another process passes to ``attach``.
``destroy`` disconnects, kills the process and removes the socket. Plasma evicts least recently used
unpinned objects when a create does not fit (capability ``eviction``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import warnings
from typing import Any, Dict, Iterable, Optional

from conformance.adapters.reference import ReferenceSerializer
from conformance.api import OBJECT_ID_SIZE, Implementation

__all__ = ["PlasmaStore", "PlasmaStoreFactory", "plasma_implementation", "plasma_server", "start_plasma_store"]

#: Seconds to wait for a new store's socket to appear.
START_TIMEOUT = 10.0
#: Seconds a get with ``timeout=None`` ("as long as it takes") waits before it raises ``TimeoutError``.
NONE_TIMEOUT = 10.0


def _plasma() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "Plasma is deprecated since Arrow 10.0.0"
        import pyarrow.plasma as plasma
    return plasma


def plasma_server() -> str:
    """The path of the ``plasma-store-server`` binary shipped inside the pyarrow wheel."""
    import pyarrow

    path = os.path.join(os.path.dirname(pyarrow.__file__), "plasma-store-server")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"no executable plasma-store-server at {path}: install pyarrow==11.0.0 "
                                f"(later releases no longer ship Plasma)")
    return path


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when its parent dies, so that a store never
    outlives a killed test or benchmark process (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def start_plasma_store(capacity: int, *, socket: Optional[str] = None) -> "subprocess.Popen[bytes]":
    """Start ``plasma-store-server -m capacity -s socket`` and wait (at most :data:`START_TIMEOUT` s) until
    it listens. The caller kills it; ``proc.socket`` is the socket path."""
    if not isinstance(capacity, int) or capacity <= 0:
        raise ValueError(f"'capacity' must be a positive integer, got {capacity!r}")
    socket = socket or os.path.join(tempfile.mkdtemp(prefix="plasma-"), "store.sock")
    proc = subprocess.Popen([plasma_server(), "-m", str(capacity), "-s", socket],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(socket):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"plasma-store-server did not start on {socket} (exit status {proc.returncode})")
        time.sleep(0.005)
    proc.socket = socket  # type: ignore[attr-defined]
    return proc


class PlasmaStore:
    """One client of a Plasma store, as the contract's :class:`conformance.api.Store`."""

    def __init__(self, name: str, *, serializer: Optional[ReferenceSerializer] = None) -> None:
        self._plasma = _plasma()
        self.name = name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.client = self._plasma.connect(name)
        self._serializer = serializer or ReferenceSerializer()
        self._creating: Dict[bytes, Any] = {}

    def _oid(self, object_id: bytes) -> Any:
        if not isinstance(object_id, bytes) or len(object_id) != OBJECT_ID_SIZE:
            raise ValueError(f"an object id is {OBJECT_ID_SIZE} bytes, got {object_id!r}")
        return self._plasma.ObjectID(object_id)

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        object_id = os.urandom(OBJECT_ID_SIZE) if object_id is None else object_id
        frame = self._serializer.serialize(value, protocol=5)
        oid = self._oid(object_id)
        buffer = self.client.create(oid, frame.frame_size)
        frame.write_to(memoryview(buffer).cast("B"))
        self.client.seal(oid)
        del buffer  # unpins: Plasma releases an object when its last buffer goes
        return object_id

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        # Plasma waits up to timeout_ms and answers None when the object is not sealed by then, which is
        # the contract's timeout error. "For ever" (None) is bounded by NONE_TIMEOUT: Plasma evicts objects
        # the clauses expect to find (see xfails/plasma.txt), and a wait for one must fail, not hang.
        timeout_ms = int((NONE_TIMEOUT if timeout is None else max(0.0, timeout)) * 1000)
        [buffer] = self.client.get_buffers([self._oid(object_id)], timeout_ms=timeout_ms)
        if buffer is None:
            raise TimeoutError(f"object {object_id.hex()} was not sealed within {timeout}s")
        # The PlasmaBuffer pins the object until it (and every view of it) is gone, as the contract says.
        return memoryview(buffer).cast("B")

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._serializer.deserialize(self.get_buffer(object_id, timeout=timeout))

    def contains(self, object_id: bytes) -> bool:
        return bool(self.client.contains(self._oid(object_id)))

    def delete(self, object_id: bytes) -> None:
        self.client.delete([self._oid(object_id)])

    def create(self, object_id: bytes, size: int) -> memoryview:
        buffer = self.client.create(self._oid(object_id), size)
        self._creating[object_id] = buffer
        return memoryview(buffer).cast("B")

    def seal(self, object_id: bytes) -> None:
        self.client.seal(self._oid(object_id))
        self._creating.pop(object_id, None)

    def abort(self, object_id: bytes) -> None:
        raise NotImplementedError("pyarrow.plasma has no abort: the C++ PlasmaClient::Abort is not exposed "
                                  "to Python")

    def evict(self, nbytes: int) -> int:
        """Plasma's own ``evict``: free at least ``nbytes`` of unpinned objects; the bytes freed."""
        return int(self.client.evict(nbytes))

    def list(self) -> Iterable[bytes]:
        return [oid.binary() for oid, info in self.client.list().items() if info.get("state") == "sealed"]

    def close(self) -> None:
        self._creating.clear()
        client, self.client = self.client, None
        if client is not None:
            client.disconnect()


class PlasmaStoreFactory:
    """Starts a ``plasma-store-server`` per store and connects clients to it by socket path."""

    def __init__(self) -> None:
        self._procs: Dict[str, "subprocess.Popen[bytes]"] = {}

    def create(self, *, capacity: int) -> PlasmaStore:
        proc = start_plasma_store(capacity)
        self._procs[proc.socket] = proc  # type: ignore[attr-defined]
        return PlasmaStore(proc.socket)  # type: ignore[attr-defined]

    def attach(self, name: str) -> PlasmaStore:
        return PlasmaStore(name)

    def destroy(self, store: PlasmaStore) -> None:
        try:
            store.close()
        finally:
            proc = self._procs.pop(store.name, None)
            if proc is not None:
                proc.kill()
                proc.wait(timeout=10)
            for path in (store.name, os.path.dirname(store.name)):
                try:
                    os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
                except OSError:
                    pass


def plasma_implementation() -> Implementation:
    """Plasma (pyarrow 11.0.0) for the store, this project's pickle-5 frames for the values.

    Raises ``ImportError`` naming the fix when ``pyarrow.plasma`` is not installed.
    """
    try:
        plasma = _plasma()
        import pyarrow
    except ImportError as exc:
        raise ImportError(f"the 'plasma' adapter needs pyarrow 11.0.0 (the last release with Plasma; CPython "
                          f"3.8-3.11): pip install pyarrow==11.0.0 'numpy<2' ({exc})") from exc
    import reference

    # The serializer capabilities are the reference serializer's, which Plasma stores: claimed because the
    # values in the store have them. register_serializer and inspect are the reference's API, not Plasma's.
    caps = {"numpy", "numpy_byte_order", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
            "zero_copy", "read_only", "memoryview", "error_paths", "store", "store_zero_copy", "store_read_only",
            "raw_buffers", "multiprocess",
            "eviction", "timeouts"}
    return Implementation(
        name="plasma",
        serializer=ReferenceSerializer(),
        protocols=(3, 4, 5),
        capabilities=frozenset(caps),
        store_factory=PlasmaStoreFactory(),
        serialization_error=(reference.SerializationError,),
        deserialization_error=(reference.DeserializationError,),
        object_exists_error=(plasma.PlasmaObjectExists,),
        store_full_error=(plasma.PlasmaStoreFull,),
        timeout_error=(TimeoutError,),
        not_found_error=(plasma.PlasmaObjectNotFound, KeyError),
        description=f"Apache Arrow Plasma (pyarrow {pyarrow.__version__}) with reference pickle-5 frames",
    )
