"""The frame of the adapters around plain picklers: :mod:`reference.frame`'s plain format, magic ``b"CFPK"``.

Layout (see :mod:`reference.frame`): a 16-byte header (magic, u32 number of buffers ``n``, u64 in-band
length), ``n`` pairs of u64 (offset, length), the in-band pickle, then each buffer at a multiple of 64
bytes from the frame start. Nothing is checksummed, so a damaged frame reaches the pickler under test.
:func:`read_frame` validates it and returns zero-copy views (read-only when the frame is).
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from reference.frame import Frame, FrameError, FrameFormat, byte_view
from reference.frame import read_frame as _read

__all__ = ["FORMAT", "FrameError", "PickleFrame", "read_frame"]

#: The adapters' frame format.
FORMAT = FrameFormat(b"CFPK", checked=False)


class PickleFrame(Frame):
    """A pickle stream and its out-of-band buffers, laid out by :meth:`write_to` (one copy per buffer)."""

    __slots__ = ()

    def __init__(self, inband: bytes, buffers: Sequence[Any] = ()) -> None:
        super().__init__(bytes(inband), [byte_view(b) for b in buffers], format=FORMAT)


def read_frame(frame: Any) -> Tuple[memoryview, List[memoryview]]:
    """(in-band view, buffer views) of ``frame``; :class:`FrameError` when it is not a valid frame."""
    parsed = _read(frame, format=FORMAT)
    return parsed.inband, parsed.buffers
