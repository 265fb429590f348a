"""The reference serializer: pickle protocol 5 with cloudpickle, out-of-band buffers, one self-describing frame.

A value is pickled by :class:`reference.pickler.Pickler` (cloudpickle's, so lambdas, closures, functions and
classes defined in ``__main__`` or at run time travel by value), at protocol 3, 4 or 5. At protocol 5,
contiguous numpy arrays, ``memoryview`` objects and explicit ``pickle.PickleBuffer`` wrappers (of a
``bytearray``, say) leave the pickle stream as out-of-band buffers (PEP 574); the in-band part of a 1 GiB
array is a few hundred bytes. A bare ``bytearray`` stays in-band: CPython's pickler saves it without asking
any hook.

The result is one frame, whose format (header, buffer table, 64-byte alignment, CRC-32) is
:mod:`reference.frame`'s. :meth:`SerializedObject.write_to` lays a frame into any writable buffer, so a
store writes an object with exactly one copy of each buffer's data; :func:`deserialize` reads one back with
every out-of-band buffer a zero-copy view of the frame (read-only when the frame is).

Non-goals: this is not a format for long-term storage (cloudpickle's by-value functions are bound to the
Python version), and deserializing runs code: only load frames you trust.
"""

from __future__ import annotations

import io
import pickle
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

import numpy as np

from reference.culprits import find_failures
from reference.errors import DeserializationError, SerializationError, error_of_both
from reference.frame import (
    ALIGNMENT,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    SUPPORTED_PROTOCOLS,
    Frame,
    FrameError,
    _read,
)
from reference.pickler import (
    CustomSerializers,
    NonContiguousCopyWarning,
    Pickler,
    PlainArray,
    plain_array_reduction,
)

__all__ = [
    "ALIGNMENT",
    "DEFAULT_PROTOCOL",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "NonContiguousCopyWarning",
    "Pickler",
    "SUPPORTED_PROTOCOLS",
    "SerializedObject",
    "Serializer",
    "UNSERIALIZABLE_ERRORS",
    "default_serializer",
    "deregister_serializer",
    "deserialize",
    "dumps",
    "loads",
    "register_serializer",
    "serialize",
]

DEFAULT_PROTOCOL = 5

#: What makes a value unserializable: the ways pickle and cloudpickle refuse an object (``TypeError: cannot
#: pickle '_thread.lock' object``, a too-deep nesting, ...). These become :class:`SerializationError`;
#: anything else raised while pickling is not about the value's picklability and propagates unchanged.
UNSERIALIZABLE_ERRORS: Tuple[Type[BaseException], ...] = (
    pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError)


class SerializedObject(Frame):
    """A value serialized but not yet laid out: the in-band pickle and its out-of-band buffers.

    ``frame_size`` is the exact number of bytes :meth:`write_to` writes; ``total_size`` is the summed size of
    the out-of-band buffers. Holding a ``SerializedObject`` keeps the buffers' producers (the arrays) alive;
    nothing is copied until :meth:`write_to` or :meth:`to_bytes`.
    """

    __slots__ = ()

    def __init__(self, inband: bytes, buffers: Sequence[memoryview], protocol: int) -> None:
        Frame.__init__(self, inband, buffers, protocol=protocol)

    @property
    def total_size(self) -> int:
        """The summed size of the out-of-band buffers, in bytes."""
        return sum(length for _offset, length in self._layout)

    def __repr__(self) -> str:
        return (
            f"SerializedObject(protocol={self.protocol}, inband={len(self.inband)} bytes, "
            f"buffers={len(self.buffers)}, total_size={self.total_size}, frame_size={self.frame_size})"
        )


# Values that stdlib pickle saves exactly as the reference Pickler does, without a Pickler object: CPython's
# pickler consults no hook (reducer_override, dispatch table) for these exact types, so cloudpickle adds
# nothing to them but the cost of building a Pickler (a third of a small put). Containers qualify when every
# item is an atom; longer ones are not scanned (the scan would cost more than it saves).
# The test is by the identity of the type, as the pickler's own is: ``type(x) in {int, ...}`` would hash
# and compare ``type(x)`` through its metaclass, which may be unhashable (a raw TypeError, issue 21) or claim
# to equal ``int`` (an instance then pickled by stdlib pickle). It is spelled out, ``is`` by ``is``, most
# frequent first: a call per item (``id(type(x)) in ids``) would cost more than the rest of the scan.
_dumps = pickle.dumps  # bound at import: the stress fuzzer replaces this module's ``pickle``
_NoneType = type(None)
_SCAN_LIMIT = 64


def _stdlib_equivalent(obj: Any) -> bool:
    t = type(obj)
    if t is int or t is str or t is float or t is bytes or t is bool or t is _NoneType:
        return True
    if t is dict:
        if len(obj) > _SCAN_LIMIT:
            return False
        for k, v in obj.items():
            t = type(k)
            if not (t is str or t is int or t is bytes or t is float or t is bool or t is _NoneType):
                return False
            t = type(v)
            if not (t is int or t is str or t is float or t is bytes or t is bool or t is _NoneType):
                return False
        return True
    if t is tuple or t is list:
        if len(obj) > _SCAN_LIMIT:
            return False
        for v in obj:
            t = type(v)
            if not (t is int or t is str or t is float or t is bytes or t is bool or t is _NoneType):
                return False
        return True
    return False


class _NullWriter(io.RawIOBase):
    """A sink for trial pickling: counts nothing, keeps nothing."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(memoryview(data))


def _check_protocol(protocol: int) -> int:
    if protocol not in SUPPORTED_PROTOCOLS:
        raise ValueError(
            f"unsupported pickle protocol {protocol!r}: choose one of {SUPPORTED_PROTOCOLS}"
        )
    return protocol


class Serializer:
    """Serializes values to frames and back; holds the custom serializers registered on it.

    The module-level functions (:func:`serialize`, :func:`dumps`, ...) use one process-wide instance,
    :func:`default_serializer`. An instance is safe to use from several threads.

    Errors: a value that cannot be pickled raises :class:`SerializationError` (also a
    ``pickle.PicklingError`` and a ``TypeError``) naming each culprit and its path. An exception that is
    not one of pickle's ways of refusing a value (:data:`UNSERIALIZABLE_ERRORS`), such as the
    ``RuntimeError`` of a dict changed during pickling, propagates unchanged, as it would from
    ``pickle.dumps``: catching its own type keeps working. Corrupt frames raise
    :class:`DeserializationError`.
    """

    def __init__(self, *, protocol: int = DEFAULT_PROTOCOL) -> None:
        self.protocol = _check_protocol(protocol)
        self._custom: CustomSerializers = {}
        self._lock = threading.Lock()

    # -- custom serializers -------------------------------------------------------------------------------
    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        """Serialize instances of exactly ``cls`` as ``deserializer(serializer(obj))`` (Ray's API).

        ``serializer(obj)`` must return something this serializer can serialize; ``deserializer`` travels
        with the frame (by reference, or by value through cloudpickle), so the reader needs no registration.
        Registering ``cls`` again replaces the earlier pair. Subclasses are not covered.
        """
        if not isinstance(cls, type):
            raise TypeError(f"register_serializer needs a class, got {cls!r}")
        for label, fn in (("serializer", serializer), ("deserializer", deserializer)):
            if not callable(fn):
                raise TypeError(f"'{label}' must be callable, got {fn!r}")
        with self._lock:
            custom = dict(self._custom)
            custom[cls] = (serializer, deserializer)
            self._custom = custom  # copy-on-write: picklers in flight keep the table they started with

    def deregister_serializer(self, cls: type) -> None:
        """Remove the custom serializer of ``cls``. A class with none registered is left as it is, as Ray's
        ``deregister_serializer`` does (no error)."""
        with self._lock:
            if cls not in self._custom:
                return
            custom = dict(self._custom)
            del custom[cls]
            self._custom = custom

    def registered_classes(self) -> Tuple[type, ...]:
        """The classes with a custom serializer, in registration order."""
        return tuple(self._custom)

    # -- serialization ------------------------------------------------------------------------------------
    def _pickle(self, obj: Any, protocol: int, file: Any,
                buffer_callback: Optional[Callable[[Any], Any]]) -> None:
        Pickler(file, protocol, buffer_callback, self._custom).dump(obj)

    def try_serialize(self, obj: Any, *, protocol: Optional[int] = None) -> Optional[BaseException]:
        """Pickle ``obj`` into a sink and return the exception it raised, or ``None`` if it serializes.

        Nothing is copied (buffers are taken out-of-band and dropped): a cheap probe for tools such as
        :func:`reference.inspect.inspect_serializability`.
        """
        protocol = self.protocol if protocol is None else _check_protocol(protocol)
        try:
            self._pickle(obj, protocol, _NullWriter(),
                         (lambda buf: False) if protocol >= 5 else None)
        except Exception as exc:  # noqa: BLE001 - a probe reports whatever the pickler raised
            return exc
        return None

    def serialize(self, obj: Any, *, protocol: Optional[int] = None) -> SerializedObject:
        """Serialize ``obj``: the in-band pickle plus, at protocol 5, its out-of-band buffers.

        Raises :class:`SerializationError` (also a ``pickle.PicklingError``, a ``TypeError`` and an instance of
        the type the pickler raised, see :func:`reference.errors.error_of_both`) when ``obj`` cannot be
        pickled: the pickler raised one of :data:`UNSERIALIZABLE_ERRORS`. Its message names the
        type of each unserializable object inside ``obj`` and its path from the top
        (``value['model'].cache._lock``), and the pickler's exception is its cause. Any other exception
        raised while pickling propagates unchanged, so code that catches it keeps catching it: a
        ``RuntimeError`` from a dict changed by another thread during pickling, an error raised by an
        object's own ``__reduce__`` or by a registered custom serializer. Raises ``ValueError`` for an
        unsupported protocol.
        """
        protocol = self.protocol if protocol is None else _check_protocol(protocol)
        if _stdlib_equivalent(obj):
            return SerializedObject(_dumps(obj, protocol), (), protocol)
        buffers: List[memoryview] = []
        callback = None
        if protocol >= 5:
            def callback(pb: pickle.PickleBuffer) -> bool:
                buffers.append(pb.raw())
                return False  # out-of-band
            if type(obj) is np.ndarray and np.ndarray not in self._custom:
                reduction = plain_array_reduction(obj)
                if reduction is not None:  # one plain array: its reduction is all there is to pickle
                    inband = _dumps(PlainArray(reduction), protocol, buffer_callback=callback)
                    return SerializedObject(inband, buffers, protocol)
        out = io.BytesIO()
        try:
            self._pickle(obj, protocol, out, callback)
        except UNSERIALIZABLE_ERRORS as exc:  # re-raised typed, with the culprit's path
            raise self._serialization_error(obj, exc, protocol) from exc
        return SerializedObject(out.getvalue(), buffers, protocol)

    def _serialization_error(self, obj: Any, exc: BaseException, protocol: int) -> SerializationError:
        try:
            failures = find_failures(obj, serializer=self, protocol=protocol)
        except Exception:  # noqa: BLE001 - the locator must never hide the real error
            failures = []
        reason = f"{type(exc).__name__}: {exc}"
        if not failures:
            return error_of_both(SerializationError, exc, f"cannot serialize {_describe(obj)}: {reason}")
        lines = [f"cannot serialize {_describe(obj)}: {len(failures)} unserializable "
                 f"object{'s' if len(failures) != 1 else ''} inside it:"]
        for failure in failures[:10]:
            lines.append(f"  {failure.path}: {failure.type_name} ({failure.reason})")
        if len(failures) > 10:
            lines.append(f"  ... and {len(failures) - 10} more; "
                         f"reference.inspect_serializability(value) lists them all")
        return error_of_both(SerializationError, exc, "\n".join(lines), tuple(failures))

    def dumps(self, obj: Any, *, protocol: Optional[int] = None) -> bytes:
        """Serialize ``obj`` into one frame, returned as ``bytes``. See :meth:`serialize`."""
        return self.serialize(obj, protocol=protocol).to_bytes()

    # -- deserialization ----------------------------------------------------------------------------------
    def deserialize(self, frame: Any) -> Any:
        """Read a value back from a frame (any C-contiguous buffer).

        Every out-of-band buffer is a zero-copy view of ``frame``: a read-only frame gives read-only numpy
        arrays. Bytes past the frame's recorded size are ignored. Raises :class:`DeserializationError` for a
        frame that is corrupt, truncated, foreign or of an unsupported version, or whose pickle fails to
        load; the pickle's own exception is chained, and the error is also an instance of its type (an
        ``ImportError`` of a missing module is still caught by ``except ImportError``). Deserializing runs
        code: load only trusted frames.
        """
        return deserialize(frame)

    def loads(self, data: Any) -> Any:
        """One-call form of :meth:`deserialize`."""
        return deserialize(data)


def _describe(obj: Any) -> str:
    """``module.Type object``, or ``module.Type 'qualname'`` for functions and classes.

    Runs on the error path, so it must not raise: an object whose attribute access raises (a
    ``__getattr__`` that fails, a ``__getattribute__`` that recurses) is described by its type alone.
    """
    t = type(obj)
    try:
        name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    except Exception:  # noqa: BLE001 - a metaclass whose attributes raise
        name = object.__repr__(t)
    try:
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(qualname, str) and callable(obj):  # functions and classes: say which one
            return f"{name} {qualname!r}"
    except Exception:  # noqa: BLE001 - the object's own attribute access failed: fall back to its type
        pass
    return f"{name} object"


def deserialize(frame: Any) -> Any:
    """Read a value back from a frame; see :meth:`Serializer.deserialize`."""
    try:
        _protocol, inband, buffers, _size = _read(frame)
    except FrameError as exc:
        raise DeserializationError(str(exc)) from exc
    try:
        return pickle.loads(inband, buffers=buffers)
    except RecursionError as exc:
        raise error_of_both(DeserializationError, exc, "the in-band pickle nests too deeply to load") from exc
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt pickle becomes one typed error
        raise error_of_both(DeserializationError, exc,
                            f"the in-band pickle failed to load: {type(exc).__name__}: {exc}") from exc


_default = Serializer()


def default_serializer() -> Serializer:
    """The process-wide serializer that the module-level functions use."""
    return _default


def serialize(obj: Any, *, protocol: int = DEFAULT_PROTOCOL) -> SerializedObject:
    """Serialize ``obj`` with the default serializer; see :meth:`Serializer.serialize`."""
    return _default.serialize(obj, protocol=protocol)


def dumps(obj: Any, *, protocol: int = DEFAULT_PROTOCOL) -> bytes:
    """Serialize ``obj`` into one frame as ``bytes``; see :meth:`Serializer.serialize`."""
    return _default.serialize(obj, protocol=protocol).to_bytes()


def loads(data: Any) -> Any:
    """Read a value back from a frame; see :meth:`Serializer.deserialize`."""
    return deserialize(data)


def register_serializer(cls: type, *, serializer: Callable[[Any], Any],
                        deserializer: Callable[[Any], Any]) -> None:
    """Register a custom serializer on the default serializer; see :meth:`Serializer.register_serializer`."""
    _default.register_serializer(cls, serializer=serializer, deserializer=deserializer)


def deregister_serializer(cls: type) -> None:
    """Remove a custom serializer from the default serializer; see :meth:`Serializer.deregister_serializer`."""
    _default.deregister_serializer(cls)
