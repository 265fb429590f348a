"""The store's lock (:class:`Locking`), which survives its holder's death, and the get path fused with it.

Every update of the metadata happens under ``with arena:``: a ``threading.RLock`` for the threads of this
process plus ``flock`` on the file for other processes. Object data is never copied under the lock. The
kernel drops a dead process's ``flock``; a process killed *while holding* it leaves its pid in the header's
"dirty" field, and the next holder repairs (:meth:`reference.arena.repair.Repair.repair`).
"""

from __future__ import annotations

import fcntl
import struct
import threading
from typing import Any, Optional, Tuple, TypeVar

from reference.arena.layout import (
    E_INC,
    E_OFF,
    ENTRY_SIZE,
    H_DIRTY,
    SEALED,
    U32,
    U64,
)
from reference.arena.pins import Pins
from reference.arena.repair import Repair

__all__ = ["Locking"]

_U32, _U64 = U32, U64  # plain names: see layout.U32
_OFF_SIZE = struct.Struct("<QQ")  # a record's offset and size, adjacent at E_OFF
_get_ident = threading.get_ident
_Self = TypeVar("_Self", bound="Locking")


class Locking(Pins, Repair):
    """``with arena:`` (the lock, repairing first if its last holder died mid-update), and the read path
    that takes it inline: :meth:`pin_sealed`, and :meth:`release_ref` / :meth:`release_pin` for the pins."""

    def __enter__(self: _Self) -> _Self:
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
            if _U32.unpack_from(self.mm, H_DIRTY)[0]:
                self.repair()  # the last holder died (or was interrupted) halfway through an update
            _U32.pack_into(self.mm, H_DIRTY, self.pid)
        else:
            self.depth += 1
        return self

    def __exit__(self, exc_type: Optional[type], *exc: Any) -> None:
        if self.depth == 1:
            try:
                self._unpin_pending()
                if exc_type is None or issubclass(exc_type, Exception):
                    # Errors we raise leave the table consistent; KeyboardInterrupt and the like may
                    # not, so they leave the mark and the next holder repairs.
                    _U32.pack_into(self.mm, H_DIRTY, 0)
            finally:
                self.depth = 0
                self.owner = 0
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                self.rlock.release()
        else:
            self.depth -= 1
            self.rlock.release()

    # -- the read path, fused ----------------------------------------------------------------------------
    # A get is one lock round trip (look up and pin, in one method with the record's fields read in place,
    # no Record built, and the LRU clock inlined: the same updates and dirty mark as ``with arena: lookup;
    # pin``), and an unpin when the last view goes that needs only this process's RLock.

    def pin_sealed(self, oid: bytes) -> Optional[Tuple[int, int, int, int]]:
        """Pin the sealed object ``oid`` for this process, taking the lock: (record, incarnation, offset,
        size), or ``None`` if no sealed object has that id.

        The lock is taken inline (the same steps as ``with self:``), and without the dirty mark: a pin
        writes only the LRU clock and this process's ledger row, which need no repair if it dies halfway
        (its row is dropped with it).
        """
        rlock = self.rlock
        rlock.acquire()
        try:
            if self.depth:  # inside this thread's own table update
                return self._pin_sealed(oid)
            self.owner = _get_ident()
            self.depth = 1
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
                try:
                    if _U32.unpack_from(self.mm, H_DIRTY)[0]:
                        self.repair()
                        _U32.pack_into(self.mm, H_DIRTY, 0)
                    return self._pin_sealed(oid)
                finally:
                    try:
                        if self.pending:  # releases deferred during the pin: they may free (an update)
                            _U32.pack_into(self.mm, H_DIRTY, self.pid)
                            self._unpin_pending()
                            _U32.pack_into(self.mm, H_DIRTY, 0)
                    finally:
                        fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                self.depth = 0
                self.owner = 0
        finally:
            rlock.release()

    def _unpin_pending(self) -> None:
        """Drop the pins whose releases fired inside this thread's table update (under the lock)."""
        while self.pending:
            e, inc = self.pending.pop()
            self.unpin(e, inc)

    def _pin_sealed(self, oid: bytes) -> Optional[Tuple[int, int, int, int]]:
        e, _slot = self.lookup(oid)
        if e < 0:
            return None
        mm = self.mm
        base = self.lay.entries + e * ENTRY_SIZE
        if mm[base] != SEALED:
            return None
        self.pin(e)
        off, size = _OFF_SIZE.unpack_from(mm, base + E_OFF)
        inc: int = _U64.unpack_from(mm, base + E_INC)[0]
        return e, inc, off, size

    def release_ref(self, ref: Any) -> None:
        """Weakref callback of a frame handed to a reader: drop the pin recorded in :attr:`refs` for it.

        A frame inherited over ``fork`` is not in the child's :attr:`refs` (the parent owns its pin). A
        release inside this thread's own table update is deferred to the end of that update.
        """
        refs = self.refs
        held = refs.get(id(ref))
        if held is None or held[0] is not ref:
            return
        del refs[id(ref)]
        try:
            if self.owner == _get_ident():
                self.pending.append((held[1], held[2]))
                return
            self.release_pin(held[1], held[2])
        except Exception:  # noqa: BLE001 - interpreter shutdown or closed store: the pin dies with us
            pass

    def release_pin(self, e: int, inc: int) -> None:
        """Drop a pin this process took on record ``e`` (incarnation ``inc``), outside any table update.

        Takes this process's ``RLock`` only (so that its threads update its ledger row one at a time),
        and the store's lock only to free a deleted object whose last pin this was. A release that fires
        while this one runs (a collection run by an allocation here) is deferred and done here too, so
        that no two of them update one ledger count at once.
        """
        zombies = []
        with self.rlock:
            self.owner = _get_ident()  # releases fired from here on go to `pending`
            try:
                if self.drop_pin(e, inc):
                    zombies.append((e, inc))
                while self.pending:
                    e, inc = self.pending.pop()
                    if self.drop_pin(e, inc):
                        zombies.append((e, inc))
            finally:
                self.owner = 0
        if zombies:
            with self:
                for e, inc in zombies:
                    self.free_if_unpinned(e, inc)
