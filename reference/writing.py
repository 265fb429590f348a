"""Writing objects: reserve a CREATED record (reclaiming the dead's and evicting to make room), then seal
or drop it.

Reserving runs under the store's lock; the caller writes the frame into the reserved bytes (outside the
lock for large frames) and seals. When an object does not fit, pins of dead processes and unsealed objects
of dead writers are reclaimed first, then sealed unpinned objects are evicted
(:meth:`reference.arena.Arena.evict_until`); if even that cannot make room, :class:`ObjectStoreFullError`
says what holds the space, and nothing was evicted.
"""

from __future__ import annotations

import os
from typing import Tuple

from reference.arena import ALIGN, CREATED, SEALED, Arena
from reference.errors import ObjectExistsError, ObjectNotSealedError, ObjectStoreFullError
from reference.liveness import pid_alive
from reference.objectid import ObjectID

__all__ = ["drop_created", "reserve", "reserve_locked", "seal_created", "take_creating"]


def take_creating(arena: Arena, oid: ObjectID, what: str) -> Tuple[int, int, memoryview]:
    """(record, incarnation, view) of an object this process is creating, forgotten here; the view is
    released. Raises :class:`ObjectNotSealedError` (naming ``what`` was tried) if there is none."""
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

def reserve(arena: Arena, oid: ObjectID, size: int, store: str) -> Tuple[int, int, int]:
    """A CREATED record of ``size`` bytes for ``oid`` in the store named ``store``: (record, incarnation,
    offset). Takes the lock. Raises :class:`ObjectExistsError` if the id is taken (by a live writer),
    :class:`ObjectStoreFullError` if no room can be made.
    """
    with arena:
        return reserve_locked(arena, oid, size, store)


def reserve_locked(arena: Arena, oid: ObjectID, size: int, store: str) -> Tuple[int, int, int]:
    """:func:`reserve` for a caller that holds the lock already (a small put reserves, writes and seals in
    one critical section)."""
    oidb = oid.binary()
    n = max(ALIGN, (size + ALIGN - 1) // ALIGN * ALIGN)
    e, slot = arena.lookup(oidb)
    if e >= 0:
        rec = arena.entry(e)
        if rec.state == CREATED and rec.pid != os.getpid() and not pid_alive(rec.pid, rec.created):
            arena.reclaim_dead()  # its writer died mid-put: the ID is free again
            e, slot = arena.lookup(oidb)
        if e >= 0:
            raise ObjectExistsError(
                f"object {oid} already exists in store {store!r} "
                f"({'sealed' if rec.state == SEALED else 'being created'}): objects are immutable; "
                f"delete it first or use another ID"
            )
    off = arena.alloc(n) if arena.free_records() else -1
    if off < 0:
        off = _make_room(arena, oid, size, n, store)
        e, slot = arena.lookup(oidb)  # eviction may have rebuilt the index
    e, inc = arena.new_record(oidb, slot, off, size, n)
    return e, inc, off

def _make_room(arena: Arena, oid: ObjectID, size: int, n: int, store: str) -> int:
    """Under the lock: an offset of ``n`` free bytes after reclaiming the dead's and evicting, or raise."""
    cap = arena.lay.capacity
    if n > arena.lay.data_size:
        raise ObjectStoreFullError(
            f"object {oid} of {size} bytes ({n} with its alignment padding) is larger than store {store!r} "
            f"(capacity {cap} bytes): create the store with a larger capacity"
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
    why = "" if u.free_records else f"all {u.max_objects} object records are in use; "
    raise ObjectStoreFullError(
        f"object {oid} of {size} bytes does not fit in store {store!r} (capacity {cap} bytes): "
        f"{why}{u.pinned_bytes} bytes are pinned by readers ({u.pinned} objects whose views are "
        f"still held, deleted ones included), {u.unsealed_bytes} bytes are held by "
        f"{u.unsealed} unsealed objects being created, {u.sealed_bytes} bytes by sealed objects "
        f"in all, and the largest free block is {u.largest_free} bytes. Release views or delete "
        f"objects, or create the store with a larger capacity"
    )

def seal_created(arena: Arena, oid: ObjectID, e: int, inc: int) -> None:
    """Under the lock: seal record ``e`` if it still is incarnation ``inc`` being created, else raise."""
    rec = arena.entry(e)
    if rec.incarnation != inc or rec.state != CREATED:
        raise ObjectNotSealedError(f"object {oid} is no longer being created (reclaimed?): put it again")
    arena.seal(e)

def drop_created(arena: Arena, oid: ObjectID, e: int, inc: int) -> None:
    """Under the lock: remove record ``e`` if it still is incarnation ``inc`` of ``oid``."""
    found, slot = arena.lookup(oid.binary())
    if found == e and arena.entry(e).incarnation == inc:
        arena.remove(e, slot)
