"""The reference object store: node-local, immutable, in shared memory, with Plasma's semantics.

Design, and the module that does each part:

* A store is one file, ``/dev/shm/objstore-<name>``, created with ``O_EXCL`` and mode 0600 and mapped once
  per process (every handle of the store in a process shares the mapping; ``reference.storefile``). The
  file holds a header, an object table, allocator metadata and the data region (``reference.arena``);
  there is no server and no file per object.
* ``put`` serializes (with the handle's :class:`reference.serializer.Serializer`), reserves space under
  the store's lock, writes the frame straight into the mapping *outside* the lock (one copy of each
  out-of-band buffer; a buffer of 4 MiB or more going to pages this process has not mapped yet is faulted
  in ahead and copied by several threads, ``reference.copying``), then seals under the lock. Frames of
  16 KiB or less are written inside one critical section: copying them is cheaper than a second trip
  through the lock. ``create``/``seal``/``abort`` expose the same steps. An unsealed object is invisible
  to others (``reference.writing``).
* ``get`` looks the object up and pins it under the lock, then deserializes a read-only slice of the
  mapping: every numpy array in the value is a zero-copy, read-only view of the store. The pin is recorded
  in shared memory against this process (its own row of the pin ledger) and dropped, without the store's
  lock, when the last view derived from the slice is released (a weakref callback on the slice). A
  deleted object that is still pinned becomes invisible at once and keeps its bytes until unpinned, so
  views never change (pinned objects are never evicted; ``reference.reading``).
* A waiting ``get`` polls a shared seal counter with sleeps growing from 20 us to 1 ms; a seal anywhere on
  the node wakes it within about a millisecond.
* When a put does not fit, pins of dead processes and unsealed objects of dead writers are reclaimed, then
  sealed unpinned objects are evicted, least recently used (put or get) first, at least a tenth of the
  capacity at a time (as Plasma does, so one scan of the table serves many puts); if even evicting every
  unpinned object could not leave a large enough contiguous block, :class:`ObjectStoreFullError` says
  why, nothing is evicted, and the store stays usable (``reference.arena.eviction``).
* The lock is ``flock`` on the store file plus a per-process ``RLock``; it covers table updates (and
  copies of small frames) only.

Non-goals: stores are per machine (no network; see ``reference.node``). A process that dies inside a table
update leaves a mark that makes the next one rebuild the table's derived structures (``reference.arena.repair``):
the store survives any crash, though an update cut short may be undone. A writer must not
write through a buffer from ``create`` after ``seal`` (``seal`` releases the memoryview it returned when
nothing else exports it). Handles survive ``fork`` (the child takes its own lock and client slot), but views
a child inherits are pinned by the parent only: the child must ``get`` again to keep an object alive.
"""

from __future__ import annotations

import os
from typing import Any, List, NamedTuple, Optional

import numpy as np

from reference import writing
from reference.arena import CREATED, SEALED, Arena
from reference.errors import ObjectNotFoundError, StoreClosedError
from reference.objectid import ID_SIZE, ObjectID, ObjectIDLike, as_object_id
from reference.reading import pinned_frame
from reference.serializer import Serializer, default_serializer
from reference.storefile import (
    DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_OBJECTS,
    STORE_DIR,
    create_arena,
    open_arena,
    release_arena,
)

__all__ = ["ID_SIZE", "STORE_DIR", "ObjectID", "ObjectIDLike", "ObjectInfo", "ObjectStore", "StoreStats"]

class ObjectInfo(NamedTuple):
    """One row of :meth:`ObjectStore.list`."""

    object_id: ObjectID
    size: int
    sealed: bool
    created: float  # time.time() when the object was created


class StoreStats(NamedTuple):
    """Usage of a store, from :meth:`ObjectStore.stats`. Byte counts include 64-byte alignment padding;
    ``capacity`` is the one the store was created with, and ``free_bytes`` is ``capacity - used_bytes``."""

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
    Each handle has a :attr:`serializer` (the process-wide default unless one was given to :meth:`create`
    or :meth:`attach`); a handle unpickled elsewhere uses that process's default.
    """

    _arena: Optional[Arena] = None

    def __init__(self, name: str, arena: Arena, serializer: Optional[Serializer] = None) -> None:
        self.name = name
        self.path = arena.path
        self._arena = arena
        self.serializer = default_serializer() if serializer is None else serializer

    # -- lifecycle --------------------------------------------------------------------------------------
    @classmethod
    def create_store(cls, name: str, *, capacity: int, max_objects: int = DEFAULT_MAX_OBJECTS,
                     max_clients: int = DEFAULT_MAX_CLIENTS, prefault: bool = False,
                     serializer: Optional[Serializer] = None) -> ObjectStore:
        """Create the store ``name`` with room for ``capacity`` bytes of objects, and return a handle.

        An object takes its frame's size rounded up to a multiple of 64 bytes (64 at least), so the
        store never holds more than ``capacity`` bytes and, when ``capacity`` is not a multiple of 64, its
        last ``capacity % 64`` bytes stay unused. :attr:`capacity` and :meth:`stats` report ``capacity``
        as given, as Plasma's ``store_capacity()`` does.

        ``max_objects`` bounds the number of objects held at once (the table's size; 96 bytes each);
        ``max_clients`` the number of processes attached at once (dead ones are reclaimed).
        ``prefault=True`` touches every page now, so that the first puts run at memory speed.
        ``serializer`` (default: :func:`reference.serializer.default_serializer`) serializes this handle's
        puts and reads its gets. Raises :class:`StoreExistsError` if a store of this name exists,
        ``ValueError`` for a bad name or size. The file is created with mode 0600: only this user can attach.
        """
        arena = create_arena(name, capacity=capacity, max_objects=max_objects, max_clients=max_clients,
                             prefault=prefault)
        return cls(name, arena, serializer)

    @classmethod
    def attach(cls, name: str, *, serializer: Optional[Serializer] = None) -> ObjectStore:
        """Attach to the existing store ``name``; raises :class:`StoreNotFoundError` if there is none.

        ``serializer`` is as for :meth:`create`. Refuses (``PermissionError``) a file that another user
        owns or that others may read or write.
        """
        return cls(name, open_arena(name), serializer)

    def close(self) -> None:
        """Release this handle. Never destroys the store; idempotent.

        The process's mapping is unmapped when its last handle closes and no view of any object is held;
        otherwise it stays until the views are gone and the process exits.
        """
        arena = self._arena
        if arena is None:
            return
        self._arena = None
        release_arena(arena)

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

    def _checked_arena(self) -> Arena:
        arena = self._arena
        if arena is None:
            raise StoreClosedError(f"the handle on store {self.name!r} is closed: attach again")
        return arena

    @property
    def capacity(self) -> int:
        """The capacity the store was created with, in bytes (see :meth:`create`)."""
        return self._checked_arena().lay.capacity

    @property
    def arena(self) -> Arena:
        """The back door: this process's :class:`reference.arena.Arena` of the store, for tests and tools that
        read its tables directly (``reference.arena.verify(store.arena)``). Updates must hold its lock."""
        return self._checked_arena()

    # -- writing ----------------------------------------------------------------------------------------
    def put(self, value: Any, object_id: Optional[ObjectIDLike] = None) -> ObjectID:
        """Serialize ``value`` straight into the store and seal it; returns its :class:`ObjectID`.

        ``object_id`` (an ObjectID, 20 bytes or 40 hex digits) defaults to a random one. Each out-of-band
        buffer is copied once, into shared memory. Raises :class:`ObjectExistsError` if the ID is taken,
        :class:`ObjectStoreFullError` if it does not fit after evicting what can be evicted,
        :class:`reference.errors.SerializationError` if ``value`` cannot be serialized.
        """
        arena = self._checked_arena()
        oid = ObjectID.from_random() if object_id is None else as_object_id(object_id)
        writing.put_frame(arena, oid, self.serializer.serialize(value), self.name)
        return oid

    def create_object(self, object_id: ObjectIDLike, size: int) -> memoryview:
        """Reserve ``size`` bytes for ``object_id`` and return them as a writable memoryview.

        The object is invisible to everyone until :meth:`seal`; :meth:`abort` (or this process dying)
        gives the space back. Raises :class:`ObjectExistsError`, :class:`ObjectStoreFullError`.
        """
        arena = self._checked_arena()
        oid = as_object_id(object_id)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"'size' must be an integer >= 0, got {size!r}")
        return writing.create(arena, oid, size, self.name)

    create = _ClassOrInstanceMethod(create_store, create_object)

    def seal(self, object_id: ObjectIDLike) -> None:
        """Make an object created by this process visible and immutable; wakes waiting gets.

        The memoryview from :meth:`create` is released (unless something still exports it). Raises
        :class:`ObjectNotSealedError` if this process is not creating ``object_id``.
        """
        writing.seal(self._checked_arena(), as_object_id(object_id))

    def abort(self, object_id: ObjectIDLike) -> None:
        """Drop an object this process created and has not sealed; its space is free again."""
        writing.abort(self._checked_arena(), as_object_id(object_id))

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, object_id: ObjectIDLike, timeout: Optional[float] = None) -> Any:
        """The value of ``object_id``, waiting until it is sealed.

        Every numpy array in the value is a zero-copy, read-only view of the store; the object cannot be
        freed while any such view lives (a delete or eviction hides it at once and frees it later).
        ``timeout=None`` waits forever, ``0`` raises :class:`GetTimeoutError` at once if the object is not
        there, a positive number waits that many seconds. A seal in any process wakes the wait within
        about a millisecond.
        """
        frame = pinned_frame(self._checked_arena(), as_object_id(object_id), timeout, self.name)
        return self.serializer.deserialize(frame)

    def get_buffer(self, object_id: ObjectIDLike, timeout: Optional[float] = None) -> memoryview:
        """The raw bytes of ``object_id`` as a read-only memoryview of the store (waits like :meth:`get`).

        The object stays pinned while the memoryview (or anything made from it) is alive.
        """
        return pinned_frame(self._checked_arena(), as_object_id(object_id), timeout, self.name).data

    def contains(self, object_id: ObjectIDLike) -> bool:
        """Whether a sealed object ``object_id`` is in the store now."""
        arena = self._checked_arena()
        oidb = as_object_id(object_id).binary()
        with arena:
            e, _slot = arena.lookup(oidb)
            return e >= 0 and arena.entry(e).state == SEALED

    __contains__ = contains

    def delete(self, object_id: ObjectIDLike) -> None:
        """Remove a sealed object. Views already held stay valid; its space returns when they are released.

        Raises :class:`ObjectNotFoundError` if no sealed object has this ID.
        """
        arena = self._checked_arena()
        oid = as_object_id(object_id)
        with arena:
            e, slot = arena.lookup(oid.binary())
            if e < 0 or arena.entry(e).state != SEALED:
                raise ObjectNotFoundError(
                    f"no sealed object {oid} in store {self.name!r} to delete (never put, already deleted "
                    f"or evicted, or not sealed yet: abort() an object you are creating)"
                )
            arena.remove(e, slot)

    def list(self) -> List[ObjectInfo]:
        """Every sealed object, plus the unsealed ones this process is creating, in table order."""
        arena = self._checked_arena()
        me = os.getpid()
        out = []
        with arena:
            state = arena.used_entries()["state"]
            for e in np.flatnonzero((state == SEALED) | (state == CREATED)).tolist():
                rec = arena.entry(e)
                if rec.state == SEALED or rec.pid == me:
                    out.append(ObjectInfo(ObjectID(rec.object_id), rec.size, rec.state == SEALED, rec.created))
        return out

    def stats(self) -> StoreStats:
        """Usage now (after reclaiming what dead processes held)."""
        arena = self._checked_arena()
        with arena:
            arena.reclaim_dead()
            u = arena.usage()
        return StoreStats(
            capacity=u.capacity, used_bytes=u.used, free_bytes=u.capacity - u.used,
            largest_free_block=u.largest_free, num_objects=u.sealed, num_unsealed=u.unsealed,
            sealed_bytes=u.sealed_bytes, unsealed_bytes=u.unsealed_bytes,
            pinned_objects=u.pinned, pinned_bytes=u.pinned_bytes, evictions=u.evictions,
            max_objects=u.max_objects,
        )
