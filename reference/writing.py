"""Writing objects: reserve a CREATED record, write the frame into its bytes, seal it (or drop it); the
counterpart of ``reference.reading``.

:func:`put_frame` is a whole put. The record is reserved under the store's lock; the frame is written
into the mapping *outside* the lock (one copy of each out-of-band buffer; one of 4 MiB or more going to
pages this process has not mapped yet is faulted in ahead and copied by several threads,
``reference.copying``), then sealed under the lock. A frame of :data:`SMALL_FRAME` bytes or less is
reserved, written and sealed in one critical section: copying it costs less than a second trip through
the lock. :func:`create`, :func:`seal` and :func:`abort` are the same steps for a writer that fills the
bytes itself (Plasma's raw API); the objects this process is creating are kept per process, and one seal
(:meth:`reference.arena.records.Records.seal`, checked by incarnation) serves both.

When an object does not fit, pins of dead processes and unsealed objects of dead writers are reclaimed
first, then sealed unpinned objects are evicted (:meth:`reference.arena.eviction.Eviction.evict_for`); if
even that cannot make room, :class:`ObjectStoreFullError` says what holds the space, and nothing was
evicted.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from reference.arena import ALIGN, CREATED, SEALED, Arena
from reference.copying import PageMap
from reference.errors import ObjectExistsError, ObjectNotSealedError, ObjectStoreFullError
from reference.frame import Frame
from reference.liveness import pid_alive
from reference.objectid import ObjectID

__all__ = ["SMALL_FRAME", "abort", "create", "put_frame", "seal"]

#: Frames up to this size are written under the lock (one lock round trip per put instead of two).
SMALL_FRAME = 16 << 10


def put_frame(arena: Arena, oid: ObjectID, frame: Frame, store: str) -> None:
    """Write ``frame`` into the store (named ``store``) as the sealed object ``oid``.

    Raises :class:`ObjectExistsError` if the id is taken, :class:`ObjectStoreFullError` if no room can be
    made; whatever writing raises leaves nothing behind.
    """
    size = frame.frame_size
    if size <= SMALL_FRAME:
        with arena:
            e, inc, off = _reserve(arena, oid, size, store)
            view = arena.view[off:off + size]
            try:
                frame.write_into(view)  # a writable byte slice of the mapping, exactly frame_size long
            except BaseException:
                _drop(arena, oid, e, inc)
                raise
            finally:
                view.release()
            if not arena.seal(e, inc):
                raise _no_longer_created(oid)
        return
    with arena:
        e, inc, off = _reserve(arena, oid, size, store)
    try:
        view = arena.view[off:off + size]
        try:
            frame.write_into(view, copy=_page_map(arena).copy)  # large buffers into fresh pages: in parallel
        finally:
            view.release()
    except BaseException:
        with arena:
            _drop(arena, oid, e, inc)
        raise
    with arena:
        if not arena.seal(e, inc):
            raise _no_longer_created(oid)


def create(arena: Arena, oid: ObjectID, size: int, store: str) -> memoryview:
    """Reserve ``size`` bytes for ``oid`` and return them, writable; the object stays invisible until
    :func:`seal`. Raises as :func:`put_frame` does."""
    with arena:
        e, inc, off = _reserve(arena, oid, size, store)
    view = arena.view[off:off + size]
    arena.creating[oid.binary()] = (e, inc, view)
    return view


def seal(arena: Arena, oid: ObjectID) -> None:
    """Seal an object this process made with :func:`create`; its memoryview is released (unless something
    still exports it). Raises :class:`ObjectNotSealedError` if this process is not creating ``oid``."""
    e, inc = _take_creating(arena, oid, "seal")
    with arena:
        if not arena.seal(e, inc):
            raise _no_longer_created(oid)


def abort(arena: Arena, oid: ObjectID) -> None:
    """Drop an object this process made with :func:`create` and has not sealed; its space is free again."""
    e, inc = _take_creating(arena, oid, "abort")
    with arena:
        _drop(arena, oid, e, inc)


def _take_creating(arena: Arena, oid: ObjectID, what: str) -> Tuple[int, int]:
    """(record, incarnation) of an object this process is creating, forgotten here; its view is released.
    Raises :class:`ObjectNotSealedError` (naming ``what`` was tried) if there is none."""
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
    return e, inc


def _page_map(arena: Arena) -> PageMap:
    """This process's :class:`PageMap` of the mapping, made by the first large put."""
    page_map: Optional[PageMap] = arena.page_map
    if page_map is None:
        base = np.frombuffer(arena.view, dtype=np.uint8, count=1).ctypes.data
        page_map = arena.page_map = PageMap(base, arena.lay.total)
    return page_map


def _reserve(arena: Arena, oid: ObjectID, size: int, store: str) -> Tuple[int, int, int]:
    """Under the lock: a CREATED record of ``size`` bytes for ``oid``: (record, incarnation, offset)."""
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
    off = arena.evict_for(n)
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


def _no_longer_created(oid: ObjectID) -> ObjectNotSealedError:
    """The error of a seal that found its record reclaimed (its creator was taken for dead)."""
    return ObjectNotSealedError(f"object {oid} is no longer being created (reclaimed?): put it again")


def _drop(arena: Arena, oid: ObjectID, e: int, inc: int) -> None:
    """Under the lock: remove record ``e`` if it still is incarnation ``inc`` of ``oid``."""
    found, slot = arena.lookup(oid.binary())
    if found == e and arena.entry(e).incarnation == inc:
        arena.remove(e, slot)
