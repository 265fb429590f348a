"""Clauses of the reference serializer (issue: foundation and the reference pickle-5 serializer)."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import types
import typing
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
from conformance import strategies
from conformance.compare import assert_same, same
from reference import frame as rframe
from reference import pickler

PROTOCOLS = (3, 4, 5)


# -- round trips -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(value=strategies.native_values(max_int_bits=4000))
def test_native_values_round_trip(protocol, value):
    """Every native value (nan, -0.0, huge ints, surrogates, nested containers) comes back equal and of the
    same type, at protocols 3, 4 and 5."""
    assert same(value, reference.loads(reference.dumps(value, protocol=protocol)), check_identity=False)


@given(array=strategies.numpy_arrays())
def test_arrays_round_trip_bit_for_bit(array):
    """Arrays of every dtype, shape, order and stride pattern come back bit for bit."""
    for protocol in PROTOCOLS:
        assert_same(array, reference.loads(reference.dumps(array, protocol=protocol)), check_byte_order=True)


@given(array=strategies.numpy_arrays(kinds=strategies.PLAIN_KINDS))
def test_fortran_order_is_kept(array):
    """An F-contiguous array comes back F-contiguous (it travels out-of-band in its own order)."""
    f = np.asfortranarray(array)
    back = reference.loads(reference.dumps(f))
    assert back.flags.f_contiguous == f.flags.f_contiguous


def test_shared_references_are_preserved():
    """``[a, a]`` comes back as two references to one object, at every protocol."""
    a = {"x": [1, 2]}
    arr = np.arange(10)
    for protocol in PROTOCOLS:
        back = reference.loads(reference.dumps([a, a, arr, arr], protocol=protocol))
        assert back[0] is back[1] and back[2] is back[3]


def test_recursive_objects_are_preserved():
    """A list, a dict and an object that contain themselves, and a mutual cycle, keep their cycles."""
    lst = []
    lst.append(lst)
    dct = {}
    dct["self"] = dct
    a, b = Node(), Node()
    a.other, b.other = b, a
    back_lst, back_dct, back_a = reference.loads(reference.dumps([lst, dct, a]))
    assert back_lst[0] is back_lst
    assert back_dct["self"] is back_dct
    assert back_a.other.other is back_a and back_a.other is not back_a


class Node:
    pass


# -- out-of-band, zero copy, read-only ---------------------------------------------------------------------

def test_inband_size_does_not_grow_with_the_array():
    """The in-band part of a contiguous array is a few hundred bytes, whatever its size (1 GiB included:
    np.zeros maps pages lazily and serializing never touches them)."""
    small = reference.serialize(np.zeros(128))
    huge = reference.serialize(np.zeros(1 << 27))  # 1 GiB of float64
    assert huge.total_size == 1 << 30
    assert len(huge.inband) < 300
    assert len(huge.inband) - len(small.inband) <= 8  # only the digits of the shape differ


def test_buffers_are_aligned_to_64_bytes():
    """Each out-of-band buffer starts at a multiple of 64 bytes from the frame's start."""
    frame = reference.dumps([np.arange(3, dtype=np.int8), pickle.PickleBuffer(bytearray(b"xyz")), np.ones((3, 5))])
    assert rframe.read_header(frame).nbuf == 3
    buffers = rframe.read_frame(frame).buffers
    assert len(buffers) == 3
    for buf in buffers:
        offset = np.frombuffer(buf, dtype=np.uint8).ctypes.data - np.frombuffer(frame, dtype=np.uint8).ctypes.data
        assert offset % 64 == 0


def test_deserialize_is_zero_copy():
    """Arrays read back from a writable frame share its memory; nothing is copied."""
    so = reference.serialize({"a": np.arange(1000.0), "b": [np.ones(7, dtype=np.int16)]})
    frame = bytearray(so.frame_size)
    assert so.write_to(frame) == so.frame_size
    back = reference.deserialize(frame)
    raw = np.frombuffer(frame, dtype=np.uint8)
    assert np.shares_memory(back["a"], raw) and np.shares_memory(back["b"][0], raw)
    frame_view = np.frombuffer(frame, dtype=np.uint8)
    offset = back["a"].__array_interface__["data"][0] - frame_view.__array_interface__["data"][0]
    frame[offset] ^= 0xFF  # a change to the frame shows through the array: it is a view
    assert back["a"][0] != 0.0


def test_read_only_frame_gives_read_only_arrays():
    """A read-only frame gives read-only arrays; writing raises numpy's read-only ValueError."""
    back = reference.loads(reference.dumps(np.arange(10)))
    assert not back.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        back[0] = 1
    via_mv = reference.deserialize(memoryview(bytearray(reference.dumps(np.arange(3)))).toreadonly())
    assert not via_mv.flags.writeable


def test_picklebuffer_and_memoryview_travel_out_of_band():
    """A PickleBuffer (of a bytearray) and a memoryview leave the pickle stream; the memoryview comes back
    with its format and shape, both as read-only zero-copy views of a read-only frame."""
    data = bytearray(range(256)) * 64
    view = memoryview(np.arange(24, dtype=np.int32).reshape(4, 6))
    so = reference.serialize([pickle.PickleBuffer(data), view])
    assert so.total_size == len(data) + view.nbytes
    assert len(so.inband) < 200
    back_data, back_view = reference.loads(so.to_bytes())
    assert bytes(back_data) == bytes(data) and back_data.readonly
    assert back_view.format == "i" and back_view.shape == (4, 6) and back_view.tolist() == view.tolist()
    assert back_view.readonly


def test_bare_bytearray_stays_in_band_and_keeps_its_type():
    """CPython pickles an exact bytearray itself (no hook is asked), so it travels in-band, as a bytearray."""
    data = bytearray(b"x" * 1000)
    so = reference.serialize(data)
    assert so.total_size == 0
    back = reference.loads(so.to_bytes())
    assert type(back) is bytearray and back == data


def test_memoryview_round_trips_in_band_at_old_protocols_and_when_strided():
    """Protocols 3 and 4, and non-contiguous memoryviews, carry the data in-band instead."""
    strided = memoryview(bytearray(range(20)))[::2]
    for protocol in PROTOCOLS:
        back = reference.loads(reference.dumps(strided, protocol=protocol))
        assert back.tolist() == strided.tolist()


def test_non_contiguous_large_array_warns_once():
    """A large non-contiguous array is copied in-band, with one warning per process."""
    pickler._warned_non_contiguous = False
    a = np.zeros((1024, 512))[:, ::2]  # 2 MiB, not contiguous
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        so1 = reference.serialize(a)
        reference.serialize(a)
    assert [w.category for w in caught] == [reference.NonContiguousCopyWarning]
    assert "non-contiguous" in str(caught[0].message)
    assert so1.total_size == 0
    assert_same(a, reference.loads(so1.to_bytes()), check_byte_order=True)


@pytest.mark.parametrize("make", [lambda: np.empty(3, dtype=object), lambda: np.arange(4).view(np.matrix)],
                         ids=["object-array", "ndarray-subclass"])
def test_object_arrays_and_subclasses_go_in_band(make):
    """Object arrays and ndarray subclasses follow numpy's rule and travel in-band."""
    a = make()
    so = reference.serialize(a)
    assert so.total_size == 0
    back = reference.loads(so.to_bytes())
    assert type(back) is type(a)


# -- protocols ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_frame_records_its_protocol_and_old_protocols_are_in_band(protocol):
    """A frame records its protocol; 3 and 4 have no out-of-band buffers; the in-band part loads with
    stdlib pickle alone (given the buffers at protocol 5)."""
    value = {"a": np.arange(100), "s": "x" * 10}
    so = reference.serialize(value, protocol=protocol)
    frame = so.to_bytes()
    assert frame[6] == protocol
    assert (len(so.buffers) > 0) == (protocol == 5)
    back = pickle.loads(so.inband, buffers=so.buffers)
    assert np.array_equal(back["a"], value["a"]) and back["s"] == value["s"]


@pytest.mark.parametrize("protocol", [0, 1, 2, 6, -1, "5"])
def test_unsupported_protocol_is_refused(protocol):
    """Protocols other than 3, 4 and 5 are refused with a ValueError that lists the supported ones."""
    with pytest.raises(ValueError, match=r"\(3, 4, 5\)"):
        reference.serialize(1, protocol=protocol)


# -- by value in a fresh interpreter -----------------------------------------------------------------------

def _load_in_fresh_interpreter(frame: bytes, expression: str) -> str:
    """Load ``frame`` in a new interpreter that never saw the definitions and print ``expression``."""
    code = textwrap.dedent(f"""
        import sys, reference
        value = reference.loads(sys.stdin.buffer.read())
        print(repr({expression}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], input=frame, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().strip()


def _make_functions():
    factor = 3

    def scale(x):
        return x * factor

    def fact(n):  # a recursive closure: it refers to itself through its cell
        return 1 if n <= 1 else n * fact(n - 1)

    def outer(y):
        def inner(z):
            return y + z + factor
        return inner

    made = eval("lambda x: x ** 2")  # a function made at run time
    return {"lambda": lambda x: x + 1, "closure": scale, "recursive": fact, "nested": outer(10),
            "runtime": made}


def test_functions_travel_by_value():
    """Lambdas, closures (recursive too), nested functions and functions made at run time load and run in
    a fresh interpreter that never saw their definitions."""
    frame = reference.dumps(_make_functions())
    out = _load_in_fresh_interpreter(
        frame, "[value['lambda'](1), value['closure'](2), value['recursive'](5), value['nested'](1), "
               "value['runtime'](7)]")
    assert out == "[2, 6, 120, 14, 49]"


def test_functions_and_classes_from_main_travel_by_value(tmp_path):
    """Functions and classes defined in ``__main__`` load in another interpreter."""
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent("""
        import sys, reference
        K = 7
        def f(x):
            return x + K
        class C:
            tag = "c"
            def m(self):
                return f(1)
        sys.stdout.buffer.write(reference.dumps([f, C(), C]))
    """))
    frame = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=120, check=True).stdout
    out = _load_in_fresh_interpreter(frame, "[value[0](1), value[1].m(), value[1].tag, "
                                            "type(value[1]) is value[2]]")
    assert out == "[8, 8, 'c', True]"


def _make_classes():
    class Base:
        __slots__ = ()
        kind = "base"

        def hello(self):
            return f"hello from {self.kind}"

    class Child(Base):
        kind = "child"
        __slots__ = ("a", "b")

        def __init__(self, a, b):
            self.a, self.b = a, b

    class Colour(enum.Enum):
        RED = 1
        GREEN = 2

    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    return Child, Colour, Point


def test_dynamic_classes_travel_by_value():
    """Dynamic classes with methods, class attributes, inheritance, __slots__, enums and dataclasses load in
    a fresh interpreter; two instances share one class object there."""
    Child, Colour, Point = _make_classes()
    assert not hasattr(Child(1, 2), "__dict__")  # slotted all the way up: the copy must be too
    value = [Child(1, 2), Child(3, 4), Colour.GREEN, Point(1, 2), Point]
    out = _load_in_fresh_interpreter(
        reference.dumps(value),
        "[value[0].hello(), value[0].a, value[1].b, type(value[0]) is type(value[1]), value[2].name, "
        "value[2] is type(value[2])['GREEN'], value[3], value[4](5).y, type(value[3]) is value[4], "
        "hasattr(value[0], '__dict__'), type(value[0]).__slots__]")
    assert out == ("['hello from child', 1, 4, True, 'GREEN', True, Point(x=1, y=2), 0, True, False, "
                   "('a', 'b')]")


# -- custom serializers ------------------------------------------------------------------------------------

class Opaque:
    """Unserializable on its own: it holds a lock."""

    def __init__(self, value):
        self.value = value
        self.lock = threading.Lock()


def test_register_and_deregister_serializer():
    """A registered pair makes an unserializable class serializable; deregistering restores the error."""
    s = reference.Serializer()
    with pytest.raises(reference.SerializationError):
        s.serialize(Opaque(1))
    s.register_serializer(Opaque, serializer=lambda o: o.value, deserializer=lambda v: Opaque(v * 10))
    back = s.loads(s.dumps([Opaque(4)]))
    assert type(back[0]) is Opaque and back[0].value == 40
    assert s.registered_classes() == (Opaque,)
    s.deregister_serializer(Opaque)
    with pytest.raises(reference.SerializationError):
        s.serialize(Opaque(1))
    with pytest.raises(KeyError, match="Opaque"):
        s.deregister_serializer(Opaque)


def test_default_serializer_registration_is_process_wide():
    """The module-level register/deregister act on the default serializer that dumps uses."""
    reference.register_serializer(Opaque, serializer=lambda o: o.value, deserializer=Opaque)
    try:
        assert reference.loads(reference.dumps(Opaque("v"))).value == "v"
        assert Opaque in reference.default_serializer().registered_classes()
    finally:
        reference.deregister_serializer(Opaque)
    with pytest.raises(reference.SerializationError):
        reference.dumps(Opaque("v"))


def test_register_serializer_validates_its_arguments():
    """A non-class or a non-callable is refused with a TypeError naming it."""
    with pytest.raises(TypeError, match="class"):
        reference.register_serializer("Opaque", serializer=str, deserializer=str)
    with pytest.raises(TypeError, match="'deserializer' must be callable"):
        reference.register_serializer(Opaque, serializer=str, deserializer=None)


# -- unserializable values ---------------------------------------------------------------------------------

def _generator():
    yield 1


UNSERIALIZABLE = {
    "Lock": (threading.Lock, "_thread.lock"),
    "RLock": (threading.RLock, "RLock"),
    "Condition": (threading.Condition, "lock"),
    "Semaphore": (threading.Semaphore, "lock"),
    "socket": (socket.socket, "socket"),
    "open-file": (lambda: open(__file__), "TextIOWrapper"),
    "generator": (_generator, "generator"),
}


@pytest.mark.parametrize("kind", sorted(UNSERIALIZABLE))
def test_unserializable_objects_raise_serialization_error_with_path(kind):
    """Locks, sockets, open files and generators fail with SerializationError (also a PicklingError and a
    TypeError) whose message names the culprit's type and its path from the top object."""
    make, type_fragment = UNSERIALIZABLE[kind]
    obj = make()
    try:
        holder = Node()
        holder.inner = {"items": [1, obj]}
        with pytest.raises(reference.SerializationError) as info:
            reference.dumps({"model": holder})
        err = info.value
        assert isinstance(err, pickle.PicklingError) and isinstance(err, TypeError)
        message = str(err)
        assert type_fragment in message
        assert "value['model'].inner['items'][1]" in message
        assert err.culprits and all(c.path.startswith("value['model'].inner['items'][1]") for c in err.culprits)
        assert isinstance(err.__cause__, Exception)
    finally:
        close = getattr(obj, "close", None)
        if close:
            close()


def test_serialization_error_names_the_global_of_a_function():
    """A function whose global holds a lock: the path goes through ``__globals__``."""
    holder = Node()
    holder.cache = Node()
    holder.cache._lock = threading.Lock()
    namespace = {"state": {"model": holder}}
    exec("def train():\n    return state['model']", namespace)
    with pytest.raises(reference.SerializationError) as info:
        reference.dumps(namespace["train"])
    assert "value.__globals__['state']['model'].cache._lock: _thread.lock" in str(info.value)


def test_serializing_a_lock_does_not_pass_silently_at_any_protocol():
    """At every protocol a lock raises; nothing is written."""
    for protocol in PROTOCOLS:
        with pytest.raises(reference.SerializationError, match="_thread.lock"):
            reference.serialize([threading.Lock()], protocol=protocol)


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


# -- issue 13: reference bugs -------------------------------------------------------------------------------

def _make_named_tuple() -> type:
    class Pair(typing.NamedTuple):
        x: int
        y: str = "a"

        def swapped(self) -> tuple:
            return (self.y, self.x)

    return Pair


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_named_tuple_class_defined_at_run_time_round_trips(protocol):
    """Issue 13a: a typing.NamedTuple class defined at run time travels by value with its instances (its
    rebuild goes through NamedTupleMeta, which refuses a __slots__ in the namespace)."""
    Pair = _make_named_tuple()
    back, back_cls = reference.loads(reference.dumps([Pair(1), Pair], protocol=protocol))
    assert type(back) is back_cls and back_cls._fields == ("x", "y")
    assert back == (1, "a") and back.swapped() == ("a", 1) and back_cls(2, "b").y == "b"
    assert not hasattr(back, "__dict__"), "a named tuple's instances have no __dict__"


def _make_slotted_generic() -> type:
    T = typing.TypeVar("T")

    class Box(typing.Generic[T]):
        __slots__ = ("item",)

        def __init__(self, item: T) -> None:
            self.item = item

    return Box


def test_dynamic_slotted_classes_keep_their_slots():
    """Issue 13a: the fix for NamedTuple leaves other dynamic classes slotted (a Generic one included)."""
    Box = _make_slotted_generic()
    back = reference.loads(reference.dumps(Box(3)))
    assert back.item == 3 and not hasattr(back, "__dict__") and type(back).__slots__ == ("item",)


_STALE_MODULE = "objstore_issue13_stale_module"


@pytest.mark.parametrize("change", ["deleted", "rebound", "module-dropped"])
def test_by_reference_memo_does_not_go_stale(change):
    """Issue 13b: a module function pickled once by reference, then deleted or rebound in its module, or
    its module dropped from sys.modules, still serializes (by value, as cloudpickle does)."""
    module = types.ModuleType(_STALE_MODULE)
    exec("def f(x):\n    return x + 1\n", module.__dict__)
    f = module.f
    sys.modules[_STALE_MODULE] = module
    try:
        assert reference.loads(reference.dumps(f)) is f  # by reference, and remembered as such
        if change == "deleted":
            del module.f
        elif change == "rebound":
            module.f = lambda x: x
        else:
            del sys.modules[_STALE_MODULE]
        back = reference.loads(reference.dumps(f))
        assert back is not f and back(1) == 2
    finally:
        sys.modules.pop(_STALE_MODULE, None)


class _RaisingGetattr:
    """Unserializable (it holds a lock); any missing attribute raises RuntimeError."""

    def __init__(self):
        self.lock = threading.Lock()

    def __getstate__(self):
        return self.__dict__

    def __getattr__(self, name):
        raise RuntimeError(f"no attribute {name!r} here")


class _RecursingGetattr:
    """Unserializable (it holds a lock); a missing attribute recurses for ever (``_target`` is never set)."""

    def __init__(self):
        self.lock = threading.Lock()

    def __getstate__(self):
        return self.__dict__

    def __getattr__(self, name):
        return getattr(self._target, name)


class _RecursingGetattribute:
    """Unserializable (it holds a lock); its ``__getattribute__`` recurses for ever on ``__qualname__``."""

    def __init__(self):
        self.lock = threading.Lock()

    def __getattribute__(self, name):
        if name == "__qualname__":
            return getattr(self, name)
        return object.__getattribute__(self, name)


@pytest.mark.parametrize("cls", [_RaisingGetattr, _RecursingGetattr, _RecursingGetattribute],
                         ids=lambda c: c.__name__)
def test_error_path_survives_objects_whose_attribute_access_raises(cls):
    """Issue 13c: building the SerializationError message must not raise the object's own errors."""
    with pytest.raises(reference.SerializationError) as info:
        reference.dumps(cls())
    assert cls.__name__ in str(info.value) and "value.lock: _thread.lock" in str(info.value)


class _MutatesWhilePickled:
    """Adds a key to the dict that holds it while that dict is being pickled."""

    def __init__(self, target: dict) -> None:
        self.target = target

    def __reduce__(self):
        self.target[f"added-{len(self.target)}"] = 0
        return int, (0,)


def test_runtime_error_while_pickling_keeps_its_type():
    """Issue 13d: an exception that is not pickle refusing the value (here the RuntimeError of a dict changed
    during pickling) propagates unchanged, so code that catches RuntimeError still does."""
    value: dict = {"first": 1}
    value["mutator"] = _MutatesWhilePickled(value)
    value["last"] = 2
    with pytest.raises(RuntimeError, match="changed size") as info:
        reference.dumps(value)
    assert not isinstance(info.value, reference.SerializationError)
    with pytest.raises(reference.SerializationError):  # refusals are still typed
        reference.dumps([threading.Lock()])


def _make_class_with_unhashable_metaclass() -> type:
    class Meta(type):
        def __eq__(cls, other: object) -> bool:  # defining __eq__ alone makes the classes unhashable
            return cls is other

    class Counter(metaclass=Meta):
        start = 40

        def __init__(self, step: int) -> None:
            self.step = step

        def value(self) -> int:
            return self.start + self.step

    return Counter


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_class_with_unhashable_metaclass_round_trips(protocol):
    """Issue 13e: a dynamic class whose metaclass makes it unhashable travels by value (cloudpickle fails)."""
    Counter = _make_class_with_unhashable_metaclass()
    with pytest.raises(TypeError):
        hash(Counter)
    back_cls, back = reference.loads(reference.dumps([Counter, Counter(2)], protocol=protocol))
    assert type(back) is back_cls and back.value() == 42
    assert type(back_cls).__name__ == "Meta" and back_cls == back_cls


# -- fast paths (issue 12) ---------------------------------------------------------------------------------

_PLAIN_DTYPES = ("<f8", ">f8", "<f2", "<c16", "|b1", "|i1", ">u4", "<i8", np.dtype(np.longdouble).str)


@pytest.mark.parametrize("dtype", _PLAIN_DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("nested", [False, True], ids=["top", "nested"])
def test_plain_arrays_take_the_direct_reducer_and_come_back_exactly(dtype, order, nested):
    """A plain array (exact ndarray, numeric dtype, C or F contiguous) travels as ``_make_array`` with its
    dtype string, at the top of a value or inside one: dtype (byte order included), shape, order, bits and
    writeability come back exactly, and the buffer is out-of-band."""
    array = np.asarray(np.arange(24).reshape(2, 3, 4) % 3 == 1 if dtype == "|b1" else
                       np.arange(24).reshape(2, 3, 4), dtype=dtype, order=order)
    value = {"a": array, "f": len} if nested else array
    so = reference.serialize(value)
    assert b"_make_array" in so.inband and len(so.buffers) == 1 and so.buffers[0].nbytes == array.nbytes
    frame = bytearray(so.to_bytes())
    back = reference.loads(frame)
    got = back["a"] if nested else back
    assert got.dtype == array.dtype and got.dtype.str == array.dtype.str
    assert got.shape == array.shape and got.flags.f_contiguous == array.flags.f_contiguous
    assert got.tobytes(order="A") == array.tobytes(order="A") and got.flags.writeable
    assert np.shares_memory(got, np.frombuffer(frame, dtype=np.uint8))  # zero-copy view of the frame
    from_bytes = reference.loads(bytes(frame))
    assert not (from_bytes["a"] if nested else from_bytes).flags.writeable  # a read-only frame: read-only


@pytest.mark.parametrize("make", [
    lambda: np.arange(6.0)[::2],                                 # not contiguous
    lambda: np.array([1, "a", None], dtype=object),              # object dtype
    lambda: np.zeros(3, dtype=[("x", "<i4"), ("y", ">f8")]),     # structured
    lambda: np.arange(3).astype("M8[s]"),                        # datetime
    lambda: np.array(["ab", "c"]),                               # strings
    lambda: np.zeros(3, dtype=np.dtype("f8", metadata={"k": 1})),  # dtype metadata
    lambda: np.arange(4.0).view(np.matrix),                      # subclass
], ids=["strided", "object", "structured", "datetime", "str", "metadata", "subclass"])
def test_arrays_the_direct_reducer_does_not_cover_still_round_trip(make):
    """Arrays outside the direct reducer's reach keep numpy's own path and come back exactly."""
    array = make()
    assert pickler.plain_array_reduction(array) is None or type(array) is not np.ndarray
    back = reference.loads(reference.dumps(array))
    assert type(back) is type(array) and back.dtype == array.dtype and back.shape == array.shape
    if array.dtype.hasobject:
        assert back.tolist() == array.tolist()
    else:
        assert back.tobytes() == array.tobytes()
        # numpy 1.x unpickles a datetime dtype with an empty metadata mapping where it had none
        assert dict(back.dtype.metadata or {}) == dict(array.dtype.metadata or {})


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", [
    None, True, 7, 2 ** 100, -0.0, "é", b"xy", {"k0": 0, "k1": b"1", 2: None}, [1, 2.5, "x"], (1, (2,)),
    list(range(100)), {f"k{i}": i for i in range(100)},
], ids=repr)
def test_stdlib_fast_path_writes_the_same_bytes_as_the_pickler(protocol, value):
    """Values the stdlib pickler saves without any hook skip the reference Pickler: the in-band pickle is
    byte for byte what the Pickler writes, so frames do not depend on which path ran."""
    import io

    out = io.BytesIO()
    pickler.Pickler(out, protocol, None, {}).dump(value)
    assert reference.serialize(value, protocol=protocol).inband == out.getvalue()
    assert same(value, reference.loads(reference.dumps(value, protocol=protocol)), check_identity=False)


def test_custom_serializer_for_ndarray_still_applies():
    """A custom serializer registered for ``numpy.ndarray`` wins over the direct reducer."""
    s = reference.Serializer()
    s.register_serializer(np.ndarray, serializer=lambda a: a.tolist(), deserializer=np.array)
    so = s.serialize(np.arange(3))
    assert not so.buffers and s.loads(so.to_bytes()).tolist() == [0, 1, 2]
