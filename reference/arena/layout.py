"""Where everything lives in a store file: constants, header fields, the record format, :class:`Layout`.

Every region's offset follows from the geometry alone (capacity, max_objects, max_clients), so a process
that attaches computes the same layout as the creator from the header. Nothing here touches a lock.
"""

from __future__ import annotations

import mmap
import struct
import time
from typing import NamedTuple, Optional

import numpy as np

__all__ = [
    "ALIGN", "CLIENT_DTYPE", "CLIENT_SIZE", "CREATED", "ENTRY", "ENTRY_DTYPE", "ENTRY_SIZE", "E_ALLOC",
    "E_CTIME", "E_ID", "E_INC", "E_LRU", "E_OFF", "E_SIZE", "E_STATE", "F64", "FREE", "GEOM",
    "HEADER_SIZE", "HUGE_PAGE", "H_CHIGH", "H_CTIME", "H_DIRTY", "H_EVICT", "H_GEOM", "H_HIGH", "H_IUSED", "H_MAGIC",
    "H_NFREE", "H_NLIVE", "H_NSTACK", "H_REPAIRS", "H_SEQ", "H_TICK", "H_USED", "Layout", "MAGIC", "PAGE",
    "Record", "SEALED", "TOMB", "U32", "U64", "VERSION", "ZOMBIE", "initialize", "read_layout", "round_up",
]

MAGIC = b"OSSTORE1"
VERSION = 2  # 2: pins live in the ledger only (no count in the record); H_CHIGH
PAGE = 4096
HUGE_PAGE = 2 << 20
ALIGN = 64
HEADER_SIZE = PAGE

#: Record states: FREE -> CREATED -> SEALED -> FREE, or SEALED -> ZOMBIE (deleted, still pinned) -> FREE.
FREE, CREATED, SEALED, ZOMBIE = 0, 1, 2, 3

# Header fields (offsets into the mapping).
H_MAGIC = 0          # 8s
H_GEOM = 8           # <IIIIQQ: version, max_objects, index_size, max_clients, capacity, data_offset
GEOM = struct.Struct("<IIIIQQ")
H_SEQ = 40           # Q: bumped at every seal; waiting gets poll it
H_TICK = 48          # Q: LRU clock
H_NFREE = 56         # I: length of the free list
H_NSTACK = 60        # I: free records on the entry stack
H_IUSED = 64         # I: index slots in use (live + tombstones)
H_NLIVE = 68         # I: ids in the index
H_EVICT = 72         # Q: evictions so far
H_USED = 80          # Q: allocated bytes (all states)
H_CTIME = 88         # d: creation time
H_HIGH = 96          # I: 1 + the highest record index ever used (scans stop there)
H_DIRTY = 100        # I: pid of the process inside a table update; left set if it died there
H_REPAIRS = 104      # I: how many times a table was repaired after such a death
H_CHIGH = 108        # I: 1 + the highest client slot ever registered (ledger scans stop there)

# Modules that call these in hot paths bind them to a name of their own (``_U32 = U32``): CPython 3.11+
# compiles a method call on a name that an import bound as an attribute load (taking the name for a
# module), which makes a bound method per call; put, get and pin would each be about 1 us slower.
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
F64 = struct.Struct("<d")

#: A record: state, pid, id, offset, size, alloc, created, lru, incarnation (see :class:`Record`). Its
#: pins are in the ledger: one count per (client, record), each written only by its own client.
ENTRY = struct.Struct("<B3xI20s4xQQQdQQ16x")
ENTRY_SIZE = ENTRY.size  # 96
E_STATE, E_PID, E_ID, E_OFF, E_SIZE, E_ALLOC, E_CTIME, E_LRU, E_INC = (
    0, 4, 8, 32, 40, 48, 56, 64, 72)
#: The object table as a numpy structured array (every field but the id), for scans.
ENTRY_DTYPE = np.dtype({
    "names": ["state", "pid", "offset", "size", "alloc", "created", "lru", "inc"],
    "formats": ["u1", "<u4", "<u8", "<u8", "<u8", "<f8", "<u8", "<u8"],
    "offsets": [E_STATE, E_PID, E_OFF, E_SIZE, E_ALLOC, E_CTIME, E_LRU, E_INC],
    "itemsize": ENTRY_SIZE,
})
CLIENT_SIZE = 16  # pid u32, 4 bytes padding, time.time() of registration f64
CLIENT_DTYPE = np.dtype({"names": ["pid", "since"], "formats": ["<u4", "<f8"], "offsets": [0, 8],
                         "itemsize": CLIENT_SIZE})
#: An index slot whose id was removed (a lookup probes past it; an insert may reuse it).
TOMB = 0xFFFFFFFF


class Record(NamedTuple):
    """One row of the object table, as :meth:`reference.arena.Arena.entry` reads it."""

    state: int        # FREE, CREATED, SEALED or ZOMBIE
    pid: int          # the creator
    object_id: bytes  # 20 bytes
    offset: int       # of the frame, in the mapping
    size: int         # bytes of the frame
    alloc: int        # bytes reserved: size rounded up to ALIGN (at least ALIGN)
    created: float    # time.time() at creation
    lru: int          # LRU clock at the last seal or pin
    incarnation: int  # LRU clock at creation: tells a reused record from the one a caller knew


def round_up(n: int, k: int) -> int:
    """``n`` rounded up to a multiple of ``k``."""
    return (n + k - 1) // k * k


class Layout:
    """Offsets of every region, computed from the geometry alone (so attachers agree with the creator)."""

    def __init__(self, capacity: int, max_objects: int, max_clients: int) -> None:
        # The capacity asked for is recorded and reported as given (Plasma's is a limit); objects take
        # 64-byte multiples, so the data region is the largest multiple of 64 within it.
        self.capacity = capacity
        self.data_size = capacity // ALIGN * ALIGN
        self.max_objects = e = max_objects
        self.max_clients = c = max_clients
        self.index_size = i = 1 << max(4, (2 * e - 1).bit_length())
        self.nfree_max = e + 2
        pos = HEADER_SIZE
        self.clients = pos
        pos += c * CLIENT_SIZE
        self.entries = pos = round_up(pos, ALIGN)
        pos += e * ENTRY_SIZE
        self.stack = pos = round_up(pos, ALIGN)
        pos += e * 4
        self.index = pos = round_up(pos, ALIGN)
        pos += i * 4
        self.free_off = pos = round_up(pos, ALIGN)
        pos += self.nfree_max * 8
        self.free_len = pos = round_up(pos, ALIGN)
        pos += self.nfree_max * 8
        self.ledger = pos = round_up(pos, PAGE)
        pos += c * e * 4
        # 2 MiB-aligned data lets the kernel back it with huge pages where tmpfs allows them.
        self.data = pos = round_up(pos, HUGE_PAGE if capacity >= HUGE_PAGE else PAGE)
        self.total = pos + self.data_size


def initialize(mm: mmap.mmap, lay: Layout) -> None:
    """Write an empty store into a zeroed mapping; the magic goes last (attachers wait for it)."""
    GEOM.pack_into(mm, H_GEOM, VERSION, lay.max_objects, lay.index_size, lay.max_clients,
                   lay.capacity, lay.data)
    F64.pack_into(mm, H_CTIME, time.time())
    stack = np.frombuffer(mm, dtype="<u4", count=lay.max_objects, offset=lay.stack)
    stack[:] = np.arange(lay.max_objects - 1, -1, -1, dtype=np.uint32)
    del stack
    U32.pack_into(mm, H_NSTACK, lay.max_objects)
    U64.pack_into(mm, lay.free_off, lay.data)
    U64.pack_into(mm, lay.free_len, lay.data_size)
    U32.pack_into(mm, H_NFREE, 1 if lay.data_size else 0)
    mm[H_MAGIC:H_MAGIC + 8] = MAGIC


def read_layout(mm: mmap.mmap) -> Optional[Layout]:
    """The layout recorded in a mapped store file, or None if it is not (yet) a store."""
    if len(mm) < HEADER_SIZE or mm[H_MAGIC:H_MAGIC + 8] != MAGIC:
        return None
    version, e, _i, c, capacity, data = GEOM.unpack_from(mm, H_GEOM)
    if version != VERSION:
        return None
    lay = Layout(capacity, e, c)
    if lay.data != data or lay.total > len(mm):
        return None
    return lay
