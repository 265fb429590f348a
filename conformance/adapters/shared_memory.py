"""A minimal object store on ``multiprocessing.shared_memory``: one segment per object, stdlib pickle 5.

The smallest thing that honestly meets the store contract, to show where a minimal store differs from the
reference. Linux only (segments live in ``/dev/shm``). Each object is a segment
``osc_<store>_<hex id>``; while unsealed it is ``osc_<store>_<hex id>.u<writer pid>`` and sealing renames
it (atomic, so readers see a whole object or none). ``get`` maps the segment and deserializes a read-only
view (zero copy). Capacity is the summed size of the store's segments; a put that does not fit raises
:class:`StoreFullError` (there is no eviction). Unsealed segments of dead writers are reclaimed when space
runs short. Deleted segments are unlinked; mapped views stay valid (the mapping outlives the name).

Nodes (:class:`ShmCluster`) are separate stores on this machine; a node's ``get`` of an object it lacks
copies it from a peer into its own store (pull on demand, no network).

Non-goals: eviction, networking, speed. A client keeps every segment it mapped until ``close``.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import time
from multiprocessing import resource_tracker, shared_memory
from typing import Any, Dict, List, Optional

from conformance.adapters.pickling import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS, PicklerSerializer
from conformance.api import OBJECT_ID_SIZE, Implementation
from reference.liveness import pid_alive

__all__ = ["ShmCluster", "ShmNode", "ShmStore", "ShmStoreFactory", "StoreFullError",
           "shared_memory_implementation"]

SHM_DIR = "/dev/shm"


class StoreFullError(MemoryError):
    """The object does not fit in the store's capacity (this store never evicts)."""


class ObjectExistsError(KeyError):
    """An object with this id exists (sealed, or being created by a live writer)."""


def _untrack(shm: shared_memory.SharedMemory) -> None:
    # The resource tracker unlinks segments a process created (or, before 3.13, attached) when it exits;
    # objects must outlive their writer, so the store manages the names itself.
    try:
        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - nothing to undo
        pass


class ShmStore:
    """One client of a store made of shared-memory segments."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self._prefix = f"osc_{name}_"
        self._mapped: List[shared_memory.SharedMemory] = []
        self._creating: Dict[bytes, shared_memory.SharedMemory] = {}
        self._views: Dict[bytes, memoryview] = {}
        self._open_cache: Dict[bytes, memoryview] = {}  # one mapping per object: gets share it
        self._serializer = PicklerSerializer(pickle.dumps)

    # -- names ---------------------------------------------------------------------------------------------
    def _sealed(self, oid: bytes) -> str:
        return self._prefix + oid.hex()

    def _unsealed(self, oid: bytes, pid: Optional[int] = None) -> str:
        return f"{self._sealed(oid)}.u{os.getpid() if pid is None else pid}"

    def _segments(self) -> List[str]:
        return [n for n in os.listdir(SHM_DIR) if n.startswith(self._prefix)]

    @staticmethod
    def _check(oid: Any) -> bytes:
        if not isinstance(oid, bytes) or len(oid) != OBJECT_ID_SIZE:
            raise ValueError(f"an object id is {OBJECT_ID_SIZE} bytes, got {oid!r}")
        return oid

    def _used(self) -> int:
        total = 0
        for n in self._segments():
            try:
                total += os.stat(os.path.join(SHM_DIR, n)).st_size
            except FileNotFoundError:
                pass
        return total

    def _reclaim_dead_writers(self) -> None:
        for n in self._segments():
            m = re.search(r"\.u(\d+)$", n)
            if m and not pid_alive(int(m.group(1))):
                try:
                    os.unlink(os.path.join(SHM_DIR, n))
                except FileNotFoundError:
                    pass

    def _exists(self, oid: bytes) -> bool:
        if os.path.exists(os.path.join(SHM_DIR, self._sealed(oid))):
            return True
        for n in self._segments():
            m = re.fullmatch(re.escape(self._sealed(oid)) + r"\.u(\d+)", n)
            if m and pid_alive(int(m.group(1))):
                return True
        return False

    # -- create / seal / abort -------------------------------------------------------------------------------
    def create(self, object_id: bytes, size: int) -> memoryview:
        oid = self._check(object_id)
        if self._exists(oid):
            raise ObjectExistsError(f"object {oid.hex()} exists; objects are immutable")
        if self._used() + size > self.capacity:
            self._reclaim_dead_writers()
            if self._used() + size > self.capacity:
                raise StoreFullError(f"object {oid.hex()} of {size} bytes does not fit: "
                                     f"{self._used()} of {self.capacity} bytes are used")
        shm = shared_memory.SharedMemory(name=self._unsealed(oid), create=True, size=max(size, 1))
        _untrack(shm)
        self._creating[oid] = shm
        assert shm.buf is not None  # open: just created
        view = shm.buf[:size]
        self._views[oid] = view
        return view

    def seal(self, object_id: bytes) -> None:
        oid = self._check(object_id)
        shm = self._creating.pop(oid)
        view = self._views.pop(oid)
        try:
            view.release()  # the writer's view dies at seal: sealed bytes cannot change through it
        except BufferError:
            pass
        os.rename(os.path.join(SHM_DIR, self._unsealed(oid)), os.path.join(SHM_DIR, self._sealed(oid)))
        self._mapped.append(shm)

    def abort(self, object_id: bytes) -> None:
        oid = self._check(object_id)
        shm = self._creating.pop(oid)
        view = self._views.pop(oid)
        try:
            view.release()
        except BufferError:
            pass
        shm.unlink()
        self._mapped.append(shm)

    # -- put / get -----------------------------------------------------------------------------------------
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = secrets.token_bytes(OBJECT_ID_SIZE) if object_id is None else self._check(object_id)
        frame = self._serializer.serialize(value, protocol=5)
        buf = self.create(oid, frame.frame_size)
        try:
            frame.write_to(buf)
        except BaseException:
            self.abort(oid)
            raise
        self.seal(oid)
        return oid

    def _open(self, oid: bytes, timeout: Optional[float]) -> memoryview:
        cached = self._open_cache.get(oid)
        if cached is not None:
            if self.contains(oid):
                return cached
            del self._open_cache[oid]
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 1e-4
        while True:
            try:
                shm = shared_memory.SharedMemory(name=self._sealed(oid))
            except FileNotFoundError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"object {oid.hex()} was not sealed within {timeout}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 5e-3)
                continue
            _untrack(shm)
            self._mapped.append(shm)
            assert shm.buf is not None  # open: just attached
            view = shm.buf.toreadonly()
            self._open_cache[oid] = view
            return view

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return self._open(self._check(object_id), timeout)

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._serializer.deserialize(self._open(self._check(object_id), timeout))

    def contains(self, object_id: bytes) -> bool:
        return os.path.exists(os.path.join(SHM_DIR, self._sealed(self._check(object_id))))

    def delete(self, object_id: bytes) -> None:
        oid = self._check(object_id)
        try:
            os.unlink(os.path.join(SHM_DIR, self._sealed(oid)))
        except FileNotFoundError:
            raise KeyError(f"object {oid.hex()} is not in store {self.name!r}") from None

    def list(self) -> List[bytes]:
        out = []
        for n in self._segments():
            tail = n[len(self._prefix):]
            if re.fullmatch(r"[0-9a-f]{%d}" % (2 * OBJECT_ID_SIZE), tail):
                out.append(bytes.fromhex(tail))
        return out

    def close(self) -> None:
        for shm in self._mapped + list(self._creating.values()):
            try:
                shm.close()
            except BufferError:
                # A view is still in use: the mapping goes when the last view does. Forget it here, so
                # SharedMemory.__del__ does not try (and complain) again.
                shm._mmap = None  # type: ignore[attr-defined]
        self._mapped = []
        self._creating = {}
        self._open_cache = {}


class ShmStoreFactory:
    """Creates, attaches and destroys :class:`ShmStore` stores; the name carries the capacity."""

    def create(self, *, capacity: int) -> ShmStore:
        return ShmStore(f"{secrets.token_hex(6)}-{capacity}", capacity)

    def attach(self, name: str) -> ShmStore:
        return ShmStore(name, int(name.rsplit("-", 1)[1]))

    def destroy(self, store: Any) -> None:
        store.close()
        prefix = f"osc_{store.name}_"
        for n in os.listdir(SHM_DIR):
            if n.startswith(prefix):
                try:
                    os.unlink(os.path.join(SHM_DIR, n))
                except FileNotFoundError:
                    pass


def shared_memory_implementation() -> Implementation:
    """stdlib pickle 5 plus a store on ``multiprocessing.shared_memory``: no eviction, no nodes."""
    return Implementation(
        name="shared_memory",
        serializer=PicklerSerializer(pickle.dumps),
        protocols=(5,),
        capabilities=frozenset({"numpy", "recursive", "out_of_band", "zero_copy", "read_only", "store",
                                "store_zero_copy", "store_read_only", "raw_buffers", "multiprocess", "timeouts",
                                "nodes"}),
        store_factory=ShmStoreFactory(),
        serialization_error=PICKLE_DUMP_ERRORS,
        deserialization_error=PICKLE_LOAD_ERRORS,
        object_exists_error=(ObjectExistsError,),
        store_full_error=(StoreFullError,),
        timeout_error=(TimeoutError,),
        not_found_error=(KeyError,),
        description="a minimal store: one multiprocessing.shared_memory segment per object, stdlib pickle 5; "
                    "nodes are separate stores on this machine, pulling from each other by copying",
    )


class ShmNode(ShmStore):
    """One node of a :class:`ShmCluster`: its own store, pulling objects from its peers on demand."""

    def __init__(self, name: str, capacity: int, peers: List[str]) -> None:
        super().__init__(name, capacity)
        self._peer_names = peers

    def _peers(self) -> List[ShmStore]:
        return [ShmStore(p, int(p.rsplit("-", 1)[1])) for p in self._peer_names]

    def _pull(self, oid: bytes) -> bool:
        for peer in self._peers():
            try:
                if not peer.contains(oid):
                    continue
                data = peer.get_buffer(oid, timeout=0)
                buf = self.create(oid, len(data))
                buf[:len(data)] = data
                del data
                self.seal(oid)
                return True
            except (TimeoutError, FileNotFoundError, ObjectExistsError):
                continue
            finally:
                peer.close()
        return False

    def _open(self, oid: bytes, timeout: Optional[float]) -> memoryview:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.contains(oid) or self._pull(oid):
                return super()._open(oid, 0)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"object {oid.hex()} is on no node (waited {timeout}s)")
            time.sleep(2e-3)


class ShmCluster:
    """Nodes that are separate shared-memory stores on this machine; a get pulls from a peer by copying."""

    def __init__(self, n: int, capacity: int) -> None:
        names = [f"{secrets.token_hex(6)}-{capacity}" for _ in range(n)]
        self._nodes = [ShmNode(name, capacity, [p for p in names if p != name]) for name in names]
        self._factory = ShmStoreFactory()

    def node(self, index: int) -> ShmNode:
        return self._nodes[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        return ShmStore.contains(self._nodes[index], object_id)

    def close(self) -> None:
        for node in self._nodes:
            self._factory.destroy(node)


def _create_cluster(self: ShmStoreFactory, n: int, *, capacity: int) -> ShmCluster:
    """``n`` nodes, each a store of ``capacity`` bytes."""
    return ShmCluster(n, capacity)


ShmStoreFactory.create_cluster = _create_cluster  # type: ignore[attr-defined]
