"""Making room and accounting for it: LRU eviction of sealed, unpinned objects, and :class:`Usage`.

Eviction runs when an allocation fails. It evicts least recently used objects first, at least a tenth of
the capacity at a time (as Plasma does: one scan of the table then serves many puts), and evicts nothing
when even evicting every evictable object could not make room: pinned, unsealed and deleted-but-pinned
objects stay where they are, so what counts is the largest contiguous gap between them, not the sum of
the bytes that would be free.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np

from reference.arena.layout import CREATED, FREE, H_EVICT, H_NFREE, H_USED, SEALED, ZOMBIE
from reference.arena.pins import Pins

__all__ = ["Space", "Usage"]


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
        stops = np.concatenate((offs, [lay.data + lay.capacity]))
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
        if self.lay.capacity - self.get_u64(H_USED) + evictable < n or self.largest_gap_without_evictable() < n:
            return -1, 0
        batch = min(self.lay.capacity // 10, evictable)
        order = np.argsort(ent["lru"][cand], kind="stable")
        evicted = 0
        off = -1
        for e, size in zip(cand[order].tolist(), sizes[order].tolist()):
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
