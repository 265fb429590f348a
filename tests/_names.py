"""Unique store names for tests, fuzzers and the stress battery: one helper, so every name has one shape.

A name carries a label, the pid and random hex, so stores of concurrent runs never collide and a store left
behind in ``/dev/shm`` says which run made it.
"""

from __future__ import annotations

import os
import uuid
from typing import List

__all__ = ["unique_name", "unique_names"]


def unique_name(label: str = "test") -> str:
    """A store name no other test, process or run uses: ``<label>-<pid>-<12 hex digits>``."""
    return f"{label}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def unique_names(n: int, label: str = "test") -> List[str]:
    """``n`` related unique names: one :func:`unique_name` with ``-0`` ... ``-<n-1>`` appended."""
    base = unique_name(label)
    return [f"{base}-{i}" for i in range(n)]
