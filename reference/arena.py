"""The shared-memory arena behind :class:`reference.store.ObjectStore`: layout, object table, allocator, pins.

One file per store in ``/dev/shm``, mapped once per process. Everything a store knows lives in that one
mapping, so any process that maps it sees the same store and no server is involved::

    region        size               contents
    header        4 KiB              magic, geometry, the seal counter, LRU clock, statistics
    clients       C * 16             pid of each attached process (its "client slot")
    entries       E * 96             the object table: one record per object (state, id, offset, size, ...)
    entry stack   E * 4              indices of free records
    index         I * 4              open-addressing hash (crc32 of the id, linear probing): id -> record + 1
    free list     2 * (E + 2) * 8    free blocks of the data region, sorted by offset (offsets, lengths)
    ledger        C * E * 4          pins per (client, record), so a dead process's pins can be given back
    data          capacity           object frames, each at a 64-byte-aligned offset

Every update of the metadata happens under :meth:`Arena.__enter__`: a ``threading.RLock`` for the threads of
this process plus ``flock`` on the file for other processes. Object data is never copied under the lock.
The kernel drops a dead process's ``flock``. A process killed *while holding* it may have left an update
half done: the holder's pid stays in the header's "dirty" field, and the next holder rebuilds every
derived structure from the object records (:meth:`Arena.repair`).

Records move through FREE -> CREATED -> SEALED -> (deleted/evicted) FREE, or SEALED -> ZOMBIE -> FREE when
the object is deleted while a reader still pins it (pinned objects are never evicted): a zombie is out of
the index (invisible, its id reusable) but keeps its bytes until the last pin goes. Creators and pinning
clients are recorded by pid; :meth:`Arena.reclaim_dead` frees unsealed objects of dead creators and drops
pins of dead clients (checked with ``os.kill(pid, 0)`` and ``/proc/<pid>/stat``; a live process that
started after the pin or the object was recorded is a reused pid, so counts as dead).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
import time
import zlib
from typing import Dict, List, Optional, Tuple

import numpy as np

__all__ = ["Arena", "CREATED", "FREE", "SEALED", "ZOMBIE", "pid_alive"]

MAGIC = b"OSSTORE1"
VERSION = 1
PAGE = 4096
HUGE_PAGE = 2 << 20
ALIGN = 64
HEADER_SIZE = PAGE

FREE, CREATED, SEALED, ZOMBIE = 0, 1, 2, 3

# Header fields (offsets into the mapping).
_H_MAGIC = 0          # 8s
_H_GEOM = 8           # <IIIIQQ: version, max_objects, index_size, max_clients, capacity, data_offset
_GEOM = struct.Struct("<IIIIQQ")
_H_SEQ = 40           # Q: bumped at every seal; waiting gets poll it
_H_TICK = 48          # Q: LRU clock
_H_NFREE = 56         # I: length of the free list
_H_NSTACK = 60        # I: free records on the entry stack
_H_IUSED = 64         # I: index slots in use (live + tombstones)
_H_NLIVE = 68         # I: ids in the index
_H_EVICT = 72         # Q: evictions so far
_H_USED = 80          # Q: allocated bytes (all states)
_H_CTIME = 88         # d: creation time
_H_HIGH = 96          # I: 1 + the highest record index ever used (scans stop there)
_H_DIRTY = 100        # I: pid of the process inside a table update; left set if it died there
_H_REPAIRS = 104      # I: how many times a table was repaired after such a death

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")

# An entry: state, pid, id, offset, size, alloc, created, lru, incarnation, pins.
_ENTRY = struct.Struct("<B3xI20s4xQQQdQQI12x")
ENTRY_SIZE = _ENTRY.size  # 96
_E_STATE, _E_PID, _E_ID, _E_OFF, _E_SIZE, _E_ALLOC, _E_CTIME, _E_LRU, _E_INC, _E_PINS = (
    0, 4, 8, 32, 40, 48, 56, 64, 72, 80)
_ENTRY_DTYPE = np.dtype({
    "names": ["state", "pid", "offset", "size", "alloc", "created", "lru", "inc", "pins"],
    "formats": ["u1", "<u4", "<u8", "<u8", "<u8", "<f8", "<u8", "<u8", "<u4"],
    "offsets": [_E_STATE, _E_PID, _E_OFF, _E_SIZE, _E_ALLOC, _E_CTIME, _E_LRU, _E_INC, _E_PINS],
    "itemsize": ENTRY_SIZE,
})
_CLIENT_SIZE = 16  # pid u32, 4 bytes padding, time.time() of registration f64
_CLIENT_DTYPE = np.dtype({"names": ["pid", "since"], "formats": ["<u4", "<f8"], "offsets": [0, 8],
                          "itemsize": _CLIENT_SIZE})
_TOMB = 0xFFFFFFFF


def _round_up(n: int, k: int) -> int:
    return (n + k - 1) // k * k


_boot_time: Optional[float] = None


def _process_start(stat: bytes) -> Optional[float]:
    """The start time (seconds since the epoch) recorded in a ``/proc/<pid>/stat`` line."""
    global _boot_time
    try:
        if _boot_time is None:
            with open("/proc/stat", "rb") as f:
                for line in f:
                    if line.startswith(b"btime "):
                        _boot_time = float(line.split()[1])
                        break
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        return (_boot_time or 0.0) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, since: Optional[float] = None) -> bool:
    """Whether ``pid`` is a live (not zombie) process on this machine.

    With ``since`` (a ``time.time()`` at which the process we mean was known to run), a live process that
    started after it is another process that reuses the pid: reported dead.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] in (b"Z", b"X"):
            return False
    except (OSError, ValueError):
        return True
    if since is not None:
        started = _process_start(stat)
        if started is not None and started > since + 1.0:  # clock-tick and btime rounding slack
            return False
    return True


class Layout:
    """Offsets of every region, computed from the geometry alone (so attachers agree with the creator)."""

    def __init__(self, capacity: int, max_objects: int, max_clients: int) -> None:
        self.capacity = capacity
        self.max_objects = e = max_objects
        self.max_clients = c = max_clients
        self.index_size = i = 1 << max(4, (2 * e - 1).bit_length())
        self.nfree_max = e + 2
        pos = HEADER_SIZE
        self.clients = pos
        pos += c * _CLIENT_SIZE
        self.entries = pos = _round_up(pos, ALIGN)
        pos += e * ENTRY_SIZE
        self.stack = pos = _round_up(pos, ALIGN)
        pos += e * 4
        self.index = pos = _round_up(pos, ALIGN)
        pos += i * 4
        self.free_off = pos = _round_up(pos, ALIGN)
        pos += self.nfree_max * 8
        self.free_len = pos = _round_up(pos, ALIGN)
        pos += self.nfree_max * 8
        self.ledger = pos = _round_up(pos, PAGE)
        pos += c * e * 4
        # 2 MiB-aligned data lets the kernel back it with huge pages where tmpfs allows them.
        self.data = pos = _round_up(pos, HUGE_PAGE if capacity >= HUGE_PAGE else PAGE)
        self.total = pos + capacity


class Arena:
    """One process's mapping of a store file, and every table operation on it.

    Table methods (``lookup``, ``alloc``, ``pin``, ...) must be called inside ``with arena:``. One Arena
    exists per (process, file); every handle of that store in the process shares it, so one lock serves all.
    """

    def __init__(self, path: str, fd: int, mm: mmap.mmap, layout: Layout) -> None:
        self.path = path
        self.fd = fd
        self.mm = mm
        self.lay = layout
        self.view = memoryview(mm)  # writable, for slicing object buffers
        self.ro = np.frombuffer(mm, dtype=np.uint8)
        self.ro.flags.writeable = False  # sliced to give readers read-only frames
        lay = layout
        self.entries = np.frombuffer(mm, dtype=_ENTRY_DTYPE, count=lay.max_objects, offset=lay.entries)
        self.free_off = np.frombuffer(mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_off)
        self.free_len = np.frombuffer(mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_len)
        self.ledger = np.frombuffer(mm, dtype="<u4", count=lay.max_clients * lay.max_objects,
                                    offset=lay.ledger).reshape(lay.max_clients, lay.max_objects)
        self.index_mask = lay.index_size - 1
        if hasattr(mmap, "MADV_HUGEPAGE") and lay.capacity >= HUGE_PAGE:
            try:  # best effort: honoured only when /sys/kernel/mm/transparent_hugepage/shmem_enabled allows
                mm.madvise(mmap.MADV_HUGEPAGE, lay.data, lay.total - lay.data)
            except (OSError, ValueError):
                pass
        self._reset_process_state()
        self.handles = 0
        self.closed = False

    def _reset_process_state(self) -> None:
        """Per-process state: a fresh lock, no client slot yet, no pins (also run in a forked child)."""
        self.pid = os.getpid()
        self.rlock = threading.RLock()
        self.depth = 0
        self.owner = 0
        self.client = -1
        self.pending: List[Tuple[int, int]] = []
        self.local_pins = 0
        self.refs: Dict[int, object] = {}
        self.creating: Dict[bytes, Tuple[int, int, memoryview]] = {}

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

    # -- lock -------------------------------------------------------------------------------------------
    def __enter__(self) -> "Arena":
        self.rlock.acquire()
        if self.depth == 0:
            # Owner first: a weakref callback fired in this thread from here on defers its unpin.
            self.owner = threading.get_ident()
            self.depth = 1
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            except BaseException:
                self.depth = 0
                self.owner = 0
                self.rlock.release()
                raise
            if _U32.unpack_from(self.mm, _H_DIRTY)[0]:
                self.repair()  # the last holder died (or was interrupted) halfway through an update
            _U32.pack_into(self.mm, _H_DIRTY, self.pid)
        else:
            self.depth += 1
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.depth == 1:
            try:
                while self.pending:
                    e, inc = self.pending.pop()
                    self.unpin(e, inc)
                if exc_type is None or issubclass(exc_type, Exception):  # type: ignore[arg-type]
                    # Errors we raise leave the table consistent; KeyboardInterrupt and the like may
                    # not, so they leave the mark and the next holder repairs.
                    _U32.pack_into(self.mm, _H_DIRTY, 0)
            finally:
                self.depth = 0
                self.owner = 0
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                self.rlock.release()
        else:
            self.depth -= 1
            self.rlock.release()

    def repair(self) -> None:
        """Rebuild every derived structure from the records, after a holder died mid-update.

        The records (state, id, offset, size, ...) are the truth; the pin counts come from the ledger, and
        the free-record stack, the free list, the byte count and the index are recomputed from them. An
        update that was cut short is thereby either undone (space not yet recorded is free again) or
        completed (an object whose record was taken out is gone). Unsealed objects of the dead process are
        then reclaimed as usual.
        """
        lay = self.lay
        # Records past the high-water mark were never written (it is raised before a record is), so
        # neither they nor their ledger columns need reading (reading would fault in untouched pages).
        n = _U32.unpack_from(self.mm, _H_HIGH)[0]
        ent = self.entries[:n]
        clients = np.frombuffer(self.mm, dtype=_CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        rows = np.flatnonzero(clients["pid"])
        del clients
        ent["pins"] = self.ledger[rows, :n].sum(axis=0, dtype=np.uint64).astype(np.uint32)
        state = ent["state"]
        state[(state == ZOMBIE) & (ent["pins"] == 0)] = FREE
        state[state > ZOMBIE] = FREE
        # One live record per id: keep the newest of any duplicates.
        live = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        live.sort(key=lambda e: -int(ent["inc"][e]))
        seen = set()
        keep = []
        for e in live:
            oid = self.entry(e)[2]
            if oid in seen:
                state[e] = FREE
            else:
                seen.add(oid)
                keep.append((e, oid))
        used = np.flatnonzero(state != FREE)
        offs = ent["offset"][used].astype(np.int64)
        lens = ent["alloc"][used].astype(np.int64)
        order = np.argsort(offs, kind="stable")
        offs, lens = offs[order], lens[order]
        starts = np.concatenate(([lay.data], offs + lens))
        ends = np.concatenate((offs, [lay.data + lay.capacity]))
        gaps = np.flatnonzero(ends > starts)
        k = len(gaps)
        self.free_off[:k] = starts[gaps]
        self.free_len[:k] = (ends - starts)[gaps]
        _U32.pack_into(self.mm, _H_NFREE, k)
        _U64.pack_into(self.mm, _H_USED, int(lens.sum()))
        # The stack is popped from the end: never-used records below, then the free ones, lowest on top.
        free_records = np.concatenate((np.arange(lay.max_objects - 1, n - 1, -1),
                                       np.flatnonzero(state == FREE)[::-1])).astype(np.uint32)
        stack = np.frombuffer(self.mm, dtype="<u4", count=lay.max_objects, offset=lay.stack)
        stack[:len(free_records)] = free_records
        del stack
        _U32.pack_into(self.mm, _H_NSTACK, len(free_records))
        index = np.frombuffer(self.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        index[:] = 0
        del index
        mask = self.index_mask
        for e, oid in keep:
            h = zlib.crc32(oid) & mask
            while self.get_u32(lay.index + 4 * h):
                h = (h + 1) & mask
            self.set_u32(lay.index + 4 * h, e + 1)
        _U32.pack_into(self.mm, _H_IUSED, len(keep))
        _U32.pack_into(self.mm, _H_NLIVE, len(keep))
        _U32.pack_into(self.mm, _H_REPAIRS, _U32.unpack_from(self.mm, _H_REPAIRS)[0] + 1)

    # -- header -----------------------------------------------------------------------------------------
    def get_u32(self, off: int) -> int:
        return _U32.unpack_from(self.mm, off)[0]

    def set_u32(self, off: int, v: int) -> None:
        _U32.pack_into(self.mm, off, v)

    def get_u64(self, off: int) -> int:
        return _U64.unpack_from(self.mm, off)[0]

    def set_u64(self, off: int, v: int) -> None:
        _U64.pack_into(self.mm, off, v)

    def seq(self) -> int:
        """The seal counter; read without the lock (an aligned 8-byte load) by waiting gets."""
        return _U64.unpack_from(self.mm, _H_SEQ)[0]

    def tick(self) -> int:
        t = self.get_u64(_H_TICK) + 1
        self.set_u64(_H_TICK, t)
        return t

    # -- creation ---------------------------------------------------------------------------------------
    @staticmethod
    def initialize(mm: mmap.mmap, lay: Layout) -> None:
        """Write an empty store into a zeroed mapping; the magic goes last (attachers wait for it)."""
        _GEOM.pack_into(mm, _H_GEOM, VERSION, lay.max_objects, lay.index_size, lay.max_clients,
                        lay.capacity, lay.data)
        _F64.pack_into(mm, _H_CTIME, time.time())
        stack = np.frombuffer(mm, dtype="<u4", count=lay.max_objects, offset=lay.stack)
        stack[:] = np.arange(lay.max_objects - 1, -1, -1, dtype=np.uint32)
        del stack
        _U32.pack_into(mm, _H_NSTACK, lay.max_objects)
        _U64.pack_into(mm, lay.free_off, lay.data)
        _U64.pack_into(mm, lay.free_len, lay.capacity)
        _U32.pack_into(mm, _H_NFREE, 1 if lay.capacity else 0)
        mm[_H_MAGIC:_H_MAGIC + 8] = MAGIC

    @staticmethod
    def read_layout(mm: mmap.mmap) -> Optional[Layout]:
        """The layout recorded in a mapped store file, or None if it is not (yet) a store."""
        if len(mm) < HEADER_SIZE or mm[_H_MAGIC:_H_MAGIC + 8] != MAGIC:
            return None
        version, e, _i, c, capacity, data = _GEOM.unpack_from(mm, _H_GEOM)
        if version != VERSION:
            return None
        lay = Layout(capacity, e, c)
        if lay.data != data or lay.total > len(mm):
            return None
        return lay

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
            self._remap_views()
            raise
        os.close(self.fd)
        self.closed = True

    def _remap_views(self) -> None:
        lay = self.lay
        self.view = memoryview(self.mm)
        self.ro = np.frombuffer(self.mm, dtype=np.uint8)
        self.ro.flags.writeable = False
        self.entries = np.frombuffer(self.mm, dtype=_ENTRY_DTYPE, count=lay.max_objects, offset=lay.entries)
        self.free_off = np.frombuffer(self.mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_off)
        self.free_len = np.frombuffer(self.mm, dtype="<u8", count=lay.nfree_max, offset=lay.free_len)
        self.ledger = np.frombuffer(self.mm, dtype="<u4", count=lay.max_clients * lay.max_objects,
                                    offset=lay.ledger).reshape(lay.max_clients, lay.max_objects)

    # -- clients ----------------------------------------------------------------------------------------
    def ensure_client(self) -> int:
        """This process's client slot (registered on first use). Raises ``RuntimeError`` if all are taken."""
        if self.client >= 0:
            return self.client
        lay = self.lay
        me = os.getpid()
        for attempt in range(2):
            for c in range(lay.max_clients):
                off = lay.clients + c * _CLIENT_SIZE
                if self.get_u32(off) == 0:
                    self.set_u32(off, me)
                    _F64.pack_into(self.mm, off + 8, time.time())
                    self.client = c
                    return c
            self.reclaim_dead()
        raise RuntimeError(
            f"all {lay.max_clients} client slots of the store are held by live processes; create the store "
            f"with a larger max_clients"
        )

    def release_client(self) -> None:
        """Give this process's client slot back (its pins must all be released)."""
        if self.client >= 0 and self.pid == os.getpid():
            self._drop_client(self.client)
            self.client = -1

    def _drop_client(self, c: int) -> None:
        row = self.ledger[c]
        held = np.flatnonzero(row)
        for e in held.tolist():
            n = int(row[e])
            row[e] = 0
            base = self.lay.entries + e * ENTRY_SIZE
            pins = self.get_u32(base + _E_PINS)
            pins = pins - n if pins >= n else 0
            self.set_u32(base + _E_PINS, pins)
            if pins == 0 and self.mm[base] == ZOMBIE:
                self._free_entry(e)
        self.set_u32(self.lay.clients + c * _CLIENT_SIZE, 0)

    # -- entries ----------------------------------------------------------------------------------------
    def entry(self, e: int) -> tuple:
        """(state, pid, id, offset, size, alloc, created, lru, incarnation, pins) of record ``e``."""
        return _ENTRY.unpack_from(self.mm, self.lay.entries + e * ENTRY_SIZE)

    def lookup(self, oid: bytes) -> Tuple[int, int]:
        """(record, index slot) of ``oid``, or (-1, first reusable slot) if it is not in the index."""
        mm = self.mm
        mask = self.index_mask
        index = self.lay.index
        entries = self.lay.entries
        h = zlib.crc32(oid) & mask
        reuse = -1
        # Open addressing ends at an empty slot, and the index always keeps one (slots in use stay under
        # 3/4, see _index_insert); the bound makes a lookup end even in an index damaged past that:
        # every slot probed and no match proves the id absent.
        for _ in range(mask + 1):
            v = _U32.unpack_from(mm, index + 4 * h)[0]
            if v == 0:
                return -1, (h if reuse < 0 else reuse)
            if v == _TOMB:
                if reuse < 0:
                    reuse = h
            else:
                base = entries + (v - 1) * ENTRY_SIZE + _E_ID
                if mm[base:base + 20] == oid:
                    return v - 1, h
            h = (h + 1) & mask
        if reuse < 0:
            raise RuntimeError(f"the store's object index has no free slot (all {mask + 1} hold live "
                               f"records): it is damaged")
        return -1, reuse

    # Both index updates end with _maybe_rebuild_index, so that slots in use (live and tombstones) stay
    # under 3/4 after every change: a lookup of a missing id then always meets an empty slot. (Rebuilding
    # after removes only let inserts that came after them fill the index until such a lookup probed for ever.)
    def _index_remove(self, slot: int) -> None:
        self.set_u32(self.lay.index + 4 * slot, _TOMB)
        self.set_u32(_H_NLIVE, self.get_u32(_H_NLIVE) - 1)
        self._maybe_rebuild_index()

    def _index_insert(self, slot: int, e: int) -> None:
        off = self.lay.index + 4 * slot
        if self.get_u32(off) == 0:
            self.set_u32(_H_IUSED, self.get_u32(_H_IUSED) + 1)
        self.set_u32(off, e + 1)
        self.set_u32(_H_NLIVE, self.get_u32(_H_NLIVE) + 1)
        self._maybe_rebuild_index()

    def _maybe_rebuild_index(self) -> None:
        lay = self.lay
        if self.get_u32(_H_IUSED) * 4 < lay.index_size * 3:
            return
        index = np.frombuffer(self.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        live = index[(index != 0) & (index != _TOMB)].tolist()
        index[:] = 0
        del index
        mask = self.index_mask
        for v in live:
            base = lay.entries + (v - 1) * ENTRY_SIZE + _E_ID
            h = zlib.crc32(self.mm[base:base + 20]) & mask
            while self.get_u32(lay.index + 4 * h):
                h = (h + 1) & mask
            self.set_u32(lay.index + 4 * h, v)
        self.set_u32(_H_IUSED, len(live))

    def new_record(self, oid: bytes, slot: int, offset: int, size: int, alloc: int) -> Tuple[int, int]:
        """Take a free record for a CREATED object of this process and index it; (record, incarnation).

        ``slot`` comes from a :meth:`lookup` that missed. Returns (-1, 0) when no record is free.
        """
        mm = self.mm
        n = _U32.unpack_from(mm, _H_NSTACK)[0]
        if n == 0:
            return -1, 0
        e = _U32.unpack_from(mm, self.lay.stack + 4 * (n - 1))[0]
        _U32.pack_into(mm, _H_NSTACK, n - 1)
        if e >= _U32.unpack_from(mm, _H_HIGH)[0]:
            _U32.pack_into(mm, _H_HIGH, e + 1)
        inc = _U64.unpack_from(mm, _H_TICK)[0] + 1
        _U64.pack_into(mm, _H_TICK, inc)
        _ENTRY.pack_into(mm, self.lay.entries + e * ENTRY_SIZE, CREATED, os.getpid(), oid, offset,
                         size, alloc, time.time(), inc, inc, 0)
        self._index_insert(slot, e)
        _U64.pack_into(mm, _H_USED, _U64.unpack_from(mm, _H_USED)[0] + alloc)
        return e, inc

    def used_entries(self) -> np.ndarray:
        """The table up to the highest record ever used: what every scan needs to look at.

        Freed records go back on top of the stack and are reused first, so this stays as short as the
        most objects ever held at once.
        """
        return self.entries[:_U32.unpack_from(self.mm, _H_HIGH)[0]]

    def free_records(self) -> int:
        return self.get_u32(_H_NSTACK)

    def seal(self, e: int) -> None:
        self.mm[self.lay.entries + e * ENTRY_SIZE] = SEALED
        self.set_u64(self.lay.entries + e * ENTRY_SIZE + _E_LRU, self.tick())
        self.set_u64(_H_SEQ, self.get_u64(_H_SEQ) + 1)

    def remove(self, e: int, slot: int, *, evicted: bool = False) -> None:
        """Take record ``e`` (at index ``slot``) out of the index; free it now, or when unpinned."""
        self._index_remove(slot)
        base = self.lay.entries + e * ENTRY_SIZE
        if evicted:
            self.set_u64(_H_EVICT, self.get_u64(_H_EVICT) + 1)
        if self.get_u32(base + _E_PINS):
            self.mm[base] = ZOMBIE
        else:
            self._free_entry(e)

    def _free_entry(self, e: int) -> None:
        base = self.lay.entries + e * ENTRY_SIZE
        off = self.get_u64(base + _E_OFF)
        alloc = self.get_u64(base + _E_ALLOC)
        self.mm[base] = FREE
        self.set_u32(base + _E_PINS, 0)
        self.free(off, alloc)
        self.set_u64(_H_USED, self.get_u64(_H_USED) - alloc)
        n = self.get_u32(_H_NSTACK)
        self.set_u32(self.lay.stack + 4 * n, e)
        self.set_u32(_H_NSTACK, n + 1)

    # -- pins -------------------------------------------------------------------------------------------
    def pin(self, e: int) -> None:
        c = self.client if self.client >= 0 else self.ensure_client()
        base = self.lay.entries + e * ENTRY_SIZE
        mm = self.mm
        _U32.pack_into(mm, base + _E_PINS, _U32.unpack_from(mm, base + _E_PINS)[0] + 1)
        _U64.pack_into(mm, base + _E_LRU, self.tick())
        loff = self.lay.ledger + 4 * (c * self.lay.max_objects + e)
        _U32.pack_into(mm, loff, _U32.unpack_from(mm, loff)[0] + 1)
        self.local_pins += 1

    def unpin(self, e: int, inc: int) -> None:
        base = self.lay.entries + e * ENTRY_SIZE
        mm = self.mm
        self.local_pins -= 1
        if _U64.unpack_from(mm, base + _E_INC)[0] != inc or self.client < 0:
            return  # already given back (this process was taken for dead, or the store was reset)
        loff = self.lay.ledger + 4 * (self.client * self.lay.max_objects + e)
        mine = _U32.unpack_from(mm, loff)[0]
        if mine == 0:
            return
        _U32.pack_into(mm, loff, mine - 1)
        pins = _U32.unpack_from(mm, base + _E_PINS)[0] - 1
        _U32.pack_into(mm, base + _E_PINS, pins)
        if pins == 0 and mm[base] == ZOMBIE:
            self._free_entry(e)

    # -- allocator (first fit over a sorted free list, coalescing on free) -------------------------------
    def alloc(self, n: int) -> int:
        """Offset of ``n`` (a multiple of 64) free bytes, taken from the free list; -1 if no block fits."""
        mm = self.mm
        k = _U32.unpack_from(mm, _H_NFREE)[0]
        if k == 0:
            return -1
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
        off = _U64.unpack_from(mm, off_at)[0]
        rest = length - n
        if rest:
            _U64.pack_into(mm, off_at, off + n)
            _U64.pack_into(mm, self.lay.free_len + 8 * i, rest)
        else:
            self.free_off[i:k - 1] = self.free_off[i + 1:k]
            self.free_len[i:k - 1] = self.free_len[i + 1:k]
            _U32.pack_into(mm, _H_NFREE, k - 1)
        return off

    def free(self, off: int, n: int) -> None:
        k = self.get_u32(_H_NFREE)
        fo, fl = self.free_off, self.free_len
        i = int(np.searchsorted(fo[:k], off))
        merge_prev = i > 0 and int(fo[i - 1]) + int(fl[i - 1]) == off
        merge_next = i < k and off + n == int(fo[i])
        if merge_prev and merge_next:
            fl[i - 1] += n + int(fl[i])
            fo[i:k - 1] = fo[i + 1:k]
            fl[i:k - 1] = fl[i + 1:k]
            self.set_u32(_H_NFREE, k - 1)
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
            self.set_u32(_H_NFREE, k + 1)

    def largest_free(self) -> int:
        k = self.get_u32(_H_NFREE)
        return int(self.free_len[:k].max()) if k else 0

    # -- reclaim and eviction ---------------------------------------------------------------------------
    def reclaim_dead(self) -> int:
        """Drop pins of dead clients and unsealed objects of dead creators; returns records freed."""
        lay = self.lay
        freed = 0
        clients = np.frombuffer(self.mm, dtype=_CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        registered = [(c, int(clients["pid"][c]), float(clients["since"][c]))
                      for c in np.flatnonzero(clients["pid"]).tolist()]
        del clients
        for c, pid, since in registered:
            if c != self.client and not pid_alive(pid, since):
                self._drop_client(c)
        created = np.flatnonzero(self.used_entries()["state"] == CREATED)
        me = os.getpid()
        for e in created.tolist():
            state, pid, oid, _off, _size, _alloc, created_at = self.entry(e)[:7]
            if pid == me or pid_alive(pid, created_at):
                continue
            found, slot = self.lookup(oid)
            if found == e:
                self.remove(e, slot)
                freed += 1
        return freed

    def evict_until(self, n: int, need_record: bool) -> Tuple[int, int]:
        """Evict sealed, unpinned objects, least recently used first, until ``n`` bytes fit (and a record
        is free if ``need_record``), and at least a tenth of the capacity has been evicted (as Plasma
        does: one scan of the table then serves many puts). Evicts nothing when even evicting everything
        evictable could not make room. Returns (offset or -1, bytes evicted)."""
        ent = self.used_entries()
        cand = np.flatnonzero((ent["state"] == SEALED) & (ent["pins"] == 0))
        sizes = ent["alloc"][cand]
        free_bytes = self.lay.capacity - self.get_u64(_H_USED)
        evictable = int(sizes.sum())
        if free_bytes + evictable < n:
            return -1, 0
        batch = min(self.lay.capacity // 10, evictable)
        order = np.argsort(ent["lru"][cand], kind="stable")
        evicted = 0
        off = -1
        for e, size in zip(cand[order].tolist(), sizes[order].tolist()):
            if off >= 0 and evicted >= batch:
                break
            oid = self.entry(e)[2]
            found, slot = self.lookup(oid)
            if found != e:
                continue
            evicted += size
            self.remove(e, slot, evicted=True)
            if off < 0 and (not need_record or self.free_records() > 0):
                off = self.alloc(n)
        return off, evicted

    def usage(self) -> Dict[str, int]:
        """Counts and bytes by state, for statistics and for the store-full message."""
        ent = self.used_entries()
        state = ent["state"]
        alloc = ent["alloc"]
        pinned = (state == ZOMBIE) | ((state == SEALED) & (ent["pins"] > 0))
        k = self.get_u32(_H_NFREE)
        return {
            "capacity": self.lay.capacity,
            "used": self.get_u64(_H_USED),
            "sealed": int((state == SEALED).sum()),
            "unsealed": int((state == CREATED).sum()),
            "zombies": int((state == ZOMBIE).sum()),
            "sealed_bytes": int(alloc[state == SEALED].sum()),
            "unsealed_bytes": int(alloc[state == CREATED].sum()),
            "pinned": int(pinned.sum()),
            "pinned_bytes": int(alloc[pinned].sum()),
            "largest_free": int(self.free_len[:k].max()) if k else 0,
            "free_blocks": k,
            "evictions": self.get_u64(_H_EVICT),
            "free_records": self.free_records(),
            "max_objects": self.lay.max_objects,
        }
