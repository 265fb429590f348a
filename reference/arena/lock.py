"""The :class:`Arena`: every part of the table behind one lock that survives its holder's death.

Every update of the metadata happens under ``with arena:``: a ``threading.RLock`` for the threads of this
process plus ``flock`` on the file for other processes. Object data is never copied under the lock. The
kernel drops a dead process's ``flock``; a process killed *while holding* it leaves its pid in the header's
"dirty" field, and the next holder repairs (:meth:`reference.arena.repair.Repair.repair`).
"""

from __future__ import annotations

import fcntl
import threading
from typing import Any, Optional

from reference.arena.layout import H_DIRTY, U32
from reference.arena.repair import Repair
from reference.arena.space import Space

__all__ = ["Arena"]

_U32 = U32  # plain names: see layout.U32


class Arena(Space, Repair):
    """One process's mapping of a store file, and every table operation on it.

    Table methods (``lookup``, ``alloc``, ``pin``, ...) must be called inside ``with arena:``. One Arena
    exists per (process, file); every handle of that store in the process shares it, so one lock serves all.
    """

    def __enter__(self) -> Arena:
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
                while self.pending:
                    e, inc = self.pending.pop()
                    self.unpin(e, inc)
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
