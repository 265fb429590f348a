"""The reference object store (issue 3) in one process; test_store_mp.py has the multi-process tests."""

from __future__ import annotations

import os
import pickle
import stat
import time
import tracemalloc

import numpy as np
import pytest
from _names import mapping_range

from reference import (
    GetTimeoutError,
    InvalidObjectIDError,
    ObjectExistsError,
    ObjectID,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreFullError,
    StoreClosedError,
    StoreExistsError,
    StoreNotFoundError,
)
from reference.serializer import Serializer, default_serializer, dumps

# -- lifecycle -----------------------------------------------------------------------------------------------

def test_create_attach_share_objects(name):
    """A store is created once by name; any handle attached by name sees the same objects."""
    with ObjectStore.create(name, capacity=1 << 20) as a:
        oid = a.put("hello")
        with ObjectStore.attach(name) as b:
            assert b.get(oid, timeout=0) == "hello"
            assert b.capacity == a.capacity == 1 << 20
        a.destroy()


def test_create_existing_name_raises(store, name):
    with pytest.raises(StoreExistsError, match="attach"):
        ObjectStore.create(name, capacity=1 << 20)


def test_close_never_destroys_and_destroy_is_explicit(name):
    """Closing a handle never destroys the store; destroying it is a separate, explicit call."""
    s = ObjectStore.create(name, capacity=1 << 20)
    oid = s.put(123)
    s.close()
    assert s.closed
    s.close()  # idempotent
    with pytest.raises(StoreClosedError):
        s.put(1)
    t = ObjectStore.attach(name)
    assert t.get(oid, timeout=0) == 123
    t.destroy()
    with pytest.raises(StoreNotFoundError, match=name):
        ObjectStore.attach(name)
    t.destroy()  # idempotent


def test_attach_missing_store(name):
    with pytest.raises(StoreNotFoundError) as info:
        ObjectStore.attach(name)
    assert isinstance(info.value, ObjectStoreError) and isinstance(info.value, FileNotFoundError)


def test_handle_pickles_by_name(store):
    """A handle pickles by name: unpickling attaches (same mapping), it does not copy the store."""
    data = pickle.dumps(store)
    assert len(data) < 200
    oid = store.put(np.arange(10))
    clone = pickle.loads(data)
    try:
        assert clone.name == store.name
        assert clone.arena is store.arena
        np.testing.assert_array_equal(clone.get(oid), np.arange(10))
    finally:
        clone.close()


class _Temperature:
    def __init__(self, degrees: int) -> None:
        self.degrees = degrees


def _tagged(degrees: int) -> tuple:
    return ("private serializer", degrees)


def test_store_uses_the_serializer_it_was_given(name):
    """A store made with a private Serializer puts and gets through it, so a class registered there only
    reaches that store; a handle with the default serializer (and the default itself) is unaffected."""
    private = Serializer()
    private.register_serializer(_Temperature, serializer=lambda t: t.degrees, deserializer=_tagged)
    with ObjectStore.create(name, capacity=1 << 20, serializer=private) as s:
        try:
            assert s.serializer is private
            oid = s.put(_Temperature(21))
            assert s.get(oid, timeout=0) == ("private serializer", 21)
            with ObjectStore.attach(name) as plain:
                assert plain.serializer is default_serializer()
                value = plain.get(plain.put(_Temperature(5)), timeout=0)
                assert type(value) is _Temperature and value.degrees == 5
                # the deserializer travels with the frame: any reader of the private one's object gets it
                assert plain.get(oid, timeout=0) == ("private serializer", 21)
            with ObjectStore.attach(name, serializer=private) as again:
                assert again.get(again.put(_Temperature(7)), timeout=0) == ("private serializer", 7)
            assert _Temperature not in default_serializer().registered_classes()
        finally:
            s.destroy()


@pytest.mark.parametrize("bad", ["", "a/b", "../x", ".hidden", "x" * 101, "sp ace", 5, None])
def test_store_names_are_validated(bad):
    with pytest.raises(ValueError, match="store name"):
        ObjectStore.create(bad, capacity=1024)


@pytest.mark.parametrize("kw", [{"capacity": -1}, {"capacity": 1.5}, {"capacity": 10, "max_objects": 0}])
def test_create_validates_sizes(name, kw):
    with pytest.raises(ValueError, match="must be an integer"):
        ObjectStore.create(name, **kw)


def test_store_file_mode_is_0600(store):
    """The store's shared memory is readable and writable by its owner only."""
    st = os.stat(store.path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    assert store.path.startswith("/dev/shm/")


def test_attach_refuses_a_file_others_can_read(store, name):
    os.chmod(store.path, 0o644)
    try:
        with pytest.raises(PermissionError, match="0600"):
            ObjectStore.attach(name)
    finally:
        os.chmod(store.path, 0o600)


def test_create_is_0600_even_with_permissive_umask(name):
    old = os.umask(0)
    try:
        s = ObjectStore.create(name, capacity=1024)
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(s.path).st_mode) == 0o600
    finally:
        s.destroy()


# -- object ids ------------------------------------------------------------------------------------------

def test_object_ids():
    """IDs are 20 bytes, random unless given, shown as hex."""
    a, b = ObjectID.from_random(), ObjectID.from_random()
    assert a != b and len(a.binary()) == 20
    assert str(a) == a.hex() and len(a.hex()) == 40
    assert ObjectID.from_hex(a.hex()) == a == ObjectID(a.binary())
    assert a.hex() in repr(a)
    assert pickle.loads(pickle.dumps(a)) == a
    assert hash(ObjectID(bytes(20))) == hash(ObjectID(bytes(20)))


@pytest.mark.parametrize("bad", [b"", b"x" * 19, b"x" * 21, "ab" * 19, "zz" * 20, 12345, None, 1.0,
                                 ["x"] * 20])
def test_invalid_object_ids_are_rejected(store, bad):
    """No ID that is not exactly 20 bytes (or 40 hex digits) reaches the store."""
    ops = [lambda: store.get(bad, timeout=0), lambda: store.contains(bad), lambda: store.delete(bad),
           lambda: store.create(bad, 10), lambda: store.get_buffer(bad, timeout=0)]
    if bad is not None:  # put(value, None) means "a random ID"
        ops.append(lambda: store.put(1, bad))
    for op in ops:
        with pytest.raises(InvalidObjectIDError) as info:
            op()
        assert isinstance(info.value, ValueError)
    assert store.list() == []


def test_ids_given_as_bytes_hex_or_objectid(store):
    raw = os.urandom(20)
    assert store.put("b", raw) == ObjectID(raw)
    h = os.urandom(20).hex()
    assert store.put("h", h) == ObjectID.from_hex(h)
    assert store.get(raw, timeout=0) == "b" and store.get(h, timeout=0) == "h"
    assert store.get(ObjectID(raw), timeout=0) == "b"


def test_colliding_prefixes_are_distinct(store):
    """IDs that share 19 of 20 bytes are different objects (the hash table compares whole IDs)."""
    ids = [bytes(19) + bytes([i]) for i in range(50)]
    for i, oid in enumerate(ids):
        store.put(i, oid)
    assert [store.get(oid, timeout=0) for oid in ids] == list(range(50))


# -- put / get -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 0, "text", b"bytes", {"a": [1, 2, (3, 4)]}, list(range(1000)),
                                   bytearray(b"xyz" * 1000)])
def test_put_get_roundtrip(store, value):
    oid = store.put(value)
    assert isinstance(oid, ObjectID)
    assert store.get(oid) == value


def test_get_arrays_are_zero_copy_read_only_views(store):
    """Every numpy array in a got value is a zero-copy, read-only view of the store's memory."""
    a = np.arange(100_000, dtype=np.float64)
    oid = store.put({"a": a, "b": [a[::2].copy()]})
    v1 = store.get(oid)
    v2 = store.get(oid)
    lo, hi = mapping_range(store)
    for arr in (v1["a"], v1["b"][0]):
        assert not arr.flags.writeable
        assert lo <= arr.ctypes.data and arr.ctypes.data + arr.nbytes <= hi
        assert arr.ctypes.data % 64 == 0
    assert np.shares_memory(v1["a"], v2["a"])
    np.testing.assert_array_equal(v1["a"], a)
    with pytest.raises(ValueError):
        v1["a"][0] = 1.0


def test_put_copies_each_buffer_once_into_the_store(store):
    """The put's frame holds the array's bytes: a later change to the source does not show."""
    a = np.ones(1000)
    oid = store.put(a)
    a[:] = 7
    assert store.get(oid).sum() == 1000


@pytest.mark.parametrize("nbytes", [1 << 20, 32 << 20])
def test_put_and_get_move_no_buffer_through_the_heap(name, nbytes):
    """No extra copy: a put writes the array straight into shared memory and a get maps it, so the heap
    (Python's allocators and numpy's, both traced by tracemalloc) peaks at a few KiB during either, at any
    size. One intermediate ``bytes`` of the frame would peak at the payload's size."""
    a = np.ones(nbytes // 8)

    def heap_peak(call):
        tracemalloc.start()
        try:
            result = call()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    store = ObjectStore.create(name, capacity=nbytes + (1 << 20))
    try:
        oid, put_peak = heap_peak(lambda: store.put(a))
        value, get_peak = heap_peak(lambda: store.get(oid))
        assert put_peak < 64 * 1024, f"a put of {nbytes} bytes peaked at {put_peak} bytes of heap"
        assert get_peak < 64 * 1024, f"a get of {nbytes} bytes peaked at {get_peak} bytes of heap"
        assert np.array_equal(value, a)
        del value
        # The measure sees a copy when there is one: the one-call dumps builds the frame as bytes.
        _, dumps_peak = heap_peak(lambda: dumps(a))
        assert dumps_peak >= nbytes
    finally:
        store.destroy()


def test_put_existing_id_raises(store):
    """Objects are immutable: putting an existing ID raises ObjectExistsError."""
    oid = store.put(1)
    with pytest.raises(ObjectExistsError, match=oid.hex()):
        store.put(2, oid)
    assert store.get(oid) == 1
    with pytest.raises(ObjectExistsError):
        store.create(oid, 10)


def test_get_buffer_is_raw_read_only(store):
    from reference import deserialize

    oid = store.put([1, 2, 3])
    buf = store.get_buffer(oid)
    assert isinstance(buf, memoryview) and buf.readonly
    assert deserialize(buf) == [1, 2, 3]
    with pytest.raises(TypeError):
        buf[0] = 0


def test_contains_delete_list(store):
    a = store.put("a")
    b = store.put(np.zeros(100))
    assert store.contains(a) and b in store
    infos = {i.object_id: i for i in store.list()}
    assert set(infos) == {a, b}
    assert infos[b].sealed and infos[b].size > 800 and time.time() - infos[b].created < 60
    store.delete(a)
    assert not store.contains(a)
    assert [i.object_id for i in store.list()] == [b]
    with pytest.raises(ObjectNotFoundError, match=a.hex()):
        store.delete(a)
    with pytest.raises(GetTimeoutError):
        store.get(a, timeout=0)
    store.put("again", a)  # a deleted ID can be used again
    assert store.get(a) == "again"


def test_stats(store):
    s0 = store.stats()
    assert s0.capacity == 4 << 20 and s0.used_bytes == 0 and s0.num_objects == 0
    oid = store.put(np.zeros(1000))
    s1 = store.stats()
    assert s1.num_objects == 1 and s1.used_bytes >= 8000 and s1.free_bytes == s1.capacity - s1.used_bytes
    store.delete(oid)
    assert store.stats().used_bytes == 0


def test_capacity_is_reported_as_created(name):
    """A store created with ``capacity=10000`` reports 10000 (Arrow's ``test_store_capacity``), on every
    handle; objects take 64-byte multiples, so it holds 9984 bytes of them and never more than 10000."""
    s = ObjectStore.create(name, capacity=10000)
    try:
        other = ObjectStore.attach(name)
        assert s.capacity == other.capacity == s.stats().capacity == 10000
        assert repr(s) == f"ObjectStore({name!r}, capacity=10000)"
        assert s.stats().largest_free_block == 9984 and s.stats().free_bytes == 10000
        oid = ObjectID.from_random()
        s.create(oid, 9984)
        assert s.stats().used_bytes == 9984
        with pytest.raises(ObjectStoreFullError, match="capacity 10000 bytes"):
            s.put(b"")
        s.abort(oid)
        with pytest.raises(ObjectStoreFullError, match="larger than store"):
            s.create(ObjectID.from_random(), 9985)
        other.close()
    finally:
        s.destroy()

# -- raw create / seal / abort ---------------------------------------------------------------------------

def test_create_seal_makes_visible(store):
    """An unsealed object is invisible; sealing makes it visible and the writer's buffer is released."""
    oid = ObjectID.from_random()
    buf = store.create(oid, 11)
    assert isinstance(buf, memoryview) and not buf.readonly and len(buf) == 11
    buf[:] = b"hello world"
    assert not store.contains(oid)
    with pytest.raises(GetTimeoutError):
        store.get_buffer(oid, timeout=0)
    assert [i.sealed for i in store.list()] == [False]  # the creator sees its own unsealed object
    store.seal(oid)
    assert store.contains(oid)
    assert bytes(store.get_buffer(oid, timeout=0)) == b"hello world"
    with pytest.raises(ValueError):
        buf[0] = 1  # released at seal: the object is immutable from here on
    with pytest.raises(ObjectNotSealedError):
        store.seal(oid)
    with pytest.raises(ObjectNotSealedError):
        store.abort(oid)


def test_abort_leaves_nothing_behind(store):
    oid = ObjectID.from_random()
    store.create(oid, 1 << 20)
    assert store.stats().unsealed_bytes == 1 << 20
    store.abort(oid)
    st = store.stats()
    assert st.used_bytes == 0 and st.num_unsealed == 0
    assert store.list() == []
    store.create(oid, 5)[:] = b"again"
    store.seal(oid)
    assert bytes(store.get_buffer(oid)) == b"again"


def test_create_size_zero_and_bad_sizes(store):
    oid = ObjectID.from_random()
    store.create(oid, 0)
    store.seal(oid)
    assert bytes(store.get_buffer(oid)) == b""
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(ValueError, match="size"):
            store.create(ObjectID.from_random(), bad)


def test_failed_put_leaves_nothing_behind(store):
    import threading

    from reference import SerializationError

    with pytest.raises(SerializationError):
        store.put({"lock": threading.Lock()})
    assert store.stats().used_bytes == 0 and store.list() == []
