"""Crash repair: rebuild every derived structure of the table from its records.

A process killed while holding the store's lock may have left an update half done; it leaves its pid in
the header's "dirty" field, and the next holder calls :meth:`Repair.repair` before anything else.
"""

from __future__ import annotations

from typing import List, Set, Tuple

import numpy as np

from reference.arena.layout import (
    CLIENT_DTYPE,
    CREATED,
    FREE,
    H_CHIGH,
    H_HIGH,
    H_REPAIRS,
    SEALED,
    U32,
    U64,
    ZOMBIE,
)
from reference.arena.records import Records

__all__ = ["Repair"]

_U32, _U64 = U32, U64  # plain names: see layout.U32


class Repair(Records):
    """:meth:`repair`, run under the lock by the holder that finds the dirty mark."""

    def repair(self) -> None:
        """Rebuild every derived structure from the records, after a holder died mid-update.

        The records (state, id, offset, size, ...) and the ledger's pins of registered clients on sealed and
        deleted objects are the truth (other pins are dropped); the free-record stack, the free list, the
        byte count and the index are recomputed from them. An
        update that was cut short is thereby either undone (space not yet recorded is free again) or
        completed (an object whose record was taken out is gone). Unsealed objects of the dead process are
        then reclaimed as usual.
        """
        lay = self.lay
        # Records past the high-water mark were never written (it is raised before a record is), so
        # neither they nor their ledger columns need reading (reading would fault in untouched pages).
        n: int = _U32.unpack_from(self.mm, H_HIGH)[0]
        ent = self.entries[:n]
        clients = np.frombuffer(self.mm, dtype=CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        registered = clients["pid"] != 0
        chigh = int(np.flatnonzero(registered).max()) + 1 if registered.any() else 0
        _U32.pack_into(self.mm, H_CHIGH, chigh)
        ledger = self.ledger[:chigh, :n]
        ledger[~registered[:chigh]] = 0
        del clients
        state = ent["state"]
        state[state > ZOMBIE] = FREE
        ledger[:, (state != SEALED) & (state != ZOMBIE)] = 0
        state[(state == ZOMBIE) & ~ledger.any(axis=0)] = FREE
        del ledger
        # One live record per id: keep the newest of any duplicates.
        live = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        live.sort(key=lambda e: -int(ent["inc"][e]))
        seen: Set[bytes] = set()
        keep: List[Tuple[int, bytes]] = []
        for e in live:
            oid = self.entry(e).object_id
            if oid in seen:
                state[e] = FREE
            else:
                seen.add(oid)
                keep.append((e, oid))
        self.rebuild_derived(state, keep)
        _U32.pack_into(self.mm, H_REPAIRS, _U32.unpack_from(self.mm, H_REPAIRS)[0] + 1)
