"""Unique store names for tests, fuzzers and the stress battery: one helper, so every name has one shape;
and where a store's table is mapped, for the zero-copy checks.

A name carries a label, the pid and random hex, so stores of concurrent runs never collide and a store left
behind in ``/dev/shm`` says which run made it.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, List, Tuple

__all__ = ["mapping_range", "unique_name", "unique_names"]


def unique_name(label: str = "test") -> str:
    """A store name no other test, process or run uses: ``<label>-<pid>-<12 hex digits>``."""
    return f"{label}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def unique_names(n: int, label: str = "test") -> List[str]:
    """``n`` related unique names: one :func:`unique_name` with ``-0`` ... ``-<n-1>`` appended."""
    base = unique_name(label)
    return [f"{base}-{i}" for i in range(n)]


def mapping_range(store: Any) -> Tuple[int, int]:
    """The address range ``[start, end)`` of ``store``'s table mapped in this process (a view inside it is
    zero-copy)."""
    import numpy as np

    base = np.frombuffer(store.arena.mm, dtype=np.uint8)
    start = int(base.ctypes.data)
    return start, start + base.nbytes
