"""The reference serializer: pickle protocol 5 with cloudpickle, out-of-band buffers, one self-describing frame.

A value is pickled by cloudpickle's Pickler (so lambdas, closures, functions and classes defined in
``__main__`` or at run time travel by value), at protocol 3, 4 or 5. At protocol 5, contiguous numpy arrays,
``memoryview`` objects and explicit ``pickle.PickleBuffer`` wrappers (of a ``bytearray``, say) leave the
pickle stream as out-of-band buffers (PEP 574); the in-band part of a 1 GiB array is a few hundred bytes.
A bare ``bytearray`` stays in-band: CPython's pickler saves it without asking any hook.

Frame layout (all integers little-endian; every buffer starts at a multiple of 64 bytes from the frame start,
so a frame written at a 64-byte-aligned address gives aligned numpy data)::

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

:meth:`SerializedObject.write_to` lays a frame into any writable buffer, so a store writes an object with
exactly one copy of each buffer's data; :func:`deserialize` reads one back with every out-of-band buffer a
zero-copy view of the frame (read-only when the frame is).

The checksum covers the header, the buffer table and the in-band pickle, not the out-of-band buffers (plain
data, read zero-copy). It exists because unpickling corrupt bytes is not safe: numpy 2.4's dtype
``__setstate__`` can crash the interpreter on a malformed state (found by ``tests/stress/fuzz_deserialize.py``),
so a damaged frame is refused before pickle sees it. It costs about 0.4 s per GiB of in-band data
(protocols 3 and 4 carry arrays in-band) and nothing that grows with out-of-band buffers.

Non-goals: this is not a format for long-term storage (cloudpickle's by-value functions are bound to the
Python version), and deserializing runs code: only load frames you trust.
"""

from __future__ import annotations

import io
import pickle
import struct
import threading
import warnings
import zlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cloudpickle
import numpy as np

from reference.errors import DeserializationError, SerializationError

__all__ = [
    "ALIGNMENT",
    "DEFAULT_PROTOCOL",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "NonContiguousCopyWarning",
    "SUPPORTED_PROTOCOLS",
    "SerializedObject",
    "Serializer",
    "default_serializer",
    "deregister_serializer",
    "deserialize",
    "dumps",
    "loads",
    "register_serializer",
    "serialize",
]

MAGIC = b"OSCF"
FORMAT_VERSION = 1
ALIGNMENT = 64
DEFAULT_PROTOCOL = 5
SUPPORTED_PROTOCOLS = (3, 4, 5)
#: A non-contiguous array at least this large is copied in-band with a warning (once per process).
LARGE_COPY_WARNING_BYTES = 1 << 20

_HEADER = struct.Struct("<4sHBBIIQQQ")
HEADER_SIZE = _HEADER.size  # 40
_ENTRY = struct.Struct("<QQ")
_CRC = struct.Struct("<I")
_CRC_OFFSET = 12


def _checksum(frame: Any, end: int) -> int:
    """CRC-32 of ``frame[:12]`` and ``frame[16:end]``: the frame's checksummed part, minus the CRC field."""
    view = memoryview(frame)
    return zlib.crc32(view[_CRC_OFFSET + _CRC.size:end], zlib.crc32(view[:_CRC_OFFSET]))

BufferLike = Union[bytes, bytearray, memoryview, "np.ndarray", Any]


class NonContiguousCopyWarning(UserWarning):
    """A large non-contiguous numpy array was copied into the pickle stream instead of sent out-of-band."""


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


class SerializedObject:
    """A value serialized but not yet laid out: the in-band pickle and its out-of-band buffers.

    ``frame_size`` is the exact number of bytes :meth:`write_to` writes; ``total_size`` is the summed size of
    the out-of-band buffers. Holding a ``SerializedObject`` keeps the buffers' producers (the arrays) alive;
    nothing is copied until :meth:`write_to` or :meth:`to_bytes`.
    """

    __slots__ = ("inband", "buffers", "protocol", "frame_size", "total_size", "_layout")

    def __init__(self, inband: bytes, buffers: Sequence[memoryview], protocol: int) -> None:
        self.inband = inband
        self.buffers: Tuple[memoryview, ...] = tuple(buffers)
        self.protocol = protocol
        n = len(self.buffers)
        inband_offset = HEADER_SIZE + _ENTRY.size * n
        end = inband_offset + len(inband)
        layout: List[Tuple[int, int]] = []
        for buf in self.buffers:
            start = _align(end)
            layout.append((start, buf.nbytes))
            end = start + buf.nbytes
        self._layout = tuple(layout)
        self.frame_size = end
        self.total_size = sum(length for _, length in layout)

    def __repr__(self) -> str:
        return (
            f"SerializedObject(protocol={self.protocol}, inband={len(self.inband)} bytes, "
            f"buffers={len(self.buffers)}, total_size={self.total_size}, frame_size={self.frame_size})"
        )

    def _prefix(self) -> bytes:
        """Header and buffer table, with the checksum of them and the in-band pickle (not copied)."""
        n = len(self.buffers)
        inband_offset = HEADER_SIZE + _ENTRY.size * n
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, self.protocol, 0, n, 0, inband_offset,
                              len(self.inband), self.frame_size)
        table = b"".join([_ENTRY.pack(offset, length) for offset, length in self._layout])
        crc = zlib.crc32(header[:_CRC_OFFSET])
        crc = zlib.crc32(header[_CRC_OFFSET + _CRC.size:], crc)
        crc = zlib.crc32(self.inband, zlib.crc32(table, crc))
        return b"".join([header[:_CRC_OFFSET], _CRC.pack(crc), header[_CRC_OFFSET + _CRC.size:], table])

    def write_to(self, buffer: Any) -> int:
        """Write the frame into ``buffer`` (any writable, C-contiguous buffer of ``frame_size`` bytes or more).

        Each out-of-band buffer is copied exactly once, straight into place; padding is zeroed. Bytes past
        ``frame_size`` are left untouched. Returns ``frame_size``.

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
        prefix = self._prefix()
        pos = len(prefix)
        target[:pos] = prefix
        target[pos:pos + len(self.inband)] = self.inband
        pos += len(self.inband)
        for (offset, length), buf in zip(self._layout, self.buffers):
            if offset > pos:
                target[pos:offset] = bytes(offset - pos)
            target[offset:offset + length] = buf
            pos = offset + length
        return self.frame_size

    def to_bytes(self) -> bytes:
        """The frame as one ``bytes`` object (one copy of each buffer)."""
        parts = [self._prefix(), self.inband]
        pos = len(parts[0]) + len(self.inband)
        for (offset, length), buf in zip(self._layout, self.buffers):
            parts.append(bytes(offset - pos))
            parts.append(buf)
            pos = offset + length
        return b"".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Reconstructors. Module-level so that frames refer to them by name (reference.serializer._make_*).

def _make_memoryview(data: Any, fmt: str, shape: Tuple[int, ...]) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if fmt == "B" and len(shape) == 1:
        return view
    return view.cast(fmt, shape)


def _view_as(array: "np.ndarray", dtype: "np.dtype") -> "np.ndarray":
    return array.view(dtype)


def _make_custom(deserializer: Callable[[Any], Any], payload: Any) -> Any:
    return deserializer(payload)


_warned_non_contiguous = False


def _note_non_contiguous_copy(array: "np.ndarray") -> None:
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


# Functions and classes that cloudpickle pickles by reference (importable module attributes, such as numpy's
# array reconstructors) are remembered, so that pickling a small array does not ask cloudpickle's module
# lookup again each time: it cost about a third of a 1 KiB array's serialization. The memo holds only
# objects that live in a module anyway, keyed by id and checked by identity, and is dropped whenever
# cloudpickle's register_pickle_by_value changes which modules travel by value.
_FunctionType = type(lambda: None)
_BY_REFERENCE: Dict[int, Any] = {}
_BY_REFERENCE_LIMIT = 4096
_by_value_modules = getattr(getattr(cloudpickle, "cloudpickle", None), "_PICKLE_BY_VALUE_MODULES", None)
_by_value_seen: frozenset = frozenset(_by_value_modules or ())


def _by_value_modules_unchanged() -> bool:
    global _by_value_seen
    if _by_value_modules is None:
        return False  # an unknown cloudpickle: never trust the memo
    if _by_value_modules == _by_value_seen:
        return True
    _by_value_seen = frozenset(_by_value_modules)
    _BY_REFERENCE.clear()
    return False


def _remember_by_reference(obj: Any) -> None:
    if len(_BY_REFERENCE) >= _BY_REFERENCE_LIMIT:
        _BY_REFERENCE.clear()
    _BY_REFERENCE[id(obj)] = obj


_make_skeleton_class = getattr(getattr(cloudpickle, "cloudpickle", None), "_make_skeleton_class", None)
_OPEN_FILE_TYPES = frozenset({io.TextIOWrapper, io.BufferedReader, io.BufferedWriter, io.BufferedRandom,
                              io.FileIO})


class _Pickler(cloudpickle.Pickler):
    """cloudpickle's Pickler plus our reducers: custom serializers, memoryview out-of-band, byte order kept.

    CPython's pickler saves exact ``bytearray`` (like ``list`` and ``dict``) itself, without consulting
    ``reducer_override`` or a dispatch table, so a bytearray travels in-band; wrap it in
    ``pickle.PickleBuffer`` to send it out-of-band (it then comes back as a zero-copy memoryview).
    """

    def __init__(self, file: Any, protocol: int, buffer_callback: Optional[Callable[[Any], Any]],
                 custom: Dict[type, Tuple[Callable[[Any], Any], Callable[[Any], Any]]]) -> None:
        super().__init__(file, protocol=protocol, buffer_callback=buffer_callback)
        self._custom = custom
        self._oob = protocol >= 5

    def reducer_override(self, obj: Any) -> Any:
        t = type(obj)
        if self._custom:
            pair = self._custom.get(t)
            if pair is not None:
                serializer, deserializer = pair
                return _make_custom, (deserializer, serializer(obj))
        if t is memoryview:
            return self._reduce_memoryview(obj)
        if t is np.ndarray:
            return self._reduce_ndarray(obj)
        if t is _FunctionType or isinstance(obj, type):
            if _BY_REFERENCE.get(id(obj)) is obj and _by_value_modules_unchanged():
                return NotImplemented
            rv = self._reduce_class(obj) if t is not _FunctionType else super().reducer_override(obj)
            if rv is NotImplemented:
                _remember_by_reference(obj)
            return rv
        if t in _OPEN_FILE_TYPES:
            return self._reduce_open_file(obj)
        return super().reducer_override(obj)

    def _reduce_ndarray(self, array: "np.ndarray") -> Any:
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
        rv = super().reducer_override(cls)
        # cloudpickle rebuilds a dynamic class with type(name, bases, {}) and sets its attributes after,
        # so a __slots__ class comes back without slots (its instances grow a __dict__). Passing
        # __slots__ to the class constructor makes the rebuilt class slotted like the original.
        if (isinstance(rv, tuple) and rv and rv[0] is _make_skeleton_class and "__slots__" in vars(cls)
                and isinstance(rv[1][3], dict)):
            type_kwargs = dict(rv[1][3], __slots__=vars(cls)["__slots__"])
            rv = (rv[0], rv[1][:3] + (type_kwargs,) + rv[1][4:]) + rv[2:]
        return rv

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
    """

    def __init__(self, *, protocol: int = DEFAULT_PROTOCOL) -> None:
        self.protocol = _check_protocol(protocol)
        self._custom: Dict[type, Tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}
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
        """Remove the custom serializer of ``cls``; ``KeyError`` if none is registered."""
        with self._lock:
            if cls not in self._custom:
                raise KeyError(f"no custom serializer is registered for {cls!r}")
            custom = dict(self._custom)
            del custom[cls]
            self._custom = custom

    def registered_classes(self) -> Tuple[type, ...]:
        """The classes with a custom serializer, in registration order."""
        return tuple(self._custom)

    # -- serialization ------------------------------------------------------------------------------------
    def _pickle(self, obj: Any, protocol: int, file: Any,
                buffer_callback: Optional[Callable[[Any], Any]]) -> None:
        _Pickler(file, protocol, buffer_callback, self._custom).dump(obj)

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

        Raises :class:`SerializationError` naming the type of each unserializable object inside ``obj`` and
        its path from the top (``value['model'].cache._lock``), with the pickler's exception as the cause;
        ``ValueError`` for an unsupported protocol.
        """
        protocol = self.protocol if protocol is None else _check_protocol(protocol)
        buffers: List[memoryview] = []
        callback = None
        if protocol >= 5:
            def callback(pb: pickle.PickleBuffer) -> bool:
                buffers.append(pb.raw())
                return False  # out-of-band
        out = io.BytesIO()
        try:
            self._pickle(obj, protocol, out, callback)
        except Exception as exc:  # noqa: BLE001 - re-raised typed, with the culprit's path
            raise self._serialization_error(obj, exc, protocol) from exc
        return SerializedObject(out.getvalue(), buffers, protocol)

    def _serialization_error(self, obj: Any, exc: BaseException, protocol: int) -> SerializationError:
        from reference.inspect import find_failures  # imported late: inspect uses this module

        try:
            failures = find_failures(obj, serializer=self, protocol=protocol)
        except Exception:  # noqa: BLE001 - the locator must never hide the real error
            failures = []
        reason = f"{type(exc).__name__}: {exc}"
        if not failures:
            return SerializationError(f"cannot serialize {_describe(obj)}: {reason}")
        lines = [f"cannot serialize {_describe(obj)}: {len(failures)} unserializable "
                 f"object{'s' if len(failures) != 1 else ''} inside it:"]
        for failure in failures[:10]:
            lines.append(f"  {failure.path}: {failure.type_name} ({failure.reason})")
        if len(failures) > 10:
            lines.append(f"  ... and {len(failures) - 10} more; "
                         f"reference.inspect_serializability(value) lists them all")
        return SerializationError("\n".join(lines), culprits=tuple(failures))

    def dumps(self, obj: Any, *, protocol: Optional[int] = None) -> bytes:
        """Serialize ``obj`` into one frame, returned as ``bytes``. See :meth:`serialize`."""
        return self.serialize(obj, protocol=protocol).to_bytes()

    # -- deserialization ----------------------------------------------------------------------------------
    def deserialize(self, frame: Any) -> Any:
        """Read a value back from a frame (any C-contiguous buffer).

        Every out-of-band buffer is a zero-copy view of ``frame``: a read-only frame gives read-only numpy
        arrays. Bytes past the frame's recorded size are ignored. Raises :class:`DeserializationError` for a
        frame that is corrupt, truncated, foreign or of an unsupported version, or whose pickle fails to
        load; the pickle's own exception is chained. Deserializing runs code: load only trusted frames.
        """
        return deserialize(frame)

    def loads(self, data: Any) -> Any:
        """One-call form of :meth:`deserialize`."""
        return deserialize(data)


def _describe(obj: Any) -> str:
    t = type(obj)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(qualname, str) and callable(obj):  # functions and classes: say which one
        return f"{name} {qualname!r}"
    return f"{name} object"


def _parse_frame(frame: Any) -> Tuple[memoryview, int, memoryview, List[memoryview]]:
    """Validate ``frame`` and return (view, protocol, in-band view, buffer views)."""
    try:
        view = memoryview(frame)
    except TypeError as exc:
        raise DeserializationError(
            f"a frame must be a bytes-like object, got {type(frame).__name__}"
        ) from exc
    if not view.c_contiguous:
        raise DeserializationError("a frame must be a C-contiguous buffer")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    size = view.nbytes
    if size < HEADER_SIZE:
        raise DeserializationError(
            f"the frame is {size} bytes, shorter than the {HEADER_SIZE}-byte header: "
            f"truncated, or not a frame"
        )
    magic, version, protocol, _flags, nbuf, crc, inband_off, inband_len, frame_size = _HEADER.unpack_from(view)
    if magic != MAGIC:
        raise DeserializationError(
            f"bad magic {bytes(magic)!r} (expected {MAGIC!r}): not a frame written by this serializer"
        )
    if version != FORMAT_VERSION:
        raise DeserializationError(
            f"unsupported frame format version {version} (this reader supports {FORMAT_VERSION})"
        )
    if protocol not in SUPPORTED_PROTOCOLS:
        raise DeserializationError(
            f"the frame records pickle protocol {protocol}; supported are {SUPPORTED_PROTOCOLS}"
        )
    if nbuf and protocol < 5:
        raise DeserializationError(
            f"the frame has {nbuf} out-of-band buffers but protocol {protocol} cannot have any"
        )
    if frame_size > size:
        raise DeserializationError(
            f"the frame declares {frame_size} bytes but only {size} are present: truncated"
        )
    table_end = HEADER_SIZE + _ENTRY.size * nbuf
    if table_end > frame_size:
        raise DeserializationError(
            f"the buffer table of {nbuf} entries ends at byte {table_end}, past the frame's end "
            f"({frame_size})"
        )
    if inband_off < table_end or inband_off + inband_len > frame_size:
        raise DeserializationError(
            f"the in-band pickle at [{inband_off}, {inband_off + inband_len}) lies outside the frame's "
            f"payload [{table_end}, {frame_size})"
        )
    actual = _checksum(view, inband_off + inband_len)
    if actual != crc:
        raise DeserializationError(
            f"checksum mismatch (recorded {crc:#010x}, computed {actual:#010x}): the frame's header, buffer "
            f"table or in-band pickle is corrupt"
        )
    buffers = []
    for i in range(nbuf):
        offset, length = _ENTRY.unpack_from(view, HEADER_SIZE + _ENTRY.size * i)
        if offset < table_end or offset + length > frame_size:
            raise DeserializationError(
                f"buffer {i} at [{offset}, {offset + length}) points outside the frame's payload "
                f"[{table_end}, {frame_size})"
            )
        buffers.append(view[offset:offset + length])
    return view, protocol, view[inband_off:inband_off + inband_len], buffers


def deserialize(frame: Any) -> Any:
    """Read a value back from a frame; see :meth:`Serializer.deserialize`."""
    _view, _protocol, inband, buffers = _parse_frame(frame)
    try:
        return pickle.loads(inband, buffers=buffers)
    except RecursionError as exc:
        raise DeserializationError("the in-band pickle nests too deeply to load") from exc
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt pickle becomes one typed error
        raise DeserializationError(
            f"the in-band pickle failed to load: {type(exc).__name__}: {exc}"
        ) from exc


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
