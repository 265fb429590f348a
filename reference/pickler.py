"""The reference Pickler: cloudpickle's Pickler plus our reducers, and the reconstructors frames name.

What it adds to cloudpickle: custom serializers (Ray's ``register_serializer``), ``memoryview`` objects sent
out-of-band at protocol 5, numpy arrays of non-native byte order kept bit for bit, a warning for a large
non-contiguous array copied in-band, open files refused, ``__slots__`` kept on classes rebuilt by value,
classes with an unhashable metaclass pickled by value, and a memo of what cloudpickle pickles by reference.

The reconstructors (``_make_array``, ``_make_memoryview``, ``_view_as``, ``_make_custom``) are module-level
so that frames refer to them by name (``reference.pickler._make_memoryview``): renaming or moving one breaks
frames written before.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
import warnings
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import cloudpickle
import numpy as np

__all__ = ["LARGE_COPY_WARNING_BYTES", "CustomSerializers", "NonContiguousCopyWarning", "Pickler", "PlainArray",
           "plain_array_reduction"]

#: A non-contiguous array at least this large is copied in-band with a warning (once per process).
LARGE_COPY_WARNING_BYTES = 1 << 20

#: ``cls -> (serializer, deserializer)``: the custom serializers a :class:`Pickler` applies.
CustomSerializers = Mapping[type, Tuple[Callable[[Any], Any], Callable[[Any], Any]]]


class NonContiguousCopyWarning(UserWarning):
    """A large non-contiguous numpy array was copied into the pickle stream instead of sent out-of-band."""


# ---------------------------------------------------------------------------------------------------------
# Reconstructors.

def _make_memoryview(data: Any, fmt: str, shape: Tuple[int, ...]) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if fmt == "B" and len(shape) == 1:
        return view
    shaped: memoryview = view.cast(fmt, shape)  # type: ignore[call-overload]  # any struct format
    return shaped


#: dtype strings already parsed (numpy's ``dtype(str)`` costs more than the rest of a small array's load).
#: Bounded: a frame may carry any string, and only the few plain ones recur.
_dtypes: Dict[str, np.dtype[Any]] = {}


def _make_array(data: Any, dtype: str, shape: Tuple[int, ...], order: str) -> np.ndarray[Any, Any]:
    """A plain numpy array over the out-of-band buffer ``data`` (see :func:`plain_array_reduction`)."""
    dt = _dtypes.get(dtype)
    if dt is None:
        dt = np.dtype(dtype)
        if len(_dtypes) < 64:
            _dtypes[dtype] = dt
    array: np.ndarray[Any, Any] = np.frombuffer(data, dtype=dt)
    if array.shape == shape:  # one dimension, all of the buffer: already what reshape would give
        return array
    return array.reshape(shape, order=order)  # type: ignore[call-overload,no-any-return]


def _view_as(array: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    return array.view(dtype)


def _make_custom(deserializer: Callable[[Any], Any], payload: Any) -> Any:
    return deserializer(payload)


# ---------------------------------------------------------------------------------------------------------
# Plain arrays, reduced directly.
#
# numpy's own protocol-5 reduction of an array is ``_frombuffer(PickleBuffer, dtype, shape, order)``: the
# dtype object and the reconstructor each make one more trip through the pickler's hooks (reducer_override,
# cloudpickle's dispatch table, its by-reference checks), which made a 1 KiB array cost 3.5x stdlib pickle.
# A plain array (exact ndarray, a numeric dtype without metadata, C- or F-contiguous) goes here as
# ``_make_array(PickleBuffer, dtype.str, shape, order)``: the dtype as its string, which also keeps a
# non-native byte order exactly (the buffer travels out-of-band, so numpy's in-band conversion never runs).
# Subclasses, object, structured, datetime and string dtypes, and non-contiguous arrays keep numpy's path.

_PLAIN_KINDS = frozenset("biufc")


def plain_array_reduction(array: np.ndarray[Any, Any]) -> Optional[Tuple[Any, ...]]:
    """``(_make_array, args)`` for a plain array at protocol 5, or ``None`` when numpy's path must run.

    ``array`` must be an exact ``numpy.ndarray`` (the caller checks its type).
    """
    dtype = array.dtype
    if dtype.kind not in _PLAIN_KINDS or dtype.metadata is not None:
        return None
    flags = array.flags
    if flags.c_contiguous:
        order = "C"
    elif flags.f_contiguous:
        order = "F"
    else:
        return None
    buffer = pickle.PickleBuffer(array)  # type: ignore[arg-type]  # numpy's stubs: not a Buffer
    return _make_array, (buffer, dtype.str, array.shape, order)


class PlainArray:
    """A plain array wrapped so that any protocol-5 pickler (the stdlib one included) saves it through
    :func:`plain_array_reduction`: lets a serializer skip cloudpickle for a value that is one such array."""

    __slots__ = ("reduction",)

    def __init__(self, reduction: Tuple[Any, ...]) -> None:
        self.reduction = reduction

    def __reduce__(self) -> Tuple[Any, ...]:
        return self.reduction


_warned_non_contiguous = False


def _note_non_contiguous_copy(array: np.ndarray[Any, Any]) -> None:
    # Ray warns when a large array cannot travel out-of-band; we do too, once per process, so the user
    # learns why a put is slow without a warning per call.
    global _warned_non_contiguous
    if _warned_non_contiguous:
        return
    _warned_non_contiguous = True
    warnings.warn(
        f"a non-contiguous numpy array of {array.nbytes} bytes (shape {array.shape}, strides "
        f"{array.strides}) is copied into the pickle stream instead of travelling out-of-band; pass "
        f"np.ascontiguousarray(a) to avoid the copy. This warning is shown once per process.",
        NonContiguousCopyWarning,
        stacklevel=4,
    )


# ---------------------------------------------------------------------------------------------------------
# The by-reference memo.
#
# Functions and classes that cloudpickle pickles by reference (importable module attributes, such as numpy's
# array reconstructors) are remembered, so that pickling a small array does not ask cloudpickle's module
# lookup again each time: it cost about a third of a 1 KiB array's serialization. A hit is trusted only
# while what cloudpickle's decision rested on still holds: the same module object is in ``sys.modules``
# under the object's ``__module__``, its ``__qualname__`` there still leads to the object, and
# ``register_pickle_by_value`` has not changed which modules travel by value. Otherwise cloudpickle decides
# again (issue 13: a function deleted or rebound in its module, or a module dropped from ``sys.modules``,
# goes by value, as with cloudpickle itself).

_cloudpickle_module = getattr(cloudpickle, "cloudpickle", None)
_by_value_modules = getattr(_cloudpickle_module, "_PICKLE_BY_VALUE_MODULES", None)
_by_value_seen: frozenset[str] = frozenset(_by_value_modules or ())
#: ``id(obj) -> (obj, module name, module, name)``, ``name`` being the object's ``__qualname__`` split at dots
#: when it has any (a method or a nested class), else the ``__qualname__`` itself.
_BY_REFERENCE: Dict[int, Tuple[Any, str, types.ModuleType, Union[str, Tuple[str, ...]]]] = {}
_BY_REFERENCE_LIMIT = 4096


def _by_value_modules_unchanged() -> bool:
    global _by_value_seen
    if _by_value_modules is None:
        return False  # an unknown cloudpickle: never trust the memo
    if _by_value_modules == _by_value_seen:
        return True
    _by_value_seen = frozenset(_by_value_modules)
    _BY_REFERENCE.clear()
    return False


def _resolve(module: Any, name: Union[str, Tuple[str, ...]]) -> Any:
    if isinstance(name, str):
        return getattr(module, name, None)
    target = module
    for part in name:
        target = getattr(target, part, None)
    return target


def _known_by_reference(obj: Any) -> bool:
    # On the path of every small array's dumps: one dict lookup, then the checks, without helper calls
    # for the usual one-part name.
    entry = _BY_REFERENCE.get(id(obj))
    if entry is None or entry[0] is not obj:
        return False
    _obj, module_name, module, name = entry
    if sys.modules.get(module_name) is not module:
        return False
    if (getattr(module, name, None) if type(name) is str else _resolve(module, name)) is not obj:
        return False
    return _by_value_modules == _by_value_seen or _by_value_modules_unchanged()


def _remember_by_reference(obj: Any) -> None:
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str):
        return
    module = sys.modules.get(module_name)
    name: Union[str, Tuple[str, ...]] = tuple(qualname.split(".")) if "." in qualname else qualname
    if module is None or _resolve(module, name) is not obj:
        return  # found some other way than this memo can re-check: ask cloudpickle each time
    if len(_BY_REFERENCE) >= _BY_REFERENCE_LIMIT:
        _BY_REFERENCE.clear()
    _BY_REFERENCE[id(obj)] = (obj, module_name, module, name)


# ---------------------------------------------------------------------------------------------------------
# Classes rebuilt by value.

_make_skeleton_class = getattr(_cloudpickle_module, "_make_skeleton_class", None)
_class_getstate = getattr(_cloudpickle_module, "_class_getstate", None)
_class_setstate = getattr(_cloudpickle_module, "_class_setstate", None)
_get_bases = getattr(_cloudpickle_module, "_get_bases", None)
_should_pickle_by_reference = getattr(_cloudpickle_module, "_should_pickle_by_reference", None)


def _is_hashable(cls: type) -> bool:
    try:
        hash(cls)
    except TypeError:
        return False
    return True


def _rebuilt_with_own_metaclass(name: str, bases: Tuple[Any, ...], metaclass: type) -> bool:
    """True when rebuilding a class from ``bases`` goes through ``metaclass`` itself.

    ``typing.NamedTuple`` (a base with ``__mro_entries__``) makes the rebuild go through another metaclass,
    which refuses a ``__slots__`` in the namespace. ``prepare_class`` creates no class.
    """
    meta, _namespace, _kwds = types.prepare_class(name, types.resolve_bases(bases), {"metaclass": metaclass})
    return meta is metaclass


def _with_slots(cls: type, rv: Any) -> Any:
    # cloudpickle rebuilds a dynamic class with type(name, bases, {}) and sets its attributes after,
    # so a __slots__ class comes back without slots (its instances grow a __dict__). Passing __slots__ to
    # the class constructor makes the rebuilt class slotted like the original, when the rebuild goes
    # through the class's own metaclass (a NamedTuple's goes through one that refuses it: issue 13). A
    # NamedTuple is slotted anyway: collections.namedtuple gives it __slots__ = ().
    if (isinstance(rv, tuple) and rv and rv[0] is _make_skeleton_class and "__slots__" in vars(cls)
            and isinstance(rv[1][3], dict) and _rebuilt_with_own_metaclass(rv[1][1], rv[1][2], rv[1][0])):
        type_kwargs = dict(rv[1][3], __slots__=vars(cls)["__slots__"])
        rv = (rv[0], rv[1][:3] + (type_kwargs,) + rv[1][4:]) + rv[2:]
    return rv


def _unhashable_class_reduce(cls: type) -> Any:
    """By value, for a class whose metaclass makes it unhashable (issue 13).

    cloudpickle looks every class up in dicts (its builtin-type table, its tracker of dynamic classes), so it
    fails on such a class. Here the class travels like cloudpickle's dynamic classes but untracked: each
    frame that holds it rebuilds its own copy (within one frame, references stay shared).
    """
    if _should_pickle_by_reference is not None and _should_pickle_by_reference(cls):
        return NotImplemented
    if _make_skeleton_class is None or _class_getstate is None or _get_bases is None:
        raise TypeError(f"cannot pickle class {cls.__qualname__!r}: its metaclass makes it unhashable, and "
                        f"this cloudpickle version offers no way to rebuild it")
    type_kwargs: Dict[str, Any] = {}
    if "__module__" in vars(cls):
        type_kwargs["__module__"] = cls.__module__
    dict_descriptor = vars(cls).get("__dict__")
    if isinstance(dict_descriptor, property):
        type_kwargs["__dict__"] = dict_descriptor
    args = (type(cls), cls.__name__, _get_bases(cls), type_kwargs, None, None)
    return _with_slots(cls, (_make_skeleton_class, args, _class_getstate(cls), None, None, _class_setstate))


# ---------------------------------------------------------------------------------------------------------

_FunctionType = types.FunctionType
# By the types' ids: a class's metaclass may claim equality with (and the hash of) one of them (issue 21).
_OPEN_FILE_TYPE_IDS = frozenset(map(id, (io.TextIOWrapper, io.BufferedReader, io.BufferedWriter,
                                         io.BufferedRandom, io.FileIO)))


class Pickler(cloudpickle.Pickler):  # type: ignore[misc]  # cloudpickle has no type information
    """cloudpickle's Pickler plus our reducers: custom serializers, memoryview out-of-band, byte order kept.

    ``custom`` maps a class to ``(serializer, deserializer)``: an instance of exactly that class is saved
    as ``deserializer(serializer(obj))``. At protocol 5, ``buffer_callback`` receives each out-of-band
    buffer (numpy arrays, memoryviews, ``pickle.PickleBuffer``), as with any protocol-5 Pickler.

    CPython's pickler saves exact ``bytearray`` (like ``list`` and ``dict``) itself, without consulting
    ``reducer_override`` or a dispatch table, so a bytearray travels in-band; wrap it in
    ``pickle.PickleBuffer`` to send it out-of-band (it then comes back as a zero-copy memoryview).
    """

    def __init__(self, file: Any, protocol: int, buffer_callback: Optional[Callable[[Any], Any]],
                 custom: CustomSerializers) -> None:
        super().__init__(file, protocol=protocol, buffer_callback=buffer_callback)
        self._custom = custom
        self._oob = protocol >= 5

    def reducer_override(self, obj: Any) -> Any:
        t = type(obj)
        if self._custom and type(t).__hash__ is not None:  # an unhashable class cannot be registered
            pair = self._custom.get(t)
            if pair is not None:
                serializer, deserializer = pair
                return _make_custom, (deserializer, serializer(obj))
        if t is memoryview:
            return self._reduce_memoryview(obj)
        if t is np.ndarray:
            return self._reduce_ndarray(obj)
        if obj is _make_array:
            return NotImplemented  # by reference, without the memo's checks: it is this module's
        if t is _FunctionType or isinstance(obj, type):
            if _known_by_reference(obj):
                return NotImplemented
            rv = self._reduce_class(obj) if t is not _FunctionType else super().reducer_override(obj)
            if rv is NotImplemented:
                _remember_by_reference(obj)
            return rv
        if type(t).__hash__ is None:
            # An instance of a class whose metaclass makes it unhashable: pickle would look the class up in
            # its dispatch table (a dict) and fail; the object's own reduction is what that lookup falls
            # back to for a class with no entry (issue 13).
            return obj.__reduce_ex__(self.proto)
        if id(t) in _OPEN_FILE_TYPE_IDS:
            return self._reduce_open_file(obj)
        return super().reducer_override(obj)

    def _reduce_ndarray(self, array: np.ndarray[Any, Any]) -> Any:
        if self._oob:
            rv = plain_array_reduction(array)
            if rv is not None:
                return rv
        dtype = array.dtype
        if not dtype.isnative and not dtype.hasobject:
            # numpy's in-band unpickling (every protocol-3/4 array, and datetime or non-contiguous ones at
            # 5) converts non-native byte order to native: to come back bit for bit, the bytes travel under
            # the native dtype (out-of-band where numpy allows) and are viewed as the original on load.
            return _view_as, (array.view(dtype.newbyteorder("=")), dtype)
        if array.nbytes >= LARGE_COPY_WARNING_BYTES and not (
            array.flags.c_contiguous or array.flags.f_contiguous
        ):
            _note_non_contiguous_copy(array)
        return NotImplemented  # numpy's own reduction: out-of-band at protocol 5 when it can

    def _reduce_class(self, cls: type) -> Any:
        if not _is_hashable(cls):
            return _unhashable_class_reduce(cls)
        return _with_slots(cls, super().reducer_override(cls))

    def _reduce_open_file(self, file: Any) -> Any:
        # cloudpickle would pickle a file opened for reading by its contents, silently turning a handle
        # into a snapshot; a file handle is process-local state, so we refuse it as we refuse a lock.
        raise TypeError(
            f"cannot pickle an open file ({type(file).__name__} {getattr(file, 'name', '?')!r}): send its "
            f"path or its contents instead"
        )

    def _reduce_memoryview(self, view: memoryview) -> Any:
        if self._oob and view.c_contiguous:
            # Out-of-band: the receiver gets a zero-copy view of the frame, cast back to the same shape.
            return _make_memoryview, (pickle.PickleBuffer(view), view.format, view.shape)
        return _make_memoryview, (view.tobytes(), view.format, view.shape)
