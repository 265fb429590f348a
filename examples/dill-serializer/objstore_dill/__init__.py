"""An example serializer: dill, with pickle protocol 5's out-of-band buffers laid after the pickle.

A frame is ``b"DILF"``, the buffer count and the pickle's length (little-endian ``u32``, ``u64``), each
buffer's length (``u64``), the pickle, then each buffer at the next multiple of 64 bytes, so that arrays
read back from the frame are views of it (zero copy) and aligned.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, List, Sequence

import dill

__all__ = ["DillFrame", "DillSerializer", "FrameError", "SerializationError"]

_MAGIC = b"DILF"
_HEAD = struct.Struct("<4sIQ")
_LEN = struct.Struct("<Q")
ALIGN = 64


class SerializationError(Exception):
    """A value cannot be serialized; the cause is chained."""


#: How pickle (and dill) refuse a value. Anything else raised while pickling (a value's own error from its
#: ``__reduce__`` or ``__getstate__``) propagates with its own type, as from ``pickle.dumps``.
REFUSALS = (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError)


class FrameError(ValueError):
    """A frame is corrupt, truncated or not a frame of this serializer."""


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class DillFrame:
    """A serialized value: the in-band pickle and its out-of-band buffers."""

    def __init__(self, inband: bytes, buffers: Sequence[memoryview]) -> None:
        self.inband = inband
        self.buffers = list(buffers)
        end = _HEAD.size + _LEN.size * len(self.buffers) + len(inband)
        self._offsets: List[int] = []
        for b in self.buffers:
            end = _aligned(end)
            self._offsets.append(end)
            end += b.nbytes
        self.frame_size = end

    def write_to(self, buffer: Any) -> int:
        """Lay the frame into ``buffer`` (writable, ``frame_size`` bytes or more); return ``frame_size``."""
        out = memoryview(buffer).cast("B")
        head = _HEAD.pack(_MAGIC, len(self.buffers), len(self.inband))
        head += b"".join(_LEN.pack(b.nbytes) for b in self.buffers)
        out[:len(head)] = head
        out[len(head):len(head) + len(self.inband)] = self.inband
        for offset, b in zip(self._offsets, self.buffers):
            out[offset:offset + b.nbytes] = b.cast("B") if b.ndim != 1 or b.format != "B" else b
        return self.frame_size


class DillSerializer:
    """``dill.dumps`` / ``dill.loads`` with out-of-band buffers at protocol 5."""

    def serialize(self, obj: Any, *, protocol: int) -> DillFrame:
        buffers: List[Any] = []
        try:
            if protocol >= 5:
                inband = dill.dumps(obj, protocol=protocol, buffer_callback=buffers.append)
            else:
                inband = dill.dumps(obj, protocol=protocol)
        except REFUSALS as exc:  # pickle's ways of refusing a value; callers catch one type
            raise SerializationError(f"cannot serialize {type(obj).__name__}: {exc}") from exc
        return DillFrame(inband, [b.raw() for b in buffers])

    def deserialize(self, frame: Any) -> Any:
        try:
            view = memoryview(frame).cast("B")
        except TypeError as exc:
            raise FrameError(f"a frame must be a C-contiguous buffer, got {type(frame).__name__}") from exc
        if view.nbytes < _HEAD.size:
            raise FrameError(f"a frame of {view.nbytes} bytes is shorter than its header")
        magic, count, inband_len = _HEAD.unpack_from(view)
        if magic != _MAGIC:
            raise FrameError(f"bad magic {bytes(magic)!r}, expected {_MAGIC!r}")
        pos = _HEAD.size + _LEN.size * count
        if pos > view.nbytes:
            raise FrameError("the frame is truncated inside its header")
        lengths = [_LEN.unpack_from(view, _HEAD.size + _LEN.size * i)[0] for i in range(count)]
        inband = view[pos:pos + inband_len]
        end = pos + inband_len
        buffers = []
        for n in lengths:
            end = _aligned(end)
            buffers.append(view[end:end + n])
            end += n
        if end > view.nbytes:
            raise FrameError(f"the header says {end} bytes, the frame has {view.nbytes}")
        try:
            return dill.loads(inband, buffers=buffers)
        except Exception as exc:  # noqa: BLE001 - a corrupt pickle can raise almost anything
            raise FrameError(f"the frame's pickle does not load: {exc}") from exc
