"""Accounting: counts and bytes of a store by state, for ``stats`` and for the store-full message."""

from __future__ import annotations

from typing import NamedTuple

from reference.arena.layout import CREATED, H_EVICT, H_NFREE, H_USED, SEALED, ZOMBIE
from reference.arena.pins import Pins

__all__ = ["Accounting", "Usage"]


class Usage(NamedTuple):
    """Counts and bytes by state, from :meth:`Accounting.usage` (bytes include alignment padding)."""

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


class Accounting(Pins):
    """:meth:`usage` (call inside ``with arena:``)."""

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
