"""A buffer that ends at an inaccessible page: reading one byte past it kills the process with SIGSEGV.

``GuardedBuffer(n).place(data)`` copies ``data`` so that its last byte is the last readable byte before a
``PROT_NONE`` page and returns a read-only memoryview of it. A parser that reads past the end of its input
(an out-of-bounds read that Python's bounds checks would not catch in C code) crashes instead of silently
reading neighbouring memory, so "no crash" then also means "no read past the end".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
from typing import Optional

PAGE = mmap.PAGESIZE
_libc: Optional[ctypes.CDLL] = None


def available() -> bool:
    try:
        _mprotect_fn()
    except (OSError, AttributeError):
        return False
    return True


def _mprotect_fn() -> "ctypes._CFuncPtr":
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = _libc.mprotect
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


class GuardedBuffer:
    """``capacity`` usable bytes followed by one PROT_NONE page. Never unmapped (lives as long as the process)."""

    def __init__(self, capacity: int = 1 << 20) -> None:
        self.capacity = (capacity + PAGE - 1) // PAGE * PAGE
        self.mm = mmap.mmap(-1, self.capacity + PAGE)
        self._anchor = ctypes.c_char.from_buffer(self.mm)  # keeps the address valid; the map is never closed
        addr = ctypes.addressof(self._anchor)
        if _mprotect_fn()(addr + self.capacity, PAGE, 0) != 0:  # PROT_NONE
            raise OSError(ctypes.get_errno(), "mprotect failed")
        self.view = memoryview(self.mm)[:self.capacity]

    def place(self, data: bytes) -> memoryview:
        """``data`` ending flush against the guard page, as a read-only memoryview."""
        n = len(data)
        if n > self.capacity:
            raise ValueError(f"{n} bytes do not fit in a guarded buffer of {self.capacity}")
        start = self.capacity - n
        self.view[start:] = data
        return self.view[start:].toreadonly()
