"""The object table's life cycle: take a record, seal it, remove it, free it.

Records move through FREE -> CREATED -> SEALED -> FREE (deleted or evicted), or SEALED -> ZOMBIE -> FREE
when the object is removed while a reader still pins it: a zombie is out of the index (invisible, its id
reusable) but keeps its bytes until the last pin goes. Free records wait on a stack; the header's
high-water mark bounds every scan of the table.

A record's pins are the ledger's column for it: one count per client, each written only by its own
process (so a reader drops its pin without the store's lock, :meth:`reference.arena.pins.Pins.drop_pin`).
Whether a record is pinned is read from the rows of the clients registered so far (``H_CHIGH``).
"""

from __future__ import annotations

import struct
import time
from typing import Any, List, Tuple

import numpy as np

from reference.arena.allocator import Allocator
from reference.arena.index import Index
from reference.arena.layout import (
    CREATED,
    E_ALLOC,
    E_INC,
    E_LRU,
    E_OFF,
    ENTRY,
    ENTRY_SIZE,
    FREE,
    H_CHIGH,
    H_EVICT,
    H_HIGH,
    H_NLIVE,
    H_NSTACK,
    H_SEQ,
    H_TICK,
    H_USED,
    SEALED,
    U32,
    U64,
    ZOMBIE,
)

__all__ = ["Records"]

_U32, _U64, _ENTRY = U32, U64, ENTRY  # plain names: see layout.U32
_SEQ_TICK = struct.Struct("<QQ")  # H_SEQ and H_TICK, adjacent in the header
assert H_TICK == H_SEQ + 8


class Records(Index, Allocator):
    """Record updates that keep the index, the free-record stack, the allocator and the byte count in step
    (call inside ``with arena:``)."""

    def new_record(self, oid: bytes, slot: int, offset: int, size: int, alloc: int) -> Tuple[int, int]:
        """Take a free record for a CREATED object of this process and index it; (record, incarnation).

        ``slot`` comes from a :meth:`lookup` that missed. Returns (-1, 0) when no record is free.
        """
        mm = self.mm
        n: int = _U32.unpack_from(mm, H_NSTACK)[0]
        if n == 0:
            return -1, 0
        e: int = _U32.unpack_from(mm, self.lay.stack + 4 * (n - 1))[0]
        _U32.pack_into(mm, H_NSTACK, n - 1)
        if e >= _U32.unpack_from(mm, H_HIGH)[0]:
            _U32.pack_into(mm, H_HIGH, e + 1)
        inc: int = _U64.unpack_from(mm, H_TICK)[0] + 1
        _U64.pack_into(mm, H_TICK, inc)
        _ENTRY.pack_into(mm, self.lay.entries + e * ENTRY_SIZE, CREATED, self.pid, oid, offset,
                        size, alloc, time.time(), inc, inc)
        self.index_insert(slot, e)
        _U64.pack_into(mm, H_USED, _U64.unpack_from(mm, H_USED)[0] + alloc)
        return e, inc

    def seal(self, e: int, inc: int) -> bool:
        """Make record ``e`` SEALED (visible) and wake waiting gets, if it still is incarnation ``inc`` being
        created; False (and nothing done) if it is not (its creator was taken for dead and it was reclaimed).
        """
        mm = self.mm
        base = self.lay.entries + e * ENTRY_SIZE
        if mm[base] != CREATED or _U64.unpack_from(mm, base + E_INC)[0] != inc:
            return False
        seq, tick = _SEQ_TICK.unpack_from(mm, H_SEQ)  # the seal counter and the LRU clock, adjacent
        mm[base] = SEALED
        _U64.pack_into(mm, base + E_LRU, tick + 1)
        _SEQ_TICK.pack_into(mm, H_SEQ, seq + 1, tick + 1)
        return True

    def pinned(self, e: int) -> bool:
        """Whether any process pins record ``e``."""
        mm = self.mm
        off = self.lay.ledger + 4 * e
        row = 4 * self.lay.max_objects
        for c in range(_U32.unpack_from(mm, H_CHIGH)[0]):
            if _U32.unpack_from(mm, off + c * row)[0]:
                return True
        return False

    def pinned_mask(self, n: int) -> np.ndarray[Any, Any]:
        """Whether each of records ``0 .. n-1`` is pinned by any process, as a boolean array."""
        rows = self.ledger[:_U32.unpack_from(self.mm, H_CHIGH)[0], :n]
        mask: np.ndarray[Any, Any] = np.any(rows, axis=0)
        return mask

    def remove(self, e: int, slot: int, *, evicted: bool = False) -> None:
        """Take record ``e`` (at index ``slot``) out of the index; free it now, or when unpinned."""
        self.index_remove(slot)
        if evicted:
            self.set_u64(H_EVICT, self.get_u64(H_EVICT) + 1)
        if self.pinned(e):
            self.mm[self.lay.entries + e * ENTRY_SIZE] = ZOMBIE
        else:
            self.free_entry(e)

    def free_entry(self, e: int) -> None:
        """Return record ``e`` and its bytes (it must be out of the index already)."""
        mm = self.mm
        base = self.lay.entries + e * ENTRY_SIZE
        off: int = _U64.unpack_from(mm, base + E_OFF)[0]
        alloc: int = _U64.unpack_from(mm, base + E_ALLOC)[0]
        mm[base] = FREE
        self.free(off, alloc)
        _U64.pack_into(mm, H_USED, _U64.unpack_from(mm, H_USED)[0] - alloc)
        n: int = _U32.unpack_from(mm, H_NSTACK)[0]
        _U32.pack_into(mm, self.lay.stack + 4 * n, e)
        _U32.pack_into(mm, H_NSTACK, n + 1)

    def rebuild_derived(self, state: np.ndarray[Any, Any], live: List[Tuple[int, bytes]]) -> None:
        """Recompute the free list, the byte count, the free-record stack and the index from the records'
        states (``state``: the table up to the high-water mark) and ``live``, the (record, id) of every
        live (unsealed or sealed) record. What a repair and a bulk eviction end with."""
        lay = self.lay
        n = len(state)
        ent = self.entries[:n]
        used = np.flatnonzero(state != FREE)
        offs = ent["offset"][used].astype(np.int64)
        lens = ent["alloc"][used].astype(np.int64)
        order = np.argsort(offs, kind="stable")
        offs, lens = offs[order], lens[order]
        starts = np.concatenate(([lay.data], offs + lens))
        ends = np.concatenate((offs, [lay.data + lay.data_size]))
        gaps = np.flatnonzero(ends > starts)
        self.set_free_blocks(starts[gaps], (ends - starts)[gaps])
        _U64.pack_into(self.mm, H_USED, int(lens.sum()))
        # The stack is popped from the end: never-used records below, then the free ones, lowest on top.
        free_records = np.concatenate((np.arange(lay.max_objects - 1, n - 1, -1),
                                       np.flatnonzero(state == FREE)[::-1])).astype(np.uint32)
        self.set_free_records(free_records)
        self.rebuild_index(live)
        _U32.pack_into(self.mm, H_NLIVE, len(live))

    def free_record_list(self) -> List[int]:
        """The free-record stack, bottom first."""
        stack = np.frombuffer(self.mm, dtype="<u4", count=self.get_u32(H_NSTACK), offset=self.lay.stack)
        out: List[int] = stack.tolist()
        del stack
        return out

    def set_free_records(self, records: np.ndarray[Any, Any]) -> None:
        """Replace the free-record stack with ``records`` (the last one is taken first), as a repair does."""
        stack = np.frombuffer(self.mm, dtype="<u4", count=self.lay.max_objects, offset=self.lay.stack)
        stack[:len(records)] = records
        del stack
        self.set_u32(H_NSTACK, len(records))
