"""Mutants of numpy arrays and out-of-band buffers: dtypes, byte order, in-band size, zero copy,
read-only frames."""

from __future__ import annotations

import dataclasses
from typing import Any, List

import cloudpickle

from conformance.adapters.reference import ReferenceSerializer
from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import (
    MutantSerializer,
    pickler_dumps,
    reference_mutant,
    serializer_mutant,
    writable_alias,
)


class _TruncatesDatetimes(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if type(obj) is np.ndarray and obj.dtype.kind in "mM" and np.datetime_data(obj.dtype)[0] in (
                "ms", "us", "ns", "ps", "fs", "as"):
            coarse = obj.astype(obj.dtype.str[:-4] + "[s]" if obj.dtype.str.endswith("s]") else obj.dtype)
            return np.asarray, (coarse.tolist() if coarse.ndim else coarse.item(), coarse.dtype)
        return super().reducer_override(obj)


@mutant("truncates_datetimes", "serializer.numpy.roundtrip")
def truncates_datetimes() -> Implementation:
    """datetime64/timedelta64 arrays finer than seconds come back rounded to seconds."""
    return serializer_mutant("truncates_datetimes", MutantSerializer(pickler_dumps(_TruncatesDatetimes)))


class _NativeByteOrder(ReferenceSerializer):
    def serialize(self, obj: Any, *, protocol: int) -> Any:
        import numpy as np

        if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
            obj = obj.astype(obj.dtype.newbyteorder("="))
        return super().serialize(obj, protocol=protocol)


@mutant("native_byte_order", "serializer.numpy.byte_order")
def native_byte_order() -> Implementation:
    """Turns every array native-endian before serializing (values intact, byte order lost)."""
    impl = reference_mutant("native_byte_order", _NativeByteOrder())
    return dataclasses.replace(impl, capabilities=impl.capabilities | {"numpy_byte_order"})


@mutant("inband_buffers", "serializer.out_of_band.inband_size", "serializer.out_of_band.zero_copy")
def inband_buffers() -> Implementation:
    """Claims out-of-band buffers but pickles every array in-band."""
    return serializer_mutant("inband_buffers", MutantSerializer(out_of_band=False))


def _copies(buffers: List[memoryview]) -> List[bytes]:
    return [bytes(b) for b in buffers]


@mutant("copies_buffers", "serializer.out_of_band.zero_copy")
def copies_buffers() -> Implementation:
    """Copies each out-of-band buffer (read-only copies) before loading: no zero copy."""
    return serializer_mutant("copies_buffers", MutantSerializer(buffers=_copies))


def _writable(buffers: List[memoryview]) -> List[memoryview]:
    return [writable_alias(b) if b.readonly else b for b in buffers]


@mutant("writable_arrays", "serializer.out_of_band.read_only")
def writable_arrays() -> Implementation:
    """Hands out writable arrays over a read-only frame (shared memory, but writes go through)."""
    return serializer_mutant("writable_arrays", MutantSerializer(buffers=_writable))
