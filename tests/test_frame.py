"""The reference frame format: corrupt input is refused with a typed error, and write_to lays a frame into
any writable buffer."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
from reference import frame as rframe

# -- corrupt input -----------------------------------------------------------------------------------------

GOOD = reference.dumps({"a": np.arange(5), "b": "text"})


def _with(frame: bytes, fmt: str, offset: int, value, *, fix_checksum: bool = False) -> bytes:
    out = bytearray(frame)
    struct.pack_into(fmt, out, offset, value)
    if fix_checksum:
        rframe.fix_checksum(out)
    return bytes(out)


def _garbage_pickle(frame: bytes) -> bytes:
    """The frame with its in-band pickle overwritten by garbage, checksum recomputed to match."""
    header = rframe.read_header(frame)
    inband_off, inband_len = header.inband_offset, header.inband_length
    out = bytearray(frame)
    out[inband_off:inband_off + inband_len] = b"\xff" * inband_len
    return _with(bytes(out), "<I", 12, 0, fix_checksum=True)


CORRUPT = {
    "empty": (b"", "shorter than the 40-byte header"),
    "truncated-header": (GOOD[:39], "shorter than the 40-byte header"),
    "foreign-pickle": (pickle.dumps([1, 2, 3]) * 5, "bad magic"),
    "bad-magic": (b"XXXX" + GOOD[4:], "bad magic"),
    "future-version": (_with(GOOD, "<H", 4, 2), "unsupported frame format version 2"),
    "bad-protocol": (_with(GOOD, "<B", 6, 9), "protocol 9"),
    "truncated-frame": (GOOD[:-10], "truncated"),
    "table-past-end": (_with(GOOD, "<I", 8, 1 << 30), "buffer table"),
    "buffer-past-end": (_with(GOOD, "<Q", 40, 1 << 40, fix_checksum=True), "buffer 0"),
    "corrupt-buffer-table": (_with(GOOD, "<Q", 40, 1 << 40), "checksum mismatch"),
    "inband-past-end": (_with(GOOD, "<Q", 24, 1 << 40), "in-band pickle"),
    "flipped-inband-byte": (GOOD[:100] + bytes([GOOD[100] ^ 1]) + GOOD[101:], "checksum mismatch"),
    "buffer-overlaps-table": (_with(GOOD, "<Q", 40, 8, fix_checksum=True), "buffer 0"),
    "garbage-pickle": (_garbage_pickle(GOOD), "failed to load"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_frames_raise_deserialization_error(case):
    """Corrupt, truncated and foreign input raises DeserializationError saying what is wrong."""
    frame, fragment = CORRUPT[case]
    with pytest.raises(reference.DeserializationError, match=fragment) as info:
        reference.loads(frame)
    assert isinstance(info.value, pickle.UnpicklingError) and isinstance(info.value, ValueError)


def test_non_buffer_input_raises_deserialization_error():
    """A value that is not bytes-like is refused by name."""
    with pytest.raises(reference.DeserializationError, match="bytes-like.*str"):
        reference.loads("not bytes")


@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_deserialization_error(data):
    """Random input never crashes nor raises anything but DeserializationError."""
    with pytest.raises(reference.DeserializationError):
        reference.loads(data)


@given(position=st.integers(0, len(GOOD) - 1), mask=st.integers(1, 255), cut=st.integers(0, len(GOOD)))
def test_flipped_and_cut_frames_load_or_raise_deserialization_error(position, mask, cut):
    """A frame with a flipped byte, or cut short, loads or raises DeserializationError, nothing else."""
    frame = bytearray(GOOD)
    frame[position] ^= mask
    for candidate in (bytes(frame), GOOD[:cut]):
        try:
            reference.loads(candidate)
        except reference.DeserializationError:
            pass


# -- write_to ----------------------------------------------------------------------------------------------

def test_write_to_refuses_small_and_read_only_buffers():
    """write_to needs a writable buffer of at least frame_size bytes, and leaves bytes past it alone."""
    so = reference.serialize(np.arange(10))
    with pytest.raises(ValueError, match=f"needs {so.frame_size}"):
        so.write_to(bytearray(so.frame_size - 1))
    with pytest.raises(TypeError, match="writable"):
        so.write_to(bytes(so.frame_size))
    big = bytearray(b"\xee" * (so.frame_size + 10))
    so.write_to(big)
    assert big[so.frame_size:] == b"\xee" * 10
    assert bytes(big[:so.frame_size]) == so.to_bytes()
    assert np.array_equal(reference.loads(big), np.arange(10))


def test_write_to_accepts_a_typed_buffer():
    """Any C-contiguous writable buffer will do, whatever its item format."""
    so = reference.serialize([1, np.arange(3)])
    target = np.zeros((so.frame_size + 7) // 8, dtype=np.float64)
    so.write_to(target)
    assert reference.loads(target)[0] == 1
