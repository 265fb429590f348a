"""Reading objects: pin a sealed object, wait for a seal, and hand out a read-only frame that keeps its pin
until the last view derived from it is released.

The pin is recorded in shared memory against this process (so a dead reader's pins can be given back) and
dropped by a weakref callback on the frame. A waiting read polls the store's seal counter with sleeps
growing from 20 us to 1 ms, so a seal anywhere on the node wakes it within about a millisecond.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, Callable, Optional, Tuple

import numpy as np

from reference.arena import SEALED, Arena
from reference.errors import GetTimeoutError
from reference.objectid import ObjectID

__all__ = ["pinned_frame"]

_MAX_SLEEP = 1e-3

#: (record, incarnation, offset, size) of a pinned object.
_Hit = Tuple[int, int, int, int]


def pinned_frame(arena: Arena, oid: ObjectID, timeout: Optional[float], store: str) -> np.ndarray[Any, Any]:
    """The frame of ``oid`` as a read-only slice of the mapping, pinned while it (or a view of it) lives.

    Waits for the object to be sealed: ``timeout=None`` for ever, ``0`` not at all, else that many seconds;
    then raises :class:`GetTimeoutError` naming the store ``store``.
    """
    oidb = oid.binary()
    seq = arena.seq()
    with arena:
        hit = _pin(arena, oidb)
    if hit is None:
        hit = _wait(arena, oid, seq, timeout, store)
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


def _pin(arena: Arena, oidb: bytes) -> Optional[_Hit]:
    e, _slot = arena.lookup(oidb)
    if e < 0:
        return None
    rec = arena.entry(e)
    if rec.state != SEALED:
        return None
    arena.pin(e)
    return e, rec.incarnation, rec.offset, rec.size


def _wait(arena: Arena, oid: ObjectID, seq: int, timeout: Optional[float], store: str) -> _Hit:
    if timeout is not None:
        if timeout <= 0:
            raise GetTimeoutError(f"object {oid} is not in store {store!r} (timeout=0)")
        deadline: Optional[float] = time.monotonic() + timeout
    else:
        deadline = None
    oidb = oid.binary()
    delay = 2e-5
    while True:
        now = time.monotonic()
        while arena.seq() == seq:
            if deadline is not None and now >= deadline:
                raise GetTimeoutError(f"object {oid} was not sealed in store {store!r} within {timeout} s")
            time.sleep(delay if deadline is None else min(delay, deadline - now))
            delay = min(delay * 2, _MAX_SLEEP)
            now = time.monotonic()
        seq = arena.seq()
        with arena:
            hit = _pin(arena, oidb)
        if hit is not None:
            return hit


def _release_callback(arena: Arena, e: int, inc: int, pid: int) -> Callable[[Any], None]:
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
