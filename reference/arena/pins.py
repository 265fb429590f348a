"""Clients and pins: which process holds which object, so that a dead process's share can be given back.

Each attached process that pins takes a client slot (its pid and the time it registered). A pin is counted
in the ledger, per (client, record), and nowhere else: a record is pinned while any client's count for it is
not zero. Only the client itself writes its row (or, once it is dead, whoever reclaims it), so taking a pin
(under the store's lock, which the lookup needs anyway) and dropping one (under this process's ``RLock``
only: no ``flock`` round trip) never race with another process's writes. Dropping the last pin of a
deleted object (a zombie) frees it under the lock. :meth:`Pins.reclaim_dead` drops the ledger rows of dead
clients, frees unsealed objects of dead creators (a live pid that started after it was recorded is a
reused pid: dead) and any zombie left unpinned.

Why a zombie can be left unpinned: a reader drops its count, then reads whether the record is a zombie; a
deleter marks it a zombie, then reads the counts. Both run at once on two cores; x86 may let each read pass
its own earlier write, so each can miss the other's (the count is then 0 on a zombie that nobody frees).
Nothing unsafe follows (bytes are freed only when every count reads 0); the space comes back at the next
reclaim, which every allocation that does not fit and every ``stats`` runs first.
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
    ENTRY_SIZE,
    F64,
    H_CHIGH,
    H_TICK,
    U32,
    U64,
    ZOMBIE,
)
from reference.arena.records import Records
from reference.liveness import pid_alive

__all__ = ["Pins"]

_U32, _U64, _F64 = U32, U64, F64  # plain names: see layout.U32


class Pins(Records):
    """Pins, client slots and reclaiming what dead processes held (call inside ``with arena:``)."""

    def pin(self, e: int) -> None:
        """Pin record ``e`` for this process (it is not freed or evicted until unpinned). Under the lock."""
        c = self.client if self.client >= 0 else self.ensure_client()
        lay = self.lay
        mm = self.mm
        tick: int = _U64.unpack_from(mm, H_TICK)[0] + 1  # the LRU clock, inlined (a hot path)
        _U64.pack_into(mm, H_TICK, tick)
        _U64.pack_into(mm, lay.entries + e * ENTRY_SIZE + E_LRU, tick)
        loff = lay.ledger + 4 * (c * lay.max_objects + e)
        _U32.pack_into(mm, loff, _U32.unpack_from(mm, loff)[0] + 1)
        self.local_pins += 1

    def drop_pin(self, e: int, inc: int) -> bool:
        """Drop a pin of this process on record ``e`` if it still holds incarnation ``inc``; True when that
        was this process's last pin on a zombie, which the caller then frees under the lock
        (:meth:`free_if_unpinned`).

        Needs this process's ``rlock`` only (the store's lock is not needed: nobody else writes this
        process's ledger row, and a record this process pins is never reused under it).
        """
        lay = self.lay
        mm = self.mm
        self.local_pins -= 1
        if self.client < 0:
            return False  # the store was reset
        loff = lay.ledger + 4 * (self.client * lay.max_objects + e)
        mine: int = _U32.unpack_from(mm, loff)[0]
        base = lay.entries + e * ENTRY_SIZE
        if mine == 0 or _U64.unpack_from(mm, base + E_INC)[0] != inc:
            return False  # already given back: this process was taken for dead
        _U32.pack_into(mm, loff, mine - 1)
        return mine == 1 and mm[base] == ZOMBIE

    def free_if_unpinned(self, e: int, inc: int) -> None:
        """Free record ``e`` if it still is incarnation ``inc``, a zombie, and pinned by nobody. Under the lock."""
        base = self.lay.entries + e * ENTRY_SIZE
        mm = self.mm
        if mm[base] == ZOMBIE and _U64.unpack_from(mm, base + E_INC)[0] == inc and not self.pinned(e):
            self.free_entry(e)

    def unpin(self, e: int, inc: int) -> None:
        """Drop a pin of this process on record ``e`` (incarnation ``inc``); under the lock."""
        if self.drop_pin(e, inc):
            self.free_if_unpinned(e, inc)

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
                    if c >= self.get_u32(H_CHIGH):
                        self.set_u32(H_CHIGH, c + 1)
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
        """Free client slot ``c`` and every pin its ledger row holds (zombies it alone pinned are freed)."""
        row = self.ledger[c]
        held = np.flatnonzero(row).tolist()
        row[held] = 0
        del row
        for e in held:
            if self.mm[self.lay.entries + e * ENTRY_SIZE] == ZOMBIE and not self.pinned(e):
                self.free_entry(e)
        self.set_u32(self.lay.clients + c * CLIENT_SIZE, 0)

    def reclaim_dead(self) -> int:
        """Drop pins of dead clients, unsealed objects of dead creators and unpinned zombies; returns the
        unsealed records freed."""
        lay = self.lay
        freed = 0
        clients = np.frombuffer(self.mm, dtype=CLIENT_DTYPE, count=lay.max_clients, offset=lay.clients)
        registered = [(c, int(clients["pid"][c]), float(clients["since"][c]))
                      for c in np.flatnonzero(clients["pid"]).tolist()]
        del clients
        for c, pid, since in registered:
            if c != self.client and not pid_alive(pid, since):
                self.drop_client(c)
        state = self.used_entries()["state"]
        for e in np.flatnonzero((state == ZOMBIE) & ~self.pinned_mask(len(state))).tolist():
            self.free_entry(e)  # its last pin was dropped while it was being deleted (module docstring)
        created = np.flatnonzero(state == CREATED)
        del state
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
