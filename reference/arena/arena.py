"""The :class:`Arena`: one process's mapping of a store file, with every table operation on it.

Each part of the table is a class of its own module (see :mod:`reference.arena`); an :class:`Arena` is
all of them, over one mapping, behind one lock.
"""

from __future__ import annotations

from reference.arena.eviction import Eviction
from reference.arena.lock import Locking
from reference.arena.usage import Accounting

__all__ = ["Arena"]


class Arena(Locking, Eviction, Accounting):
    """One process's mapping of a store file, and every table operation on it.

    Table methods (``lookup``, ``alloc``, ``pin``, ``evict_for``, ...) must be called inside ``with arena:``.
    One Arena exists per (process, file); every handle of that store in the process shares it, so one lock
    serves all.
    """
