"""The frame format: one pickle stream and its out-of-band buffers, laid out in one buffer, 64-byte aligned.

This module is the one place the format is written down; the reference serializer, the conformance
adapters, the tests and the fuzzers all import it. A format is a :class:`FrameFormat`: a magic and a kind
of header. The reference serializer's frame (:data:`REFERENCE_FORMAT`) has the *checked* header (all
integers little-endian; every buffer starts at a multiple of 64 bytes from the frame start, so a frame
written at a 64-byte-aligned address gives aligned numpy data)::

    offset  size  field
    0       4     magic  b"OSCF"
    4       2     format version (1)
    6       1     pickle protocol (3, 4 or 5)
    7       1     flags (0; reserved)
    8       4     number of out-of-band buffers, n
    12      4     CRC-32 of bytes [0, 12) and [16, end of the in-band pickle)
    16      8     offset of the in-band pickle
    24      8     length of the in-band pickle
    32      8     frame size: the bytes this frame occupies
    40      16*n  buffer table: (offset, length) of each buffer
    ...           the in-band pickle, then each buffer, zero padding between them

A *plain* format (``checked=False``, used by the conformance adapters around other picklers) has a 16-byte
header: magic, u32 number of buffers ``n``, u64 length of the in-band pickle; then the same buffer table,
the in-band pickle right after it and each buffer at the next multiple of 64 bytes. It records no version,
protocol, frame size or checksum, so a damaged plain frame reaches the unpickler.

The checksum covers the header, the buffer table and the in-band pickle, not the out-of-band buffers (plain
data, read zero-copy). It exists because unpickling corrupt bytes is not safe: numpy 2.4's dtype
``__setstate__`` can crash the interpreter on a malformed state (found by ``tests/stress/fuzz_deserialize.py``),
so a damaged frame is refused before pickle sees it. It costs about 0.4 s per GiB of in-band data
(protocols 3 and 4 carry arrays in-band) and nothing that grows with out-of-band buffers.

:class:`Frame` is the writer (it computes the size, then lays the frame into any writable buffer with one
copy of each buffer's data); :func:`read_frame` is the validating reader (zero-copy views of the frame,
read-only when the frame is; :class:`FrameError` naming what is wrong). Bytes past the frame are ignored.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "ALIGNMENT",
    "ENTRY_SIZE",
    "FORMAT_VERSION",
    "Frame",
    "FrameError",
    "FrameFormat",
    "HEADER_SIZE",
    "Header",
    "MAGIC",
    "ParsedFrame",
    "REFERENCE_FORMAT",
    "SUPPORTED_PROTOCOLS",
    "align",
    "byte_view",
    "fix_checksum",
    "read_frame",
    "read_header",
]

MAGIC = b"OSCF"
FORMAT_VERSION = 1
ALIGNMENT = 64
SUPPORTED_PROTOCOLS = (3, 4, 5)

_CHECKED = struct.Struct("<4sHBBIIQQQ")
_PLAIN = struct.Struct("<4sIQ")
_ENTRY = struct.Struct("<QQ")
_CRC = struct.Struct("<I")
_CRC_OFFSET = 12
_CRC_END = _CRC_OFFSET + _CRC.size
# The checked header in the two parts the CRC covers (it sits between them), for the writer's hot path.
_HEAD_BEFORE_CRC = struct.Struct("<4sHBBI")  # magic, version, protocol, flags, nbuf: bytes [0, 12)
_HEAD_AFTER_CRC = struct.Struct("<QQQ")  # in-band offset and length, frame size: bytes [16, 40)
_crc32 = zlib.crc32
#: Size of the checked header (the reference format's), in bytes.
HEADER_SIZE = _CHECKED.size  # 40
#: Size of one buffer-table entry: u64 offset, u64 length.
ENTRY_SIZE = _ENTRY.size  # 16


class FrameError(ValueError):
    """A frame is truncated, foreign or inconsistent; the message says which check failed.

    Deliberately not a ``pickle.UnpicklingError``: the reference serializer re-raises it as its
    :class:`reference.DeserializationError`, and the adapters around plain picklers declare it beside
    pickle's own errors (the ``untyped_errors`` mutant, which declares only ``UnpicklingError``, is caught
    because a truncated frame raises this).
    """


class FrameFormat(NamedTuple):
    """One frame format: its magic and its kind of header (see the module docstring)."""

    magic: bytes
    #: True: the versioned 40-byte header with protocol, frame size and CRC-32; False: the 16-byte plain one.
    checked: bool = True


#: The reference serializer's frame.
REFERENCE_FORMAT = FrameFormat(MAGIC, checked=True)


class Header(NamedTuple):
    """The fields of a checked header, as written (unvalidated)."""

    magic: bytes
    version: int
    protocol: int
    flags: int
    nbuf: int
    crc: int
    inband_offset: int
    inband_length: int
    frame_size: int


class ParsedFrame(NamedTuple):
    """A validated frame: zero-copy views of its in-band pickle and buffers.

    ``protocol`` is the recorded pickle protocol (``None`` for a plain format, which records none);
    ``frame_size`` is the number of bytes the frame occupies (bytes past it were ignored).
    """

    protocol: Optional[int]
    inband: memoryview
    buffers: List[memoryview]
    frame_size: int


def align(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`ALIGNMENT`."""
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def byte_view(buf: Any) -> memoryview:
    """``buf`` (any C-contiguous buffer) as a 1-D memoryview of unsigned bytes, without a copy."""
    view = memoryview(buf)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _checksum(frame: Any, end: int) -> int:
    """CRC-32 of ``frame[:12]`` and ``frame[16:end]``: the frame's checksummed part, minus the CRC field."""
    view = memoryview(frame)
    return _crc32(view[_CRC_END:end], _crc32(view[:_CRC_OFFSET]))


def read_header(frame: Any) -> Header:
    """The checked header at the start of ``frame``, unvalidated (for tools and tests that edit frames)."""
    return Header(*_CHECKED.unpack_from(frame))


def fix_checksum(frame: bytearray) -> None:
    """Rewrite the CRC-32 of a checked frame edited on purpose, so that the edit gets past the checksum.

    The in-band pickle is taken from the header as it now reads, cut at the end of ``frame``.
    """
    header = read_header(frame)
    end = min(header.inband_offset + header.inband_length, len(frame))
    _CRC.pack_into(frame, _CRC_OFFSET, _checksum(frame, end))


class Frame:
    """A pickle stream and its out-of-band buffers, not yet laid out.

    ``buffers`` are 1-D memoryviews of unsigned bytes (``PickleBuffer.raw()`` gives them; :func:`byte_view`
    makes one of any C-contiguous buffer). ``frame_size`` is the exact number of bytes :meth:`write_to`
    writes. Holding a frame keeps the buffers' producers alive; nothing is copied until :meth:`write_to` or
    :meth:`to_bytes`. ``protocol`` is recorded by a checked format and ignored by a plain one.
    """

    __slots__ = ("inband", "buffers", "protocol", "format", "frame_size", "_layout")

    def __init__(self, inband: bytes, buffers: Sequence[memoryview] = (), *, protocol: int = 5,
                 format: FrameFormat = REFERENCE_FORMAT) -> None:
        self.inband = inband
        self.buffers: Sequence[memoryview] = tuple(buffers)
        self.protocol = protocol
        self.format = format
        end = (_CHECKED.size if format.checked else _PLAIN.size) + _ENTRY.size * len(self.buffers) + len(inband)
        layout: List[Tuple[int, int]] = []
        for buf in self.buffers:
            start = align(end)
            layout.append((start, buf.nbytes))
            end = start + buf.nbytes
        self._layout: Sequence[Tuple[int, int]] = layout
        self.frame_size = end

    def _prefix(self) -> bytes:
        """Header and buffer table, with the checksum of them and the in-band pickle (not copied)."""
        n = len(self.buffers)
        table = b"".join([_ENTRY.pack(offset, length) for offset, length in self._layout]) if n else b""
        fmt = self.format
        if not fmt.checked:
            return _PLAIN.pack(fmt.magic, n, len(self.inband)) + table
        before = _HEAD_BEFORE_CRC.pack(fmt.magic, FORMAT_VERSION, self.protocol, 0, n)
        after = _HEAD_AFTER_CRC.pack(HEADER_SIZE + ENTRY_SIZE * n, len(self.inband), self.frame_size)
        crc = _crc32(after, _crc32(before))
        if n:
            crc = _crc32(table, crc)
        crc = _crc32(self.inband, crc)
        return b"".join((before, _CRC.pack(crc), after, table))

    def write_to(self, buffer: Any, *, copy: Optional[Callable[[memoryview, memoryview], None]] = None) -> int:
        """Write the frame into ``buffer`` (any writable, C-contiguous buffer of ``frame_size`` bytes or more).

        Each out-of-band buffer is copied exactly once, straight into place; padding is zeroed. Bytes past
        ``frame_size`` are left untouched. Returns ``frame_size``. ``copy(target, source)``, when given,
        copies each out-of-band buffer instead of a slice assignment (the store's parallel copy,
        :func:`reference.copying.copy_into`).

        Raises ``TypeError`` for a read-only buffer and ``ValueError`` for one that is too small.
        """
        target = memoryview(buffer)
        if target.readonly:
            raise TypeError("write_to needs a writable buffer; got a read-only one")
        if not target.c_contiguous:
            raise ValueError("write_to needs a C-contiguous buffer")
        if target.format != "B" or target.ndim != 1:
            target = target.cast("B")
        if target.nbytes < self.frame_size:
            raise ValueError(
                f"the buffer holds {target.nbytes} bytes but this frame needs {self.frame_size}"
            )
        return self.write_into(target, copy=copy)

    def write_into(self, target: memoryview, *, copy: Optional[Callable[[memoryview, memoryview], None]] = None
                   ) -> int:
        """:meth:`write_to` without its checks, for a caller whose ``target`` is known to be a writable,
        C-contiguous, one-dimensional memoryview of unsigned bytes, ``frame_size`` long or longer (the
        store's own slice of its mapping). Returns ``frame_size``."""
        prefix = self._prefix()
        pos = len(prefix)
        target[:pos] = prefix
        target[pos:pos + len(self.inband)] = self.inband
        pos += len(self.inband)
        for (offset, length), buf in zip(self._layout, self.buffers):
            if offset > pos:
                target[pos:offset] = bytes(offset - pos)
            if copy is None:
                target[offset:offset + length] = buf
            else:
                copy(target[offset:offset + length], buf)
            pos = offset + length
        return self.frame_size

    def to_bytes(self) -> bytes:
        """The frame as one ``bytes`` object (one copy of each buffer)."""
        parts: List[Any] = [self._prefix(), self.inband]
        pos = len(parts[0]) + len(self.inband)
        for (offset, length), buf in zip(self._layout, self.buffers):
            parts.append(bytes(offset - pos))
            parts.append(buf)
            pos = offset + length
        return b"".join(parts)


def read_frame(frame: Any, *, format: FrameFormat = REFERENCE_FORMAT) -> ParsedFrame:
    """Validate ``frame`` (any C-contiguous buffer) and return views of its in-band pickle and buffers.

    Raises :class:`FrameError` naming the failed check: not bytes-like, shorter than the header, bad magic,
    and for a checked format an unsupported version or protocol, a truncated frame, a buffer table or
    in-band pickle outside the frame, or a checksum mismatch; for any format a buffer outside the frame's
    payload. Reads nothing past the frame; O(in-band size) for the checksum, O(1) per buffer.
    """
    return ParsedFrame._make(_read(frame, format))


_Parsed = Tuple[Optional[int], memoryview, List[memoryview], int]


def _read(frame: Any, format: FrameFormat = REFERENCE_FORMAT) -> _Parsed:
    """:func:`read_frame` as a plain tuple, for the reference serializer's loads (saves a NamedTuple)."""
    try:
        view = memoryview(frame)
    except TypeError as exc:
        raise FrameError(f"a frame must be a bytes-like object, got {type(frame).__name__}") from exc
    if not view.c_contiguous:
        raise FrameError("a frame must be a C-contiguous buffer")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if not format.checked:
        return _read_plain(view, format.magic)
    # The checked format inline, not in a helper: every reference loads goes through here.
    size = view.nbytes
    if size < HEADER_SIZE:
        raise _too_short(size, HEADER_SIZE)
    magic, version, protocol, _flags, nbuf, crc, inband_off, inband_len, frame_size = _CHECKED.unpack_from(view)
    if magic != format.magic:
        raise _bad_magic(magic, format.magic)
    if version != FORMAT_VERSION:
        raise FrameError(
            f"unsupported frame format version {version} (this reader supports {FORMAT_VERSION})"
        )
    if protocol not in SUPPORTED_PROTOCOLS:
        raise FrameError(
            f"the frame records pickle protocol {protocol}; supported are {SUPPORTED_PROTOCOLS}"
        )
    if nbuf and protocol < 5:
        raise FrameError(
            f"the frame has {nbuf} out-of-band buffers but protocol {protocol} cannot have any"
        )
    if frame_size > size:
        raise FrameError(
            f"the frame declares {frame_size} bytes but only {size} are present: truncated"
        )
    table_end = HEADER_SIZE + ENTRY_SIZE * nbuf
    if table_end > frame_size:
        raise _table_past_end(nbuf, table_end, frame_size)
    inband_end = inband_off + inband_len
    if inband_off < table_end or inband_end > frame_size:
        raise _inband_outside(inband_off, inband_end, table_end, frame_size)
    actual = _crc32(view[_CRC_END:inband_end], _crc32(view[:_CRC_OFFSET]))
    if actual != crc:
        raise FrameError(
            f"checksum mismatch (recorded {crc:#010x}, computed {actual:#010x}): the frame's header, "
            f"buffer table or in-band pickle is corrupt"
        )
    buffers = []
    for i in range(nbuf):
        offset, length = _ENTRY.unpack_from(view, HEADER_SIZE + ENTRY_SIZE * i)
        if offset < table_end or offset + length > frame_size:
            raise _buffer_outside(i, offset, length, table_end, frame_size)
        buffers.append(view[offset:offset + length])
    return protocol, view[inband_off:inband_end], buffers, frame_size


def _too_short(size: int, head: int) -> FrameError:
    return FrameError(f"the frame is {size} bytes, shorter than the {head}-byte header: truncated, or not a frame")


def _bad_magic(magic: bytes, expected: bytes) -> FrameError:
    return FrameError(f"bad magic {bytes(magic)!r} (expected {expected!r}): not a frame written by this serializer")


def _table_past_end(nbuf: int, table_end: int, frame_size: int) -> FrameError:
    return FrameError(
        f"the buffer table of {nbuf} entries ends at byte {table_end}, past the frame's end ({frame_size})"
    )


def _inband_outside(inband_off: int, inband_end: int, table_end: int, frame_size: int) -> FrameError:
    return FrameError(
        f"the in-band pickle at [{inband_off}, {inband_end}) lies outside the frame's payload "
        f"[{table_end}, {frame_size})"
    )


def _buffer_outside(i: int, offset: int, length: int, payload_start: int, frame_size: int) -> FrameError:
    return FrameError(
        f"buffer {i} at [{offset}, {offset + length}) points outside the frame's payload "
        f"[{payload_start}, {frame_size})"
    )


def _read_plain(view: memoryview, expected_magic: bytes) -> _Parsed:
    size = view.nbytes
    if size < _PLAIN.size:
        raise _too_short(size, _PLAIN.size)
    magic, nbuf, inband_len = _PLAIN.unpack_from(view)
    if magic != expected_magic:
        raise _bad_magic(magic, expected_magic)
    table_end = _PLAIN.size + _ENTRY.size * nbuf
    if table_end > size:
        raise _table_past_end(nbuf, table_end, size)
    inband_end = table_end + inband_len
    if inband_end > size:
        raise _inband_outside(table_end, inband_end, table_end, size)
    buffers, end = _buffers(view, _PLAIN.size, nbuf, inband_end, size)
    return None, view[table_end:inband_end], buffers, max(inband_end, end)


def _buffers(view: memoryview, head: int, nbuf: int, payload_start: int, frame_size: int
             ) -> Tuple[List[memoryview], int]:
    """Views of the ``nbuf`` buffers in the table at ``head``, and the end of the last one."""
    buffers = []
    end = 0
    for i in range(nbuf):
        offset, length = _ENTRY.unpack_from(view, head + _ENTRY.size * i)
        if offset < payload_start or offset + length > frame_size:
            raise _buffer_outside(i, offset, length, payload_start, frame_size)
        buffers.append(view[offset:offset + length])
        end = max(end, offset + length)
    return buffers, end
