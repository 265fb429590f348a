"""Eviction: which objects make room for a put that does not fit, and taking them out.

The policy is least recently used, over sealed objects that no process pins. Plasma's eviction policy
has four verbs; here is where each happens:

    object created      :meth:`reference.arena.records.Records.seal` stamps the record's LRU tick
    object used         a pin (:meth:`reference.arena.pins.Pins.pin`, and the fused get path of
                        :meth:`reference.arena.lock.Locking.pin_sealed`) stamps it again and excludes the
                        object from eviction while the pin lasts
    object released     dropping the last pin makes it evictable again; the policy keeps nothing else
    choose to evict     :meth:`Eviction.eviction_order`: the evictable records, least recently used first

The stamps are written inline by those hot paths (a put or get pays no call for the policy); this module
reads them. :meth:`Eviction.evict_for` is the one entry point: it is called, under the lock, when an
allocation fails after the dead's pins and objects were reclaimed.

Eviction It evicts least recently used objects first, at least a tenth of
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

from typing import Any, Tuple

import numpy as np

from reference.arena.layout import CREATED, FREE, H_EVICT, H_NLIVE, H_USED, SEALED
from reference.arena.pins import Pins

__all__ = ["Eviction"]

#: A batch of fewer objects than this is evicted one at a time.
BULK_MIN = 64


class Eviction(Pins):
    """Making room by evicting (call inside ``with arena:``)."""

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

    def eviction_order(self) -> Tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The policy: every sealed, unpinned record, least recently used (sealed or pinned) first, and the
        bytes each holds (its allocation)."""
        ent = self.used_entries()
        cand = np.flatnonzero((ent["state"] == SEALED) & ~self.pinned_mask(len(ent)))
        order = np.argsort(ent["lru"][cand], kind="stable")
        return cand[order], ent["alloc"][cand][order]

    def evict_for(self, n: int) -> int:
        """Evict in :meth:`eviction_order` until ``n`` bytes and a record are free, and at least a tenth of
        the capacity has been evicted; returns the offset of ``n`` bytes allocated, or -1.

        Evicts nothing (and returns -1) when even evicting everything evictable could not make room.
        """
        victims, sizes = self.eviction_order()
        evictable = int(sizes.sum())
        if self.lay.data_size - self.get_u64(H_USED) + evictable < n or self.largest_gap_without_evictable() < n:
            return -1
        batch = min(self.lay.data_size // 10, evictable)
        evicted = 0
        off = -1
        k = min(len(victims), int(np.searchsorted(np.cumsum(sizes), batch)) + 1)  # the batch, LRU first
        if k >= BULK_MIN and 2 * k >= self.get_u32(H_NLIVE):
            self.evict_bulk(victims[:k])
            evicted = int(sizes[:k].sum())
            victims, sizes = victims[k:], sizes[k:]
            if self.free_records() > 0:
                off = self.alloc(n)
        for e, size in zip(victims.tolist(), sizes.tolist()):
            if off >= 0 and evicted >= batch:
                break
            found, slot = self.lookup(self.entry(e).object_id)
            if found != e:
                continue
            evicted += size
            self.remove(e, slot, evicted=True)
            if off < 0 and self.free_records() > 0:
                off = self.alloc(n)
        return off

    def evict_bulk(self, records: np.ndarray[Any, Any]) -> None:
        """Evict the sealed, unpinned ``records`` at once: free them, then rebuild the free list, the free
        stack and the index from the records that stay (see the module docstring)."""
        state = self.used_entries()["state"]
        state[records] = FREE
        live = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        self.set_u64(H_EVICT, self.get_u64(H_EVICT) + len(records))
        self.rebuild_derived(state, [(e, self.entry(e).object_id) for e in live])
