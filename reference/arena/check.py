"""A consistency check of a store's table (a small fsck): :func:`verify`.

Used by the project's tests after every step of a model run and by the stress battery after each fault;
also useful by hand on a live store (``verify(store._arena)``).
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from reference.arena.arena import Arena
from reference.arena.layout import (
    ALIGN,
    CLIENT_DTYPE,
    CREATED,
    FREE,
    H_CHIGH,
    H_IUSED,
    H_USED,
    SEALED,
    TOMB,
    ZOMBIE,
)

__all__ = ["verify"]

#: At most this many examples of one kind of problem are listed.
_EXAMPLES = 5


def verify(arena: Arena) -> List[str]:
    """Every inconsistency of ``arena``'s table and allocator, one sentence each; empty when it is sound.

    Takes the arena's lock (so a repair that is due runs first). Checks that allocated and free blocks tile
    the data region exactly at 64-byte-aligned offsets, the free list is sorted and coalesced, the header's
    byte count is the sum of allocations, the free-record stack holds exactly the free records, no record
    lies beyond the high-water mark, the index holds exactly the live records (each reachable by lookup)
    and keeps a quarter of its slots empty, pins (the ledger) are held only by registered clients below the
    client high-water mark and only on sealed or deleted objects, and no deleted, unpinned object still
    holds its bytes. Reads the whole table: O(max_objects + index size).
    """
    problems: List[str] = []
    with arena:
        lay = arena.lay
        ent = arena.entries
        state = ent["state"]
        live = np.flatnonzero(state != FREE).tolist()
        free = arena.free_blocks()
        for i, (off, n) in enumerate(free):
            if n <= 0:
                problems.append(f"free block {i} at {off} is empty")
        offs = [off for off, _n in free]
        if offs != sorted(offs):
            problems.append(f"the free list is not sorted by offset: {offs[:10]}")
        blocks: List[Tuple[int, int, str]] = [(int(ent["offset"][e]), int(ent["alloc"][e]), f"record {e}")
                                              for e in live]
        blocks += [(off, n, f"free block {i}") for i, (off, n) in enumerate(free)]
        blocks.sort()
        pos = lay.data
        prev_free = False
        for off, n, what in blocks:
            if off != pos:
                problems.append(f"{what} starts at {off}, expected {pos} ({'overlap' if off < pos else 'gap'})")
            if off % ALIGN:
                problems.append(f"{what} starts at {off}, not a multiple of {ALIGN}")
            is_free = what.startswith("free")
            if is_free and prev_free and off == pos:
                problems.append(f"{what} at {off} follows another free block: the allocator did not coalesce")
            prev_free = is_free
            pos = max(pos, off + n)
        if pos != lay.data + lay.data_size:
            problems.append(f"blocks end at {pos}, the data region at {lay.data + lay.data_size}")
        used = arena.get_u64(H_USED)
        allocated = int(ent["alloc"][state != FREE].sum())
        if used != allocated:
            problems.append(f"header says {used} bytes used, records hold {allocated}")
        stack = arena.free_record_list()
        if len(stack) + len(live) != lay.max_objects:
            problems.append(f"{len(stack)} free records + {len(live)} live != {lay.max_objects}")
        if sorted(stack) != np.flatnonzero(state == FREE).tolist():
            problems.append("the free-record stack does not hold exactly the free records")
        high = len(arena.used_entries())
        beyond = [e for e in live if e >= high]
        if beyond:
            problems.append(f"records {beyond[:_EXAMPLES]} lie beyond the high-water mark {high}")
        if arena.get_u32(H_IUSED) * 4 >= 3 * lay.index_size:
            problems.append(f"{arena.get_u32(H_IUSED)} of {lay.index_size} index slots are in use: a quarter "
                            f"must stay empty")
        index = np.frombuffer(arena.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        indexed = sorted((index[(index != 0) & (index != TOMB)].astype(np.int64) - 1).tolist())
        del index
        live_ids = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        if indexed != live_ids:
            problems.append(f"the index holds records {indexed[:10]}, the live ones are {live_ids[:10]}")
        for e in live_ids:
            oid = arena.entry(e).object_id
            found, _slot = arena.lookup(oid)
            if found != e:
                problems.append(f"record {e} ({oid.hex()}) is not reachable through the index")
        chigh = arena.get_u32(H_CHIGH)
        clients = np.frombuffer(arena.mm, dtype=CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        registered = clients["pid"] != 0
        del clients
        late = np.flatnonzero(registered[chigh:]).tolist()
        if late:
            problems.append(f"client slots {[chigh + c for c in late[:_EXAMPLES]]} are registered beyond the "
                            f"client high-water mark {chigh}")
        ledger = arena.ledger[:chigh, :high]
        stray = np.flatnonzero(~registered[:chigh] & ledger.any(axis=1)).tolist()
        if stray:
            problems.append(f"the ledger rows of free client slots {stray[:_EXAMPLES]} hold pins")
        pinned = np.zeros(len(state), dtype=bool)
        pinned[:high] = ledger.any(axis=0)
        del ledger
        wrong = np.flatnonzero(pinned & (state != SEALED) & (state != ZOMBIE)).tolist()
        if wrong:
            problems.append(f"the ledger pins records {wrong[:_EXAMPLES]}, which are free or being created")
        zombies = np.flatnonzero((state == ZOMBIE) & ~pinned).tolist()
        if zombies:
            problems.append(f"records {zombies[:_EXAMPLES]} are deleted, unpinned and still hold their bytes")
    return problems
