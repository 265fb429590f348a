"""Reading objects: pin a sealed object, wait for a seal, and hand out a read-only frame that keeps its pin
until the last view derived from it is released.

The pin is recorded in shared memory against this process (so a dead reader's pins can be given back) and
dropped by a weakref callback on the frame. A waiting read polls the store's seal counter with sleeps
growing from 20 us to 1 ms, so a seal anywhere on the node wakes it within about a millisecond.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Optional, Tuple

import numpy as np

from reference.arena import Arena
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
    hit = arena.pin_sealed(oid.binary())
    if hit is None:
        hit = _wait(arena, oid, timeout, store)
    e, inc, off, size = hit
    try:
        frame = arena.ro[off:off + size]
        ref = weakref.ref(frame, arena.release_ref)
        arena.refs[id(ref)] = (ref, e, inc)
    except BaseException:
        with arena:
            arena.unpin(e, inc)
        raise
    return frame


def _wait(arena: Arena, oid: ObjectID, timeout: Optional[float], store: str) -> _Hit:
    if timeout is not None:
        if timeout <= 0:
            raise GetTimeoutError(f"object {oid} is not in store {store!r} (timeout=0)")
        deadline: Optional[float] = time.monotonic() + timeout
    else:
        deadline = None
    oidb = oid.binary()
    # The seal counter is read before looking again: a seal between the first look and this read is
    # then found by the second look, and any later one moves the counter.
    seq = arena.seq()
    hit = arena.pin_sealed(oidb)
    if hit is not None:
        return hit
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
        hit = arena.pin_sealed(oidb)
        if hit is not None:
            return hit
