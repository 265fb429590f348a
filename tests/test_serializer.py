"""Clauses of the reference serializer (issue: foundation and the reference pickle-5 serializer)."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given

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
    s.deregister_serializer(Opaque)  # never (or no longer) registered: a no-op, as Ray's is


def test_deregistering_a_class_never_registered_is_a_noop():
    """Ray's ``deregister_serializer`` of a class that was never registered does nothing; so does ours, and
    the other registrations stay."""
    s = reference.Serializer()
    s.register_serializer(Opaque, serializer=lambda o: o.value, deserializer=Opaque)
    s.deregister_serializer(dict)
    reference.deregister_serializer(Opaque)  # the default serializer has none for it
    assert s.registered_classes() == (Opaque,) and s.loads(s.dumps(Opaque(3))).value == 3


class _RefusesWithValueError:
    def __reduce__(self):
        raise ValueError("this value refuses to be pickled")


class _LoadsFromAMissingModule:
    def __reduce__(self):
        return (__import__, ("reference_no_such_module_for_the_test",))


def test_a_refusal_is_both_serialization_error_and_its_original_type():
    """A ``ValueError`` raised by a value's ``__reduce__`` reaches the caller as a ``SerializationError`` that is
    also a ``ValueError`` (cloudpickle's own tests catch ``ValueError``), with the culprit's path; the error
    pickles, keeping both types."""
    with pytest.raises(ValueError, match=r"value\['a'\]\[1\]: .*_RefusesWithValueError") as info:
        reference.dumps({"a": [1, _RefusesWithValueError()]})
    error = info.value
    assert isinstance(error, reference.SerializationError) and isinstance(error, TypeError)
    assert type(error).__name__ == "SerializationError" and isinstance(error.__cause__, ValueError)
    back = pickle.loads(pickle.dumps(reference.errors.error_of_both(
        reference.SerializationError, ValueError("x"), "message")))
    assert isinstance(back, reference.SerializationError) and isinstance(back, ValueError)
    assert back.args == ("message",)


def test_an_import_error_while_loading_is_both_deserialization_error_and_import_error():
    """An ``ImportError`` (here ``ModuleNotFoundError``) while loading reaches the caller as a
    ``DeserializationError`` that is also that ``ImportError``."""
    frame = reference.dumps(_LoadsFromAMissingModule())
    with pytest.raises(ModuleNotFoundError, match="reference_no_such_module_for_the_test") as info:
        reference.loads(frame)
    assert isinstance(info.value, reference.DeserializationError)
    assert isinstance(info.value, pickle.UnpicklingError) and isinstance(info.value, ValueError)


def test_an_original_type_that_cannot_be_shared_leaves_the_declared_error():
    """An original exception whose ``__init__`` takes other arguments (``UnicodeDecodeError``) cannot be
    mixed in: the error is the declared one alone, still raised from the original."""
    original = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    error = reference.errors.error_of_both(reference.DeserializationError, original, "message")
    assert type(error) is reference.DeserializationError


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
