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


class _ScalarsAsPython(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if isinstance(obj, np.generic):
            return _same, (obj.item(),)  # what a fast path for "numbers" does
        return super().reducer_override(obj)


def _same(value: Any) -> Any:
    return value


@mutant("numpy_scalars_as_python", "serializer.numpy.scalars")
def numpy_scalars_as_python() -> Implementation:
    """Gives numpy scalars back as Python scalars (np.float32(1.5) as 1.5, np.int64 as int, np.bool_ as bool)."""
    return serializer_mutant("numpy_scalars_as_python", MutantSerializer(pickler_dumps(_ScalarsAsPython)))


def _strip_metadata(dtype: Any) -> Any:
    import numpy as np

    if dtype.names is None:
        if dtype.subdtype is not None:
            return np.dtype((_strip_metadata(dtype.subdtype[0]), dtype.subdtype[1]))
        return np.dtype(dtype.str)
    fields = dtype.fields
    return np.dtype({"names": list(dtype.names), "formats": [_strip_metadata(fields[n][0]) for n in dtype.names],
                     "offsets": [fields[n][1] for n in dtype.names], "itemsize": dtype.itemsize},
                    align=dtype.isalignedstruct)


class _DropsMetadata(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if type(obj) is np.ndarray and not obj.dtype.hasobject and _has_metadata(obj.dtype):
            return obj.view(_strip_metadata(obj.dtype)).__reduce_ex__(self.proto)
        return super().reducer_override(obj)


def _has_metadata(dtype: Any) -> bool:
    if dtype.metadata:
        return True
    return any(_has_metadata(dtype.fields[n][0]) for n in dtype.names or ())


@mutant("drops_dtype_metadata", "serializer.numpy.dtypes")
def drops_dtype_metadata() -> Implementation:
    """Rebuilds each array's dtype from its layout alone: dtype metadata (the dtype's and its fields') is lost."""
    return serializer_mutant("drops_dtype_metadata", MutantSerializer(pickler_dumps(_DropsMetadata)))


class _PacksStructured(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if type(obj) is np.ndarray and obj.dtype.names is not None and not obj.dtype.hasobject:
            packed = np.dtype([(n, obj.dtype.fields[n][0]) for n in obj.dtype.names])
            if packed != obj.dtype or obj.dtype.isalignedstruct:
                return obj.astype(packed).__reduce_ex__(self.proto)  # field by field, gaps dropped
        return super().reducer_override(obj)


@mutant("packs_structured", "serializer.numpy.dtypes")
def packs_structured() -> Implementation:
    """Rebuilds structured arrays packed (from names and formats): explicit offsets, padding, itemsize lost."""
    return serializer_mutant("packs_structured", MutantSerializer(pickler_dumps(_PacksStructured)))


class _SubclassAsNdarray(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if isinstance(obj, np.ndarray) and type(obj) is not np.ndarray:
            return np.asarray(obj).__reduce_ex__(self.proto)  # np.asarray on the way in
        return super().reducer_override(obj)


@mutant("subclass_as_ndarray", "serializer.numpy.subclasses")
def subclass_as_ndarray() -> Implementation:
    """Gives ndarray subclasses (masked arrays, record arrays) back as plain ndarrays."""
    return serializer_mutant("subclass_as_ndarray", MutantSerializer(pickler_dumps(_SubclassAsNdarray)))
