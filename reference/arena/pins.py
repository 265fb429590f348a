"""Clients and pins: which process holds which object, so that a dead process's share can be given back.

Each attached process that pins takes a client slot (its pid and the time it registered). A pin is counted
twice: in the record (all processes together; what eviction and freeing look at) and in the ledger, per
(client, record). :meth:`Pins.reclaim_dead` drops the ledger rows of dead clients and frees unsealed
objects of dead creators (a live pid that started after it was recorded is a reused pid: dead).
"""

from __future__ import annotations

import os
import time

import numpy as np

from reference.arena.layout import (
    CLIENT_DTYPE,
    CLIENT_SIZE,
    CREATED,
    E_INC,
    E_LRU,
    E_PINS,
    ENTRY_SIZE,
    F64,
    H_TICK,
    U32,
    U64,
    ZOMBIE,
)
from reference.arena.liveness import pid_alive
from reference.arena.records import Records

__all__ = ["Pins"]

_U32, _U64, _F64 = U32, U64, F64  # plain names: see layout.U32


class Pins(Records):
    """Pins, client slots and reclaiming what dead processes held (call inside ``with arena:``)."""

    def pin(self, e: int) -> None:
        """Pin record ``e`` for this process (it is not freed or evicted until unpinned)."""
        c = self.client if self.client >= 0 else self.ensure_client()
        lay = self.lay
        base = lay.entries + e * ENTRY_SIZE
        mm = self.mm
        _U32.pack_into(mm, base + E_PINS, _U32.unpack_from(mm, base + E_PINS)[0] + 1)
        tick: int = _U64.unpack_from(mm, H_TICK)[0] + 1  # the LRU clock, inlined (a hot path)
        _U64.pack_into(mm, H_TICK, tick)
        _U64.pack_into(mm, base + E_LRU, tick)
        loff = lay.ledger + 4 * (c * lay.max_objects + e)
        _U32.pack_into(mm, loff, _U32.unpack_from(mm, loff)[0] + 1)
        self.local_pins += 1

    def unpin(self, e: int, inc: int) -> None:
        """Drop a pin of this process on record ``e`` if it still holds incarnation ``inc``."""
        lay = self.lay
        base = lay.entries + e * ENTRY_SIZE
        mm = self.mm
        self.local_pins -= 1
        if _U64.unpack_from(mm, base + E_INC)[0] != inc or self.client < 0:
            return  # already given back (this process was taken for dead, or the store was reset)
        loff = lay.ledger + 4 * (self.client * lay.max_objects + e)
        mine: int = _U32.unpack_from(mm, loff)[0]
        if mine == 0:
            return
        _U32.pack_into(mm, loff, mine - 1)
        pins: int = _U32.unpack_from(mm, base + E_PINS)[0] - 1
        _U32.pack_into(mm, base + E_PINS, pins)
        if pins == 0 and mm[base] == ZOMBIE:
            self.free_entry(e)

    def ensure_client(self) -> int:
        """This process's client slot (registered on first use). Raises ``RuntimeError`` if all are taken."""
        if self.client >= 0:
            return self.client
        lay = self.lay
        me = os.getpid()
        for _attempt in range(2):
            for c in range(lay.max_clients):
                off = lay.clients + c * CLIENT_SIZE
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
            self.drop_client(self.client)
            self.client = -1

    def drop_client(self, c: int) -> None:
        """Free client slot ``c`` and every pin its ledger row holds."""
        row = self.ledger[c]
        held = np.flatnonzero(row)
        for e in held.tolist():
            n = int(row[e])
            row[e] = 0
            base = self.lay.entries + e * ENTRY_SIZE
            pins = self.get_u32(base + E_PINS)
            pins = pins - n if pins >= n else 0
            self.set_u32(base + E_PINS, pins)
            if pins == 0 and self.mm[base] == ZOMBIE:
                self.free_entry(e)
        self.set_u32(self.lay.clients + c * CLIENT_SIZE, 0)

    def reclaim_dead(self) -> int:
        """Drop pins of dead clients and unsealed objects of dead creators; returns records freed."""
        lay = self.lay
        freed = 0
        clients = np.frombuffer(self.mm, dtype=CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        registered = [(c, int(clients["pid"][c]), float(clients["since"][c]))
                      for c in np.flatnonzero(clients["pid"]).tolist()]
        del clients
        for c, pid, since in registered:
            if c != self.client and not pid_alive(pid, since):
                self.drop_client(c)
        created = np.flatnonzero(self.used_entries()["state"] == CREATED)
        me = os.getpid()
        for e in created.tolist():
            rec = self.entry(e)
            if rec.pid == me or pid_alive(rec.pid, rec.created):
                continue
            found, slot = self.lookup(rec.object_id)
            if found == e:
                self.remove(e, slot)
                freed += 1
        return freed
