"""One process's mapping of a store file: the views of each region, header access, per-process state.

:class:`Mapping` is the base every part of :class:`reference.arena.Arena` builds on (index, allocator,
records, clients and pins, space, repair); it does no table update itself.
"""

from __future__ import annotations

import mmap
import os
import threading
from typing import Any, Dict, List, Tuple

import numpy as np

from reference.arena.layout import (
    ENTRY,
    ENTRY_DTYPE,
    ENTRY_SIZE,
    H_HIGH,
    H_NSTACK,
    H_SEQ,
    H_TICK,
    HUGE_PAGE,
    U32,
    U64,
    Layout,
    Record,
)

__all__ = ["Mapping"]

_U32, _U64, _ENTRY = U32, U64, ENTRY  # plain names: see layout.U32

_new_record = tuple.__new__  # Record(*fields) without NamedTuple's Python-level __new__ (a hot path)


class Mapping:
    """The mapping of one store file in this process, with numpy views of its tables.

    ``mm`` is the writable mapping; ``view`` a memoryview of it for slicing object buffers; ``ro`` a
    read-only uint8 array of it for handing readers frames; ``entries``, ``free_off``, ``free_len`` and
    ``ledger`` are views of those regions.
    """

    entries: np.ndarray[Any, Any]
    free_off: np.ndarray[Any, Any]
    free_len: np.ndarray[Any, Any]
    ledger: np.ndarray[Any, Any]
    ro: np.ndarray[Any, Any]

    def __init__(self, path: str, fd: int, mm: mmap.mmap, layout: Layout) -> None:
        self.path = path
        self.fd = fd
        self.mm = mm
        self.lay = layout
        self.index_mask = layout.index_size - 1
        self._map_views()
        if hasattr(mmap, "MADV_HUGEPAGE") and layout.data_size >= HUGE_PAGE:
            try:  # best effort: honoured only when /sys/kernel/mm/transparent_hugepage/shmem_enabled allows
                mm.madvise(mmap.MADV_HUGEPAGE, layout.data, layout.total - layout.data)
            except (OSError, ValueError):
                pass
        self._reset_process_state()
        self.handles = 0
        self.closed = False

    def _map_views(self) -> None:
        lay = self.lay
        mm = self.mm
        self.view = memoryview(mm)  # writable, for slicing object buffers
        self.ro = np.frombuffer(mm, dtype=np.uint8)
        self.ro.flags.writeable = False  # sliced to give readers read-only frames
        self.entries = np.frombuffer(mm, dtype=ENTRY_DTYPE, count=lay.max_objects, offset=lay.entries)
        self.free_off = np.frombuffer(mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_off)
        self.free_len = np.frombuffer(mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_len)
        self.ledger = np.frombuffer(mm, dtype="<u4", count=lay.max_clients * lay.max_objects,
                                    offset=lay.ledger).reshape(lay.max_clients, lay.max_objects)

    def _reset_process_state(self) -> None:
        """Per-process state: a fresh lock, no client slot yet, no pins (also run in a forked child)."""
        self.pid = os.getpid()
        self.rlock = threading.RLock()
        self.depth = 0
        self.owner = 0
        self.client = -1
        self.pending: List[Tuple[int, int]] = []
        self.local_pins = 0
        self.refs: Dict[int, Any] = {}
        self.creating: Dict[bytes, Tuple[int, int, memoryview]] = {}
        self.page_map: Any = None  # reference.copying.PageMap of this mapping, made by the first large put

    def after_fork(self) -> None:
        """In a forked child: the file description and its flock are shared with the parent; reopen."""
        fd = self.fd
        self._reset_process_state()
        try:
            self.fd = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
        except OSError:
            self.fd = os.dup(fd)  # no /proc: share the description (then threads of parent/child race)
        else:
            os.close(fd)

    def close(self) -> None:
        """Unmap and close. Raises ``BufferError`` (and stays open) while views of the mapping exist."""
        if self.closed:
            return
        views = (self.entries, self.free_off, self.free_len, self.ledger, self.ro)
        del self.entries, self.free_off, self.free_len, self.ledger, self.ro
        self.view.release()
        del views
        try:
            self.mm.close()
        except BufferError:
            self._map_views()
            raise
        os.close(self.fd)
        self.closed = True

    # -- header and records -------------------------------------------------------------------------------
    def get_u32(self, off: int) -> int:
        v: int = _U32.unpack_from(self.mm, off)[0]
        return v

    def set_u32(self, off: int, v: int) -> None:
        _U32.pack_into(self.mm, off, v)

    def get_u64(self, off: int) -> int:
        v: int = _U64.unpack_from(self.mm, off)[0]
        return v

    def set_u64(self, off: int, v: int) -> None:
        _U64.pack_into(self.mm, off, v)

    def seq(self) -> int:
        """The seal counter; read without the lock (an aligned 8-byte load) by waiting gets."""
        v: int = _U64.unpack_from(self.mm, H_SEQ)[0]
        return v

    def tick(self) -> int:
        """Advance the LRU clock; returns its new value."""
        t = self.get_u64(H_TICK) + 1
        self.set_u64(H_TICK, t)
        return t

    def entry(self, e: int) -> Record:
        """Record ``e`` of the object table."""
        rec: Record = _new_record(Record, _ENTRY.unpack_from(self.mm, self.lay.entries + e * ENTRY_SIZE))
        return rec

    def used_entries(self) -> np.ndarray[Any, Any]:
        """The table up to the highest record ever used: what every scan needs to look at.

        Freed records go back on top of the stack and are reused first, so this stays as short as the
        most objects ever held at once.
        """
        return self.entries[:_U32.unpack_from(self.mm, H_HIGH)[0]]

    def free_records(self) -> int:
        """How many records are free."""
        return self.get_u32(H_NSTACK)
