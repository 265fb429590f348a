"""The reference Pickler: the corners it once got wrong (issue 13) and its fast paths (issue 12), each
exactly as correct as the general path."""

from __future__ import annotations

import io
import sys
import threading
import types
import typing

import numpy as np
import pytest

import reference
from conformance.compare import same
from reference import pickler

PROTOCOLS = (3, 4, 5)

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

def _make_class_claiming_to_be(target: type) -> type:
    class Meta(type):
        def __eq__(cls, other: object) -> bool:  # equal to every class, with target's hash: a set says "target"
            return True

        def __hash__(cls) -> int:
            return hash(target)

    class Impostor(metaclass=Meta):
        def __init__(self, step: int) -> None:
            self.step = step

    return Impostor


@pytest.mark.parametrize("shape", ["top", "list", "tuple", "dict value", "dict key"])
@pytest.mark.parametrize("make", [
    _make_class_with_unhashable_metaclass,
    lambda: _make_class_claiming_to_be(int),
    lambda: _make_class_claiming_to_be(io.FileIO),
], ids=["unhashable metaclass", "metaclass equal to int", "metaclass equal to FileIO"])
def test_type_dispatch_decides_by_identity_of_the_type(make, shape, store):
    """Issue 21: the stdlib fast path (atoms, and short containers of them) and the pickler's own type tests
    decide by the *identity* of each type, as pickle's dispatch does. An instance of a class whose metaclass
    is unhashable used to raise a raw ``TypeError: unhashable type`` from ``dumps`` and ``ObjectStore.put``;
    one whose metaclass claims equality with ``int`` took the stdlib path and failed to pickle by
    reference, and one claiming to be ``io.FileIO`` was refused as an open file."""
    cls = make()
    obj = cls(2)
    value = {"top": obj, "list": [1, obj], "tuple": (obj, "a"), "dict value": {"k": obj},
             "dict key": {obj: 1}}[shape]  # the instances hash (by id); only their classes may not
    for back in (reference.loads(reference.dumps(value)), store.get(store.put(value))):
        got = {"top": lambda v: v, "list": lambda v: v[1], "tuple": lambda v: v[0],
               "dict value": lambda v: v["k"], "dict key": lambda v: next(iter(v))}[shape](back)
        assert got.step == 2 and type(got).__name__ == cls.__name__ and type(got) is not int


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
