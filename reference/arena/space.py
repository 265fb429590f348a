"""Making room and accounting for it: LRU eviction of sealed, unpinned objects, and :class:`Usage`.

Eviction runs when an allocation fails. It evicts least recently used objects first, at least a tenth of
the capacity at a time (as Plasma does: one scan of the table then serves many puts), and evicts nothing
when even evicting every evictable object could not make room: pinned, unsealed and deleted-but-pinned
objects stay where they are, so what counts is the largest contiguous gap between them, not the sum of
the bytes that would be free.

A batch that takes at least half of the live objects (a store of small objects fills its table long before
its bytes, and then a tenth of the capacity is every object) is evicted in bulk: the records are freed
together and the free list, the stack and the index rebuilt from the survivors, as a repair does, instead
of one index probe and one free-list merge per object (65,536 small objects: 2-3 ms instead of 235 ms).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Tuple

import numpy as np

from reference.arena.layout import CREATED, FREE, H_EVICT, H_NFREE, H_NLIVE, H_USED, SEALED, ZOMBIE
from reference.arena.pins import Pins

__all__ = ["Space", "Usage"]

#: A batch of fewer objects than this is evicted one at a time.
BULK_MIN = 64


class Usage(NamedTuple):
    """Counts and bytes by state, from :meth:`Space.usage` (bytes include alignment padding)."""

    capacity: int
    used: int            # allocated bytes, every state
    sealed: int          # sealed objects
    unsealed: int        # objects being created
    zombies: int         # deleted objects still pinned
    sealed_bytes: int
    unsealed_bytes: int
    pinned: int          # pinned objects (sealed or deleted)
    pinned_bytes: int
    largest_free: int    # the largest free block
    free_blocks: int
    evictions: int       # since the store was created
    free_records: int
    max_objects: int


class Space(Pins):
    """Eviction and usage (call inside ``with arena:``)."""

    def largest_gap_without_evictable(self) -> int:
        """The largest contiguous block that would be free if every sealed, unpinned object were evicted."""
        ent = self.used_entries()
        state = ent["state"]
        fixed = np.flatnonzero((state != FREE) & ~((state == SEALED) & ~self.pinned_mask(len(ent))))
        offs = ent["offset"][fixed].astype(np.int64)
        order = np.argsort(offs, kind="stable")
        offs = offs[order]
        ends = offs + ent["alloc"][fixed][order].astype(np.int64)
        lay = self.lay
        starts = np.concatenate(([lay.data], ends))
        stops = np.concatenate((offs, [lay.data + lay.data_size]))
        return int((stops - starts).max())

    def evict_until(self, n: int, need_record: bool) -> Tuple[int, int]:
        """Evict sealed, unpinned objects, least recently used first, until ``n`` bytes fit (and a record
        is free if ``need_record``), and at least a tenth of the capacity has been evicted. Evicts nothing
        when even evicting everything evictable could not make room. Returns (offset or -1, bytes evicted).
        """
        ent = self.used_entries()
        cand = np.flatnonzero((ent["state"] == SEALED) & ~self.pinned_mask(len(ent)))
        sizes = ent["alloc"][cand]
        evictable = int(sizes.sum())
        if self.lay.data_size - self.get_u64(H_USED) + evictable < n or self.largest_gap_without_evictable() < n:
            return -1, 0
        batch = min(self.lay.data_size // 10, evictable)
        order = np.argsort(ent["lru"][cand], kind="stable")
        victims, sizes = cand[order], sizes[order]
        evicted = 0
        off = -1
        k = min(len(victims), int(np.searchsorted(np.cumsum(sizes), batch)) + 1)  # the batch, LRU first
        if k >= BULK_MIN and 2 * k >= self.get_u32(H_NLIVE):
            self.evict_bulk(victims[:k])
            evicted = int(sizes[:k].sum())
            victims, sizes = victims[k:], sizes[k:]
            if not need_record or self.free_records() > 0:
                off = self.alloc(n)
        for e, size in zip(victims.tolist(), sizes.tolist()):
            if off >= 0 and evicted >= batch:
                break
            found, slot = self.lookup(self.entry(e).object_id)
            if found != e:
                continue
            evicted += size
            self.remove(e, slot, evicted=True)
            if off < 0 and (not need_record or self.free_records() > 0):
                off = self.alloc(n)
        return off, evicted

    def evict_bulk(self, records: np.ndarray[Any, Any]) -> None:
        """Evict the sealed, unpinned ``records`` at once: free them, then rebuild the free list, the free
        stack and the index from the records that stay (see the module docstring)."""
        state = self.used_entries()["state"]
        state[records] = FREE
        live = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        self.set_u64(H_EVICT, self.get_u64(H_EVICT) + len(records))
        self.rebuild_derived(state, [(e, self.entry(e).object_id) for e in live])

    def usage(self) -> Usage:
        """Counts and bytes by state, for statistics and for the store-full message."""
        ent = self.used_entries()
        state = ent["state"]
        alloc = ent["alloc"]
        pinned = (state == ZOMBIE) | ((state == SEALED) & self.pinned_mask(len(ent)))
        k = self.get_u32(H_NFREE)
        return Usage(
            capacity=self.lay.capacity,
            used=self.get_u64(H_USED),
            sealed=int((state == SEALED).sum()),
            unsealed=int((state == CREATED).sum()),
            zombies=int((state == ZOMBIE).sum()),
            sealed_bytes=int(alloc[state == SEALED].sum()),
            unsealed_bytes=int(alloc[state == CREATED].sum()),
            pinned=int(pinned.sum()),
            pinned_bytes=int(alloc[pinned].sum()),
            largest_free=int(self.free_len[:k].max()) if k else 0,
            free_blocks=k,
            evictions=self.get_u64(H_EVICT),
            free_records=self.free_records(),
            max_objects=self.lay.max_objects,
        )
