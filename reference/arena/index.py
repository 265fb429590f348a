"""The object index: an open-addressing hash of object ids (crc32, linear probing) -> record + 1.

A slot holds 0 (empty), :data:`~reference.arena.layout.TOMB` (an id was removed here) or a record number
plus one. Slots in use (live and tombstones) stay under 3/4 of the index after every insert and remove
(:meth:`Index.rebuild_index` runs when they reach it), so a lookup of a missing id always meets an empty
slot. (Rebuilding after removes only let inserts that came after them fill the index until such a lookup
probed for ever.)
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterable, Tuple

import numpy as np

from reference.arena.layout import E_ID, ENTRY_SIZE, H_IUSED, H_NLIVE, TOMB, U32
from reference.arena.mapping import Mapping

__all__ = ["Index"]

_U32 = U32  # plain names: see layout.U32
_USED_LIVE = struct.Struct("<II")  # H_IUSED and H_NLIVE, adjacent in the header
assert H_NLIVE == H_IUSED + 4


class Index(Mapping):
    """Lookups and updates of the object index (call inside ``with arena:``)."""

    def lookup(self, oid: bytes) -> Tuple[int, int]:
        """(record, index slot) of ``oid``, or (-1, first reusable slot) if it is not in the index.

        Raises ``RuntimeError`` if every slot holds a live record (a damaged index).
        """
        mm = self.mm
        mask = self.index_mask
        index = self.lay.index
        entries = self.lay.entries
        h = zlib.crc32(oid) & mask
        reuse = -1
        # Open addressing ends at an empty slot, and the index always keeps one; the bound makes a lookup
        # end even in an index damaged past that: every slot probed and no match proves the id absent.
        for _ in range(mask + 1):
            v: int = _U32.unpack_from(mm, index + 4 * h)[0]
            if v == 0:
                return -1, (h if reuse < 0 else reuse)
            if v == TOMB:
                if reuse < 0:
                    reuse = h
            else:
                base = entries + (v - 1) * ENTRY_SIZE + E_ID
                if mm[base:base + 20] == oid:
                    return v - 1, h
            h = (h + 1) & mask
        if reuse < 0:
            raise RuntimeError(f"the store's object index has no free slot (all {mask + 1} hold live "
                               f"records): it is damaged")
        return -1, reuse

    def index_remove(self, slot: int) -> None:
        """Leave a tombstone in ``slot``, or, when the next slot is empty, empty ``slot`` and the tombstones
        right before it: no probe continues past an empty slot, so none needs them. (Without this, put and
        delete churn fills the index with tombstones that every lookup that misses walks through.)"""
        mm = self.mm
        index = self.lay.index
        mask = self.index_mask
        iused, nlive = _USED_LIVE.unpack_from(mm, H_IUSED)
        if _U32.unpack_from(mm, index + 4 * ((slot + 1) & mask))[0] == 0:
            while True:
                _U32.pack_into(mm, index + 4 * slot, 0)
                iused -= 1
                slot = (slot - 1) & mask
                if _U32.unpack_from(mm, index + 4 * slot)[0] != TOMB:
                    break
        else:
            _U32.pack_into(mm, index + 4 * slot, TOMB)
        _USED_LIVE.pack_into(mm, H_IUSED, iused, nlive - 1)
        if iused * 4 >= self.lay.index_size * 3:
            self._maybe_rebuild_index()

    def index_insert(self, slot: int, e: int) -> None:
        """Point ``slot`` (from a :meth:`lookup` that missed) at record ``e``."""
        mm = self.mm
        off = self.lay.index + 4 * slot
        iused, nlive = _USED_LIVE.unpack_from(mm, H_IUSED)
        if _U32.unpack_from(mm, off)[0] == 0:
            iused += 1
        _U32.pack_into(mm, off, e + 1)
        _USED_LIVE.pack_into(mm, H_IUSED, iused, nlive + 1)
        if iused * 4 >= self.lay.index_size * 3:
            self._maybe_rebuild_index()

    def _maybe_rebuild_index(self) -> None:
        if self.get_u32(H_IUSED) * 4 < self.lay.index_size * 3:
            return
        lay = self.lay
        index = np.frombuffer(self.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        live = index[(index != 0) & (index != TOMB)].tolist()
        del index
        ids = []
        for v in live:
            base = lay.entries + (v - 1) * ENTRY_SIZE + E_ID
            ids.append((v - 1, self.mm[base:base + 20]))
        self.rebuild_index(ids)

    def rebuild_index(self, records: Iterable[Tuple[int, bytes]]) -> None:
        """Empty the index and insert each (record, id) of ``records``; no tombstones remain."""
        lay = self.lay
        index = np.frombuffer(self.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        index[:] = 0
        del index
        mask = self.index_mask
        n = 0
        for e, oid in records:
            h = zlib.crc32(oid) & mask
            while self.get_u32(lay.index + 4 * h):
                h = (h + 1) & mask
            self.set_u32(lay.index + 4 * h, e + 1)
            n += 1
        self.set_u32(H_IUSED, n)
