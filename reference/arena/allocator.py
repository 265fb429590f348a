"""The allocator of the data region: first fit over a free list sorted by offset, coalescing on free.

The free list is two arrays in the mapping (offsets, lengths) and its length in the header. Offsets and
sizes are multiples of :data:`~reference.arena.layout.ALIGN`.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

from reference.arena.layout import H_NFREE, U32, U64
from reference.arena.mapping import Mapping

__all__ = ["Allocator"]

_U32, _U64 = U32, U64  # plain names: see layout.U32


class Allocator(Mapping):
    """Allocation of data blocks (call inside ``with arena:``)."""

    def alloc(self, n: int) -> int:
        """Offset of ``n`` (a multiple of 64) free bytes, taken from the free list; -1 if no block fits."""
        mm = self.mm
        k: int = _U32.unpack_from(mm, H_NFREE)[0]
        if k == 0:
            return -1
        length: int
        if k <= 16:  # the usual case: a few blocks; plain struct reads beat numpy's per-call cost here
            lens_at = self.lay.free_len
            for i in range(k):
                length = _U64.unpack_from(mm, lens_at + 8 * i)[0]
                if length >= n:
                    break
            else:
                return -1
        else:
            fits = self.free_len[:k] >= n
            i = int(fits.argmax())
            if not fits[i]:
                return -1
            length = int(self.free_len[i])
        off_at = self.lay.free_off + 8 * i
        off: int = _U64.unpack_from(mm, off_at)[0]
        rest = length - n
        if rest:
            _U64.pack_into(mm, off_at, off + n)
            _U64.pack_into(mm, self.lay.free_len + 8 * i, rest)
        else:
            self.free_off[i:k - 1] = self.free_off[i + 1:k]
            self.free_len[i:k - 1] = self.free_len[i + 1:k]
            _U32.pack_into(mm, H_NFREE, k - 1)
        return off

    def free(self, off: int, n: int) -> None:
        """Give the block of ``n`` bytes at ``off`` back, merged with free neighbours."""
        mm = self.mm
        k: int = _U32.unpack_from(mm, H_NFREE)[0]
        fo, fl = self.free_off, self.free_len
        offs_at, lens_at = self.lay.free_off, self.lay.free_len
        if k <= 16:  # the usual case, in plain struct reads and writes (numpy's per-call cost is higher)
            i = 0
            while i < k and _U64.unpack_from(mm, offs_at + 8 * i)[0] < off:
                i += 1
            prev_end = (_U64.unpack_from(mm, offs_at + 8 * i - 8)[0]
                        + _U64.unpack_from(mm, lens_at + 8 * i - 8)[0]) if i else -1
            next_off = _U64.unpack_from(mm, offs_at + 8 * i)[0] if i < k else -1
            if prev_end == off and off + n != next_off:
                _U64.pack_into(mm, lens_at + 8 * i - 8, _U64.unpack_from(mm, lens_at + 8 * i - 8)[0] + n)
                return
            if off + n == next_off and prev_end != off:
                _U64.pack_into(mm, offs_at + 8 * i, off)
                _U64.pack_into(mm, lens_at + 8 * i, _U64.unpack_from(mm, lens_at + 8 * i)[0] + n)
                return
        else:
            i = int(np.searchsorted(fo[:k], off))
        merge_prev = i > 0 and int(fo[i - 1]) + int(fl[i - 1]) == off
        merge_next = i < k and off + n == int(fo[i])
        if merge_prev and merge_next:
            fl[i - 1] += n + int(fl[i])
            fo[i:k - 1] = fo[i + 1:k]
            fl[i:k - 1] = fl[i + 1:k]
            self.set_u32(H_NFREE, k - 1)
        elif merge_prev:
            fl[i - 1] += n
        elif merge_next:
            fo[i] = off
            fl[i] += n
        else:
            fo[i + 1:k + 1] = fo[i:k].copy()
            fl[i + 1:k + 1] = fl[i:k].copy()
            fo[i] = off
            fl[i] = n
            self.set_u32(H_NFREE, k + 1)

    def free_blocks(self) -> List[Tuple[int, int]]:
        """The free list: (offset, length) of each free block, by offset."""
        k = self.get_u32(H_NFREE)
        return list(zip(self.free_off[:k].tolist(), self.free_len[:k].tolist()))

    def largest_free(self) -> int:
        """The length of the largest free block (0 when none)."""
        k = self.get_u32(H_NFREE)
        return int(self.free_len[:k].max()) if k else 0

    def set_free_blocks(self, offsets: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any]) -> None:
        """Replace the free list (sorted, coalesced blocks), as a repair does."""
        k = len(offsets)
        self.free_off[:k] = offsets
        self.free_len[:k] = lengths
        self.set_u32(H_NFREE, k)
