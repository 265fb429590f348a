"""Mutants of values: native values, identity structure, pickle protocols."""

from __future__ import annotations

import enum
import io
import pickle
from typing import Any, List

import cloudpickle

from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import MutantSerializer, pickler_dumps, serializer_mutant


def _bytes_from(*args: Any) -> bytes:
    return bytes(bytearray(*args))


class _BytearrayAsBytes(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "bytearray"):
            return _bytes_from
        return super().find_class(module, name)


def _load_bytearray_as_bytes(inband: Any, *, buffers: Any) -> Any:
    return _BytearrayAsBytes(io.BytesIO(bytes(inband)), buffers=buffers).load()


@mutant("bytearray_as_bytes", "serializer.native.roundtrip")
def bytearray_as_bytes() -> Implementation:
    """bytearray comes back as bytes (protocols 3 and 4, where bytearray is rebuilt by name)."""
    return serializer_mutant("bytearray_as_bytes", MutantSerializer(loads=_load_bytearray_as_bytes),
                             protocols=(3, 4))


@mutant("no_memo", "serializer.identity.shared", "serializer.identity.recursive", "serializer.numpy.shared_members")
def no_memo() -> Implementation:
    """Pickles in "fast" mode (no memo): shared references come back as copies, cycles fail."""
    return serializer_mutant("no_memo", MutantSerializer(pickler_dumps(fast=True)))


@mutant("ignores_protocol", "serializer.protocols.roundtrip")
def ignores_protocol() -> Implementation:
    """Always pickles at protocol 5, whatever protocol was asked for."""
    return serializer_mutant("ignores_protocol", MutantSerializer(pickler_dumps(protocol=5)))


class _PrivateStrings(cloudpickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        # A bytes id: an id holding the str itself would be asked for its own id again on Python 3.8.
        return obj.encode("utf-8", "surrogatepass") if type(obj) is str else None


class _PrivateUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return pid.decode("utf-8", "surrogatepass")


def _load_private(inband: Any, *, buffers: Any) -> Any:
    return _PrivateUnpickler(io.BytesIO(bytes(inband)), buffers=buffers).load()


@mutant("private_inband", "serializer.protocols.stdlib_loads")
def private_inband() -> Implementation:
    """Writes strings as persistent ids that only its own loader understands: stdlib pickle cannot load it."""
    return serializer_mutant("private_inband", MutantSerializer(pickler_dumps(_PrivateStrings),
                                                                 loads=_load_private))


class _PlainBuiltins(cloudpickle.Pickler):
    _bases = (int, str, bytes, tuple, list, dict, set)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, enum.Enum):
            return _identity, (obj.value,)  # a member travels as its bare value
        t = type(obj)
        if t not in self._bases and isinstance(obj, self._bases) and not isinstance(obj, bool):
            base: Any = next(b for b in self._bases if isinstance(obj, b))
            return base, (base(obj),)  # a subclass instance travels as its builtin base
        return super().reducer_override(obj)


def _identity(x: Any) -> Any:
    return x


@mutant("plain_builtins", "serializer.native.subclasses", "serializer.native.mixed")
def plain_builtins() -> Implementation:
    """Pickles builtin-subclass instances as their builtin base and enum members as their bare values."""
    return serializer_mutant("plain_builtins", MutantSerializer(pickler_dumps(_PlainBuiltins)))


#: The nesting depth beyond which the ``shallow_stack`` mutant gives up.
SHALLOW_DEPTH = 40


def _depth(value: Any, limit: int) -> int:
    depth, level = 0, [value]
    while level and depth <= limit:
        nxt: List[Any] = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(v.values())
            elif isinstance(v, (list, tuple)):
                nxt.extend(v)
        level, depth = nxt, depth + 1
    return depth


def _shallow_dumps(obj: Any, *, protocol: int, buffer_callback: Any = None) -> bytes:
    if _depth(obj, SHALLOW_DEPTH) > SHALLOW_DEPTH:
        raise RecursionError(f"nesting deeper than {SHALLOW_DEPTH} levels (a pickler on a small stack)")
    return pickler_dumps()(obj, protocol=protocol, buffer_callback=buffer_callback)


@mutant("shallow_stack", "serializer.native.deep")
def shallow_stack() -> Implementation:
    """Refuses values nested more than 40 levels deep, as a pickler on a small thread stack does."""
    return serializer_mutant("shallow_stack", MutantSerializer(_shallow_dumps))


def _canonical_nans(value: Any) -> Any:
    """``value`` with every nan (Python floats and complex parts, numpy float and complex arrays, numpy float
    scalars) replaced by the canonical nan: its sign and payload lost."""
    import numpy as np

    t = type(value)
    if t is float:
        return float("nan") if value != value else value
    if t is complex:
        return complex(_canonical_nans(value.real), _canonical_nans(value.imag))
    if t in (list, tuple):
        return t(_canonical_nans(v) for v in value)
    if t is dict:
        return {k: _canonical_nans(v) for k, v in value.items()}
    if t is np.ndarray and value.dtype.kind in "fc":
        value = value.copy()
        for part in ((value.real, value.imag) if value.dtype.kind == "c" else (value,)):
            part[np.isnan(part)] = np.nan
        return value
    if isinstance(value, np.floating) and np.isnan(value):
        return type(value)(np.nan)
    return value


def _load_canonical_nans(inband: Any, *, buffers: Any) -> Any:
    return _canonical_nans(pickle.loads(inband, buffers=buffers))


@mutant("canonical_nan", "serializer.native.roundtrip", "serializer.numpy.roundtrip")
def canonical_nan() -> Implementation:
    """Gives every nan back as the canonical nan (floats, complex parts, float arrays): sign and payload lost."""
    return serializer_mutant("canonical_nan", MutantSerializer(loads=_load_canonical_nans))
