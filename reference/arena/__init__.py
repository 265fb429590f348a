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

One module per job, each adding its operations to the one before; :class:`Arena` (``arena``) is all of them:

    layout      constants, header fields, the record format (:class:`Record`), :class:`Layout`
    mapping     the mapping, its views, header access, per-process state
    index       the id -> record hash          allocator   first fit over the sorted free list
    records     take, seal, remove, free        pins        pins, client slots, reclaiming the dead's
    eviction    the LRU policy and evict_for    usage       counts and bytes by state (:class:`Usage`)
    repair      rebuild after a holder died     lock        ``with arena:`` and the get path fused with it
    arena       :class:`Arena`: all of the above over one mapping
    check       :func:`verify`: every invariant of a table, as a list of problems
"""

from __future__ import annotations

from reference.arena.arena import Arena
from reference.arena.check import verify
from reference.arena.layout import (
    ALIGN,
    CREATED,
    ENTRY_SIZE,
    FREE,
    SEALED,
    ZOMBIE,
    Layout,
    Record,
    initialize,
    read_layout,
)
from reference.arena.usage import Usage
from reference.liveness import pid_alive

__all__ = [
    "ALIGN",
    "Arena",
    "CREATED",
    "ENTRY_SIZE",
    "FREE",
    "Layout",
    "Record",
    "SEALED",
    "Usage",
    "ZOMBIE",
    "initialize",
    "pid_alive",
    "read_layout",
    "verify",
]
