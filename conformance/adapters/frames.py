"""A minimal frame for adapters around plain picklers: header, in-band pickle, 64-byte aligned buffers.

Layout (little-endian): magic ``b"CFPK"``, u32 number of buffers ``n``, u64 in-band length, ``n`` pairs of
u64 (offset, length), the in-band pickle, then each buffer at a multiple of 64 bytes from the frame start.
:func:`read_frame` validates it and returns zero-copy views (read-only when the frame is).
"""

from __future__ import annotations

import struct
from typing import Any, List, Sequence, Tuple

__all__ = ["FrameError", "PickleFrame", "read_frame"]

MAGIC = b"CFPK"
_HEAD = struct.Struct("<4sIQ")
_ENTRY = struct.Struct("<QQ")
ALIGNMENT = 64


class FrameError(ValueError):
    """A frame is truncated, foreign or inconsistent."""


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _raw(buf: Any) -> memoryview:
    view = memoryview(buf)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


class PickleFrame:
    """A pickle stream and its out-of-band buffers, laid out by :meth:`write_to` (one copy per buffer)."""

    __slots__ = ("inband", "buffers", "frame_size", "_layout")

    def __init__(self, inband: bytes, buffers: Sequence[Any] = ()) -> None:
        self.inband = bytes(inband)
        self.buffers: Tuple[memoryview, ...] = tuple(_raw(b) for b in buffers)
        pos = _HEAD.size + _ENTRY.size * len(self.buffers) + len(self.inband)
        layout: List[Tuple[int, int]] = []
        for buf in self.buffers:
            start = _align(pos)
            layout.append((start, buf.nbytes))
            pos = start + buf.nbytes
        self._layout = tuple(layout)
        self.frame_size = pos

    def write_to(self, buffer: Any) -> int:
        target = _raw(buffer)
        if target.nbytes < self.frame_size:
            raise ValueError(f"the buffer holds {target.nbytes} bytes; this frame needs {self.frame_size}")
        head = _HEAD.pack(MAGIC, len(self.buffers), len(self.inband)) + b"".join(
            _ENTRY.pack(o, n) for o, n in self._layout) + self.inband
        target[:len(head)] = head
        for (offset, length), buf in zip(self._layout, self.buffers):
            target[offset:offset + length] = buf
        return self.frame_size

    def to_bytes(self) -> bytes:
        out = bytearray(self.frame_size)
        self.write_to(out)
        return bytes(out)


def read_frame(frame: Any) -> Tuple[memoryview, List[memoryview]]:
    """(in-band view, buffer views) of ``frame``; :class:`FrameError` when it is not a valid frame."""
    try:
        view = _raw(frame)
    except TypeError as exc:
        raise FrameError(f"a frame must be a bytes-like object, got {type(frame).__name__}") from exc
    if view.nbytes < _HEAD.size:
        raise FrameError(f"a frame of {view.nbytes} bytes is shorter than its {_HEAD.size}-byte header")
    magic, n, inband_len = _HEAD.unpack_from(view)
    if magic != MAGIC:
        raise FrameError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    start = _HEAD.size + _ENTRY.size * n
    if start + inband_len > view.nbytes:
        raise FrameError("the frame is truncated: its in-band pickle runs past the end")
    buffers = []
    for i in range(n):
        offset, length = _ENTRY.unpack_from(view, _HEAD.size + _ENTRY.size * i)
        if offset < start + inband_len or offset + length > view.nbytes:
            raise FrameError(f"buffer {i} at [{offset}, {offset + length}) lies outside the frame")
        buffers.append(view[offset:offset + length])
    return view[start:start + inband_len], buffers
