"""What clause tests share: laying frames into buffers, round trips, and reproduction snippets."""

from __future__ import annotations

import sys
from typing import Any, Tuple

from conformance.api import Implementation

__all__ = ["frame_buffer", "reproduce", "roundtrip", "shares_memory"]

ALIGN = 64


def frame_buffer(frame: Any, *, readonly: bool = False) -> Tuple[memoryview, Any]:
    """Lay ``frame`` into a fresh 64-byte aligned buffer; return (a view of it, the backing numpy array).

    With ``readonly`` the view is read-only, as a store's memory is after sealing.
    """
    import numpy as np

    size = int(frame.frame_size)
    raw = np.zeros(size + ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    backing = raw[start:start + size]
    written = frame.write_to(memoryview(backing.data))
    if written not in (None, size):
        raise AssertionError(f"write_to returned {written}, but the frame says frame_size={size}")
    view = memoryview(backing.data)
    return (view.toreadonly() if readonly else view), backing


def roundtrip(impl: Implementation, value: Any, *, protocol: int, readonly: bool = False) -> Any:
    """Serialize ``value`` with ``impl`` at ``protocol``, lay the frame out, deserialize it."""
    frame = impl.serializer.serialize(value, protocol=protocol)
    view, _backing = frame_buffer(frame, readonly=readonly)
    return impl.serializer.deserialize(view)


def shares_memory(array: Any, backing: Any) -> bool:
    """True when numpy ``array`` lies in ``backing``'s memory (zero copy)."""
    import numpy as np

    return bool(np.shares_memory(array, backing))


def reproduce(impl: Implementation, *lines: str) -> str:
    """Record a snippet that reproduces the current check outside the suite; shown when the test fails.

    Inside a Hypothesis test the snippet goes through ``note()`` (printed with the falsifying example);
    elsewhere it is printed (pytest shows captured output of a failing test).
    """
    text = "\n".join([
        "# reproduce:",
        "from conformance.registry import load_implementation",
        "from conformance.harness import roundtrip, frame_buffer",
        f"impl = load_implementation({impl.name!r})",
        *lines,
    ])
    try:
        from hypothesis import note

        note(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test
        print(text, file=sys.stdout)
    return text
