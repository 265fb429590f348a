"""The reference object store: node-local, immutable, in shared memory, with Plasma's semantics.

Design (the details of the memory layout are in ``reference.arena``):

* A store is one file, ``/dev/shm/objstore-<name>``, created with ``O_EXCL`` and mode 0600 and mapped once
  per process (every handle of the store in a process shares the mapping). The file holds a header, an
  object table, allocator metadata and the data region; there is no server and no file per object.
* ``put`` serializes (``reference.serializer``), reserves space under the store's lock, writes the frame
  straight into the mapping *outside* the lock (one copy of each out-of-band buffer), then seals under the
  lock. Frames of 16 KiB or less are written inside one critical section: copying them is cheaper than a
  second trip through the lock. ``create``/``seal``/``abort`` expose the same steps. An unsealed object
  is invisible to others.
* ``get`` looks the object up and pins it under the lock, then deserializes a read-only slice of the
  mapping: every numpy array in the value is a zero-copy, read-only view of the store. The pin is recorded
  in shared memory against this process and dropped when the last view derived from the slice is released
  (a weakref callback on the slice). A deleted object that is still pinned becomes invisible at
  once and keeps its bytes until unpinned, so views never change (pinned objects are never evicted).
* A waiting ``get`` polls a shared seal counter with sleeps growing from 20 us to 1 ms; a seal anywhere on
  the node wakes it within about a millisecond.
* When a put does not fit, pins of dead processes and unsealed objects of dead writers are reclaimed, then
  sealed unpinned objects are evicted, least recently used (put or get) first, at least a tenth of the
  capacity at a time (as Plasma does, so one scan of the table serves many puts); if it cannot fit,
  :class:`ObjectStoreFullError` says why, nothing is evicted, and the store stays usable.
* The lock is ``flock`` on the store file plus a per-process ``RLock``; it covers table updates (and
  copies of small frames) only.

Non-goals: stores are per machine (no network; see ``reference.node``). A process that dies inside a table
update leaves a mark that makes the next one rebuild the table's derived structures (``arena.Arena.repair``):
the store survives any crash, though an update cut short may be undone. A writer must not
write through a buffer from ``create`` after ``seal`` (``seal`` releases the memoryview it returned when
nothing else exports it). Handles survive ``fork`` (the child takes its own lock and client slot), but views
a child inherits are pinned by the parent only: the child must ``get`` again to keep an object alive.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import threading
import time
import weakref
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from reference.arena import ALIGN, CREATED, SEALED, Arena, Layout, pid_alive
from reference.objectid import ID_SIZE, ObjectID, ObjectIDLike, as_object_id
from reference.errors import (
    GetTimeoutError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectStoreError,
    ObjectStoreFullError,
    StoreClosedError,
    StoreExistsError,
    StoreNotFoundError,
)
from reference.serializer import deserialize, serialize

__all__ = ["ID_SIZE", "ObjectID", "ObjectIDLike", "ObjectInfo", "ObjectStore", "STORE_DIR", "StoreStats"]

#: Where store files live: tmpfs, so the store is memory.
STORE_DIR = "/dev/shm"
_PREFIX = "objstore-"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
DEFAULT_MAX_OBJECTS = 65536
DEFAULT_MAX_CLIENTS = 64
_MAX_SLEEP = 1e-3
#: Frames up to this size are written under the lock (one lock round trip per put instead of two).
_SMALL_FRAME = 16 << 10


class ObjectInfo(NamedTuple):
    """One row of :meth:`ObjectStore.list`."""

    object_id: ObjectID
    size: int
    sealed: bool
    created: float  # time.time() when the object was created


class StoreStats(NamedTuple):
    """Usage of a store, from :meth:`ObjectStore.stats`. Byte counts include 64-byte alignment padding."""

    capacity: int
    used_bytes: int
    free_bytes: int
    largest_free_block: int
    num_objects: int
    num_unsealed: int
    sealed_bytes: int
    unsealed_bytes: int
    pinned_objects: int
    pinned_bytes: int
    evictions: int
    max_objects: int


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"a store name is 1-100 characters from [A-Za-z0-9_.-], starting with a letter or digit; got "
            f"{name!r}"
        )
    return name


def _path(name: str) -> str:
    return os.path.join(STORE_DIR, _PREFIX + _check_name(name))


# -- one mapping per (process, store file) -----------------------------------------------------------------
_registry: Dict[Tuple[int, int], Arena] = {}
_registry_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for arena in list(_registry.values()):
        if not arena.closed:
            arena.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _open_arena(path: str, fd: int) -> Arena:
    """The process's Arena for the store file open as ``fd`` (reusing a mapping of the same file)."""
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    with _registry_lock:
        arena = _registry.get(key)
        if arena is not None and not arena.closed:
            os.close(fd)
            arena.handles += 1
            return arena
        lay = None
        mm = None
        try:
            deadline = time.monotonic() + 2.0
            while True:
                size = os.fstat(fd).st_size
                if size:
                    mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                    lay = Arena.read_layout(mm)
                    if lay is not None:
                        break
                    mm.close()
                    mm = None
                if time.monotonic() > deadline:
                    raise ObjectStoreError(
                        f"{path} is not an object store file (no valid header after 2 s): remove it, or "
                        f"pick another store name"
                    )
                time.sleep(0.005)  # being created by another process: its header is written last
        except BaseException:
            if mm is not None:
                mm.close()
            os.close(fd)
            raise
        arena = Arena(path, fd, mm, lay)
        arena.handles = 1
        _registry[key] = arena
        return arena


def _release_callback(arena: Arena, e: int, inc: int, pid: int) -> Any:
    def release(ref: Any) -> None:
        arena.refs.pop(id(ref), None)
        if os.getpid() != pid:
            return  # a forked child's copy of a parent's view: the parent owns the pin
        try:
            if arena.owner == threading.get_ident():
                arena.pending.append((e, inc))  # released inside our own table update: run at unlock
                return
            with arena:
                arena.unpin(e, inc)
        except Exception:  # noqa: BLE001 - interpreter shutdown or closed store: the pin dies with us
            pass
    return release


class _ClassOrInstanceMethod:
    """``ObjectStore.create(name, capacity=...)`` makes a store; ``store.create(object_id, size)`` an object.

    Both spellings are the ones Plasma/Ray users know, so one name dispatches on how it is reached.
    """

    def __init__(self, on_class: Any, on_instance: Any) -> None:
        self._on_class = on_class
        self._on_instance = on_instance
        self.__doc__ = f"On the class: {on_class.__func__.__doc__}\n\nOn a handle: {on_instance.__doc__}"

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self._on_class.__get__(None, cls)
        return self._on_instance.__get__(obj, cls)


def _attach_by_name(name: str) -> "ObjectStore":
    return ObjectStore.attach(name)


class ObjectStore:
    """A handle on a node-local shared-memory object store.

    Make one with :meth:`create` (once per node) or :meth:`attach` (any process on the node, by name). A
    handle pickles by name: unpickling attaches. :meth:`close` releases this handle and never destroys
    the store; :meth:`destroy` removes it. ``with ObjectStore.attach(name) as store:`` closes on exit.
    Handles are safe to share between threads and survive ``fork`` (the child re-registers itself).
    """

    _arena: Optional[Arena] = None

    def __init__(self, name: str, arena: Arena) -> None:
        self.name = name
        self.path = arena.path
        self._arena = arena

    # -- lifecycle --------------------------------------------------------------------------------------
    @classmethod
    def create_store(cls, name: str, *, capacity: int, max_objects: int = DEFAULT_MAX_OBJECTS,
               max_clients: int = DEFAULT_MAX_CLIENTS, prefault: bool = False) -> "ObjectStore":
        """Create the store ``name`` with room for ``capacity`` bytes of objects, and return a handle.

        ``max_objects`` bounds the number of objects held at once (the table's size; 96 bytes each);
        ``max_clients`` the number of processes attached at once (dead ones are reclaimed).
        ``prefault=True`` touches every page now, so that the first puts run at memory speed.
        Raises :class:`StoreExistsError` if a store of this name exists, ``ValueError`` for a bad name or
        size. The file is created with mode 0600: only this user can attach.
        """
        path = _path(name)
        for label, value, low in (("capacity", capacity, 0), ("max_objects", max_objects, 1),
                                  ("max_clients", max_clients, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"'{label}' must be an integer >= {low}, got {value!r}")
        capacity = (capacity + ALIGN - 1) // ALIGN * ALIGN
        lay = Layout(capacity, max_objects, max_clients)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError as exc:
            raise StoreExistsError(
                f"a store named {name!r} already exists ({path}): attach to it with "
                f"ObjectStore.attach({name!r}), or destroy it first"
            ) from exc
        try:
            os.fchmod(fd, 0o600)
            os.ftruncate(fd, lay.total)
            mm = mmap.mmap(fd, lay.total, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            try:
                if prefault and capacity:
                    data = np.frombuffer(mm, dtype=np.uint8, count=capacity, offset=lay.data)
                    data[::mmap.PAGESIZE] = 0
                    del data
                Arena.initialize(mm, lay)
            finally:
                mm.close()
            fd2 = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        os.close(fd)
        return cls(name, _open_arena(path, fd2))

    @classmethod
    def attach(cls, name: str) -> "ObjectStore":
        """Attach to the existing store ``name``; raises :class:`StoreNotFoundError` if there is none.

        Refuses (``PermissionError``) a file that another user owns or that others may read or write.
        """
        path = _path(name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise StoreNotFoundError(
                f"no store named {name!r} on this machine ({path} does not exist): create it with "
                f"ObjectStore.create({name!r}, capacity=...)"
            ) from exc
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077 or not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise PermissionError(
                f"refusing to attach {path}: it must be a regular file owned by uid {os.geteuid()} with "
                f"mode 0600 (it has uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})"
            )
        return cls(name, _open_arena(path, fd))

    def close(self) -> None:
        """Release this handle. Never destroys the store; idempotent.

        The process's mapping is unmapped when its last handle closes and no view of any object is held;
        otherwise it stays until the views are gone and the process exits.
        """
        arena = self._arena
        if arena is None:
            return
        self._arena = None
        with _registry_lock:
            arena.handles -= 1
            if arena.handles > 0 or arena.closed:
                return
            if arena.local_pins == 0 and not arena.creating and arena.pid == os.getpid():
                try:
                    with arena:
                        arena.release_client()
                except OSError:
                    pass
            try:
                arena.close()
            except BufferError:
                return  # views of objects are alive: keep the mapping (reused if attached again)
            for key, value in list(_registry.items()):
                if value is arena:
                    del _registry[key]

    def destroy(self) -> None:
        """Remove the store from the machine and close this handle.

        New attaches fail at once; processes that have it mapped keep working on their mapping, and the
        memory is returned when the last of them unmaps. Idempotent.
        """
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.close()

    unlink = destroy

    @property
    def closed(self) -> bool:
        return self._arena is None

    def __enter__(self) -> "ObjectStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        return (_attach_by_name, (self.name,))

    def __repr__(self) -> str:
        state = "closed" if self._arena is None else f"capacity={self._arena.lay.capacity}"
        return f"ObjectStore({self.name!r}, {state})"

    def _a(self) -> Arena:
        arena = self._arena
        if arena is None:
            raise StoreClosedError(f"the handle on store {self.name!r} is closed: attach again")
        return arena

    @property
    def capacity(self) -> int:
        """Bytes available to objects."""
        return self._a().lay.capacity

    # -- writing ----------------------------------------------------------------------------------------
    def put(self, value: Any, object_id: Optional[ObjectIDLike] = None) -> ObjectID:
        """Serialize ``value`` straight into the store and seal it; returns its :class:`ObjectID`.

        ``object_id`` (an ObjectID, 20 bytes or 40 hex digits) defaults to a random one. Each out-of-band
        buffer is copied once, into shared memory. Raises :class:`ObjectExistsError` if the ID is taken,
        :class:`ObjectStoreFullError` if it does not fit after evicting what can be evicted,
        :class:`reference.errors.SerializationError` if ``value`` cannot be serialized.
        """
        arena = self._a()
        oid = ObjectID.from_random() if object_id is None else as_object_id(object_id)
        so = serialize(value)
        size = so.frame_size
        if size <= _SMALL_FRAME:
            # A copy of a few KiB takes less time than a second trip through the lock: do it all at once.
            with arena:
                e, inc, off = self._reserve(arena, oid, size)
                view = arena.view[off:off + size]
                try:
                    so.write_to(view)
                except BaseException:
                    self._drop_created(arena, oid, e, inc)
                    raise
                finally:
                    view.release()
                arena.seal(e)
            return oid
        e, inc, off = self._reserve(arena, oid, size)
        try:
            view = arena.view[off:off + size]
            try:
                so.write_to(view)
            finally:
                view.release()
        except BaseException:
            with arena:
                self._drop_created(arena, oid, e, inc)
            raise
        with arena:
            self._seal_record(arena, oid, e, inc)
        return oid

    def create_object(self, object_id: ObjectIDLike, size: int) -> memoryview:
        """Reserve ``size`` bytes for ``object_id`` and return them as a writable memoryview.

        The object is invisible to everyone until :meth:`seal`; :meth:`abort` (or this process dying)
        gives the space back. Raises :class:`ObjectExistsError`, :class:`ObjectStoreFullError`.
        """
        arena = self._a()
        oid = as_object_id(object_id)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"'size' must be an integer >= 0, got {size!r}")
        e, inc, off = self._reserve(arena, oid, size)
        view = arena.view[off:off + size]
        arena.creating[oid.binary()] = (e, inc, view)
        return view

    create = _ClassOrInstanceMethod(create_store, create_object)

    def seal(self, object_id: ObjectIDLike) -> None:
        """Make an object created by this process visible and immutable; wakes waiting gets.

        The memoryview from :meth:`create` is released (unless something still exports it). Raises
        :class:`ObjectNotSealedError` if this process is not creating ``object_id``.
        """
        arena = self._a()
        oid = as_object_id(object_id)
        e, inc, view = self._take_creating(arena, oid, "seal")
        with arena:
            self._seal_record(arena, oid, e, inc)

    def abort(self, object_id: ObjectIDLike) -> None:
        """Drop an object this process created and has not sealed; its space is free again."""
        arena = self._a()
        oid = as_object_id(object_id)
        e, inc, view = self._take_creating(arena, oid, "abort")
        with arena:
            self._drop_created(arena, oid, e, inc)

    def _take_creating(self, arena: Arena, oid: ObjectID, what: str) -> Tuple[int, int, memoryview]:
        try:
            e, inc, view = arena.creating.pop(oid.binary())
        except KeyError:
            raise ObjectNotSealedError(
                f"cannot {what} object {oid}: this process is not creating it (it was never created here, "
                f"or is already sealed or aborted)"
            ) from None
        try:
            view.release()
        except BufferError:
            pass  # the writer still exports it (a numpy array over it, say): by contract, unused from now on
        return e, inc, view

    def _reserve(self, arena: Arena, oid: ObjectID, size: int) -> Tuple[int, int, int]:
        """Under the lock: a CREATED record of ``size`` bytes for ``oid``; (record, incarnation, offset)."""
        oidb = oid.binary()
        n = max(ALIGN, (size + ALIGN - 1) // ALIGN * ALIGN)
        with arena:
            e, slot = arena.lookup(oidb)
            if e >= 0:
                state, pid, _oid, _off, _size, _alloc, created_at = arena.entry(e)[:7]
                if state == CREATED and pid != os.getpid() and not pid_alive(pid, created_at):
                    arena.reclaim_dead()  # its writer died mid-put: the ID is free again
                    e, slot = arena.lookup(oidb)
                if e >= 0:
                    raise ObjectExistsError(
                        f"object {oid} already exists in store {self.name!r} "
                        f"({'sealed' if state == SEALED else 'being created'}): objects are immutable; "
                        f"delete it first or use another ID"
                    )
            off = arena.alloc(n) if arena.free_records() else -1
            if off < 0:
                off = self._make_room(arena, oid, size, n)
                e, slot = arena.lookup(oidb)  # eviction may have rebuilt the index
            e, inc = arena.new_record(oidb, slot, off, size, n)
            return e, inc, off

    def _make_room(self, arena: Arena, oid: ObjectID, size: int, n: int) -> int:
        cap = arena.lay.capacity
        if n > cap:
            raise ObjectStoreFullError(
                f"object {oid} of {size} bytes is larger than store {self.name!r} (capacity {cap} "
                f"bytes): create the store with a larger capacity"
            )
        arena.reclaim_dead()
        if arena.free_records():
            off = arena.alloc(n)
            if off >= 0:
                return off
        off, _ = arena.evict_until(n, True)
        if off >= 0:
            return off
        u = arena.usage()
        why = "" if u["free_records"] else f"all {u['max_objects']} object records are in use; "
        raise ObjectStoreFullError(
            f"object {oid} of {size} bytes does not fit in store {self.name!r} (capacity {cap} bytes): "
            f"{why}{u['pinned_bytes']} bytes are pinned by readers ({u['pinned']} objects whose views are "
            f"still held, deleted ones included), {u['unsealed_bytes']} bytes are held by "
            f"{u['unsealed']} unsealed objects being created, {u['sealed_bytes']} bytes by sealed objects "
            f"in all, and the largest free block is {u['largest_free']} bytes. Release views or delete "
            f"objects, or create the store with a larger capacity"
        )

    def _seal_record(self, arena: Arena, oid: ObjectID, e: int, inc: int) -> None:
        state, pid, _id, _o, _s, _a, _c, _l, rinc = arena.entry(e)[:9]
        if rinc != inc or state != CREATED:
            raise ObjectNotSealedError(f"object {oid} is no longer being created (reclaimed?): put it again")
        arena.seal(e)

    def _drop_created(self, arena: Arena, oid: ObjectID, e: int, inc: int) -> None:
        found, slot = arena.lookup(oid.binary())
        if found == e and arena.entry(e)[8] == inc:
            arena.remove(e, slot)

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, object_id: ObjectIDLike, timeout: Optional[float] = None) -> Any:
        """The value of ``object_id``, waiting until it is sealed.

        Every numpy array in the value is a zero-copy, read-only view of the store; the object cannot be
        freed while any such view lives (a delete or eviction hides it at once and frees it later).
        ``timeout=None`` waits forever, ``0`` raises :class:`GetTimeoutError` at once if the object is not
        there, a positive number waits that many seconds. A seal in any process wakes the wait within
        about a millisecond.
        """
        return deserialize(self._frame(object_id, timeout))

    def get_buffer(self, object_id: ObjectIDLike, timeout: Optional[float] = None) -> memoryview:
        """The raw bytes of ``object_id`` as a read-only memoryview of the store (waits like :meth:`get`).

        The object stays pinned while the memoryview (or anything made from it) is alive.
        """
        return memoryview(self._frame(object_id, timeout))

    def _frame(self, object_id: ObjectIDLike, timeout: Optional[float]) -> np.ndarray:
        arena = self._a()
        oid = as_object_id(object_id)
        oidb = oid.binary()
        seq = arena.seq()
        with arena:
            hit = self._pin(arena, oidb)
        if hit is None:
            hit = self._wait(arena, oid, seq, timeout)
        e, inc, off, size = hit
        try:
            frame = arena.ro[off:off + size]
            ref = weakref.ref(frame, _release_callback(arena, e, inc, os.getpid()))
            arena.refs[id(ref)] = ref
        except BaseException:
            with arena:
                arena.unpin(e, inc)
            raise
        return frame

    @staticmethod
    def _pin(arena: Arena, oidb: bytes) -> Optional[Tuple[int, int, int, int]]:
        e, _slot = arena.lookup(oidb)
        if e < 0:
            return None
        state, _pid, _id, off, size, _alloc, _c, _l, inc = arena.entry(e)[:9]
        if state != SEALED:
            return None
        arena.pin(e)
        return e, inc, off, size

    def _wait(self, arena: Arena, oid: ObjectID, seq: int,
              timeout: Optional[float]) -> Tuple[int, int, int, int]:
        if timeout is not None:
            if timeout <= 0:
                raise GetTimeoutError(f"object {oid} is not in store {self.name!r} (timeout=0)")
            deadline: Optional[float] = time.monotonic() + timeout
        else:
            deadline = None
        oidb = oid.binary()
        delay = 2e-5
        while True:
            now = time.monotonic()
            while arena.seq() == seq:
                if deadline is not None and now >= deadline:
                    raise GetTimeoutError(
                        f"object {oid} was not sealed in store {self.name!r} within {timeout} s"
                    )
                time.sleep(delay if deadline is None else min(delay, deadline - now))
                delay = min(delay * 2, _MAX_SLEEP)
                now = time.monotonic()
            seq = arena.seq()
            with arena:
                hit = self._pin(arena, oidb)
            if hit is not None:
                return hit

    def contains(self, object_id: ObjectIDLike) -> bool:
        """Whether a sealed object ``object_id`` is in the store now."""
        arena = self._a()
        oidb = as_object_id(object_id).binary()
        with arena:
            e, _slot = arena.lookup(oidb)
            return e >= 0 and arena.entry(e)[0] == SEALED

    __contains__ = contains

    def delete(self, object_id: ObjectIDLike) -> None:
        """Remove a sealed object. Views already held stay valid; its space returns when they are released.

        Raises :class:`ObjectNotFoundError` if no sealed object has this ID.
        """
        arena = self._a()
        oid = as_object_id(object_id)
        with arena:
            e, slot = arena.lookup(oid.binary())
            if e < 0 or arena.entry(e)[0] != SEALED:
                raise ObjectNotFoundError(
                    f"no sealed object {oid} in store {self.name!r} to delete (never put, already deleted "
                    f"or evicted, or not sealed yet: abort() an object you are creating)"
                )
            arena.remove(e, slot)

    def list(self) -> List[ObjectInfo]:
        """Every sealed object, plus the unsealed ones this process is creating, in table order."""
        arena = self._a()
        me = os.getpid()
        out = []
        with arena:
            state = arena.used_entries()["state"]
            for e in np.flatnonzero((state == SEALED) | (state == CREATED)).tolist():
                st, pid, oidb, _off, size, _alloc, created = arena.entry(e)[:7]
                if st == SEALED or pid == me:
                    out.append(ObjectInfo(ObjectID(oidb), size, st == SEALED, created))
        return out

    def stats(self) -> StoreStats:
        """Usage now (after reclaiming what dead processes held)."""
        arena = self._a()
        with arena:
            arena.reclaim_dead()
            u = arena.usage()
        return StoreStats(
            capacity=u["capacity"], used_bytes=u["used"], free_bytes=u["capacity"] - u["used"],
            largest_free_block=u["largest_free"], num_objects=u["sealed"], num_unsealed=u["unsealed"],
            sealed_bytes=u["sealed_bytes"], unsealed_bytes=u["unsealed_bytes"],
            pinned_objects=u["pinned"], pinned_bytes=u["pinned_bytes"], evictions=u["evictions"],
            max_objects=u["max_objects"],
        )
