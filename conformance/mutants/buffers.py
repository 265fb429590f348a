"""Mutants of numpy arrays and out-of-band buffers: dtypes, byte order, in-band size, zero copy,
read-only frames."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, Callable, List

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


# -- serializer paths: a fast path that misjudges a value, buffers in-band or out of order ----------------------
#: What stdlib pickle saves as the reference's pickler does, by exact type.
_ATOM_TYPES = (type(None), bool, int, float, str, bytes)


def _fast_path_reference(name: str, decide: Callable[[Any], bool]) -> Implementation:
    """The reference, whose values that ``decide`` picks skip its pickler: stdlib ``pickle.dumps``, no
    buffers (a fast path for plain data that judges the value wrongly)."""
    import reference
    from reference.serializer import SerializedObject

    class _FastPath(reference.Serializer):
        def serialize(self, obj: Any, *, protocol: Any = None) -> Any:
            chosen = protocol or self.protocol
            if decide(obj):
                return SerializedObject(pickle.dumps(obj, chosen), (), chosen)
            return super().serialize(obj, protocol=protocol)

    adapter = ReferenceSerializer()
    adapter._ser = _FastPath()
    return reference_mutant(name, adapter)


def _by_isinstance(obj: Any) -> bool:
    if isinstance(obj, _ATOM_TYPES):
        return True
    return isinstance(obj, (list, tuple)) and len(obj) <= 64 and all(isinstance(v, _ATOM_TYPES) for v in obj)


@mutant("fast_path_isinstance", "serializer.classes.builtin_subclasses")
def fast_path_isinstance() -> Implementation:
    """Its stdlib fast path tests isinstance(x, int/str/tuple): run-time IntEnum, NamedTuple and str subclass
    instances go by reference."""
    return _fast_path_reference("fast_path_isinstance", _by_isinstance)


#: How many items the ``fast_path_scans_head`` mutant looks at.
HEAD = 8


def _by_head(obj: Any) -> bool:
    if type(obj) in (list, tuple):
        head = list(obj[:HEAD])
    elif type(obj) is dict:
        head = [v for _, v in zip(range(HEAD), obj.values())] + list(obj)[:HEAD]
    else:
        return False
    return all(type(v) in _ATOM_TYPES for v in head)


@mutant("fast_path_scans_head", "serializer.classes.builtin_subclasses", "serializer.out_of_band.zero_copy")
def fast_path_scans_head() -> Implementation:
    """Its stdlib fast path judges a container by its first 8 items: what follows (arrays, run-time classes)
    is pickled in-band or by reference."""
    return _fast_path_reference("fast_path_scans_head", _by_head)


def _arrays_only_out_of_band(buffer_callback: Any) -> Any:
    def callback(pb: pickle.PickleBuffer) -> Any:
        import numpy as np

        if not isinstance(pb.raw().obj, np.ndarray):
            return True  # a true value: this buffer is pickled in-band
        return buffer_callback(pb)

    return callback


@mutant("pickle_buffers_inband", "serializer.out_of_band.buffers")
def pickle_buffers_inband() -> Implementation:
    """Sends numpy arrays out-of-band but pickle.PickleBuffer objects and memoryviews in-band."""
    import reference

    class _Inband(reference.Serializer):
        def _pickle(self, obj: Any, protocol: int, file: Any, buffer_callback: Any) -> None:
            callback = buffer_callback and _arrays_only_out_of_band(buffer_callback)
            super()._pickle(obj, protocol, file, callback)

    adapter = ReferenceSerializer()
    adapter._ser = _Inband()
    return reference_mutant("pickle_buffers_inband", adapter)


def _reversed(buffers: List[memoryview]) -> List[memoryview]:
    return buffers[::-1]


@mutant("buffers_reordered", "serializer.out_of_band.buffers")
def buffers_reordered() -> Implementation:
    """Hands the out-of-band buffers to the loader in reverse order."""
    return serializer_mutant("buffers_reordered", MutantSerializer(buffers=_reversed))
