"""The reference object store (issue 3) in one process; test_store_mp.py has the multi-process tests."""

from __future__ import annotations

import os
import pickle
import stat
import time
import tracemalloc

import numpy as np
import pytest

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


@pytest.fixture
def store(name):
    s = ObjectStore.create(name, capacity=4 << 20)
    yield s
    s.destroy()


def _mapping_range(store):
    base = np.frombuffer(store.arena.mm, dtype=np.uint8)
    start = base.ctypes.data
    return start, start + base.nbytes


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
    lo, hi = _mapping_range(store)
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


# -- timeouts --------------------------------------------------------------------------------------------

def test_get_timeout_zero_raises_at_once(store):
    oid = ObjectID.from_random()
    t = time.monotonic()
    with pytest.raises(GetTimeoutError) as info:
        store.get(oid, timeout=0)
    assert time.monotonic() - t < 0.5  # no waiting (generous bound for a loaded machine)
    assert isinstance(info.value, TimeoutError) and oid.hex() in str(info.value)


def test_get_positive_timeout_waits_that_long(store):
    t = time.monotonic()
    with pytest.raises(GetTimeoutError):
        store.get(ObjectID.from_random(), timeout=0.3)
    assert 0.3 <= time.monotonic() - t < 3


def test_waiting_get_woken_by_put_in_another_thread(store):
    import threading

    oid = ObjectID.from_random()
    timer = threading.Timer(0.2, lambda: store.put("late", oid))
    timer.start()
    try:
        t = time.monotonic()
        assert store.get(oid, timeout=10) == "late"
        assert time.monotonic() - t < 5
    finally:
        timer.join(10)


# -- views outlive delete and eviction -------------------------------------------------------------------

def _churn(store, nbytes, value, total):
    """Put ``total`` bytes in objects of ``nbytes`` (evicting as needed); the ids still present."""
    ids = [store.put(np.full(nbytes // 8, value, dtype=np.float64)) for _ in range(total // nbytes)]
    return [o for o in ids if store.contains(o)]


def test_view_survives_delete(store):
    """A view held across delete stays valid and unchanged; its memory comes back once released."""
    a = np.arange(100_000, dtype=np.float64)
    oid = store.put(a)
    used = store.stats().used_bytes
    view = store.get(oid)
    store.delete(oid)
    assert not store.contains(oid)
    st = store.stats()
    assert st.pinned_bytes == used and st.used_bytes == used
    store.put("reuse", oid)  # the ID is free at once, the bytes are not
    more = _churn(store, 256 << 10, -1.0, 3 * store.capacity)  # would overwrite freed bytes
    np.testing.assert_array_equal(view, a)
    assert len(more) > 0
    for o in more:
        store.delete(o)
    del view
    st = store.stats()
    assert st.pinned_bytes == 0 and st.used_bytes < used


def test_view_survives_eviction(name):
    """A view of a deleted object keeps its bytes while puts force eviction of everything else."""
    with ObjectStore.create(name, capacity=1 << 20) as s:
        try:
            a = np.arange(20_000, dtype=np.float64)  # 160 KB
            held_id = s.put(a)
            held = s.get(held_id)
            s.delete(held_id)  # invisible, pinned
            other = [s.put(np.full(10_000, i, dtype=np.float64)) for i in range(40)]  # forces eviction
            assert s.stats().evictions > 0
            np.testing.assert_array_equal(held, a)
            assert any(s.contains(o) for o in other) and not all(s.contains(o) for o in other)
            del held
            assert s.stats().pinned_bytes == 0
        finally:
            s.destroy()


def test_eviction_is_lru_and_spares_pinned(name):
    """Sealed objects no reader holds are evicted least recently used first; pinned ones never."""
    with ObjectStore.create(name, capacity=1 << 20) as s:
        try:
            ids = [s.put(np.full(12_000, i, dtype=np.float64)) for i in range(10)]  # ~96 KB each
            pinned = s.get(ids[0])
            s.get(ids[1])  # touch 1: it becomes the most recently used (view dropped at once)
            for _ in range(3):
                s.put(np.zeros(12_000))
            alive = [s.contains(o) for o in ids]
            assert alive[0] and alive[1], alive
            assert not alive[2], alive  # the least recently used unpinned object went first
            with pytest.raises(GetTimeoutError):
                s.get(ids[2], timeout=0)  # an evicted object is gone, not garbage
            np.testing.assert_array_equal(pinned, np.full(12_000, 0.0))
            evicted = s.stats().evictions
            assert evicted == alive.count(False) >= 1
        finally:
            s.destroy()


def test_full_store_error_and_recovery(name):
    """A put that does not fit raises ObjectStoreFullError naming the id, the size and what holds the
    space; the store stays fully usable."""
    with ObjectStore.create(name, capacity=1 << 20) as s:
        try:
            ids = [s.put(np.full(25_000, i, dtype=np.float64)) for i in range(4)]  # ~200 KB each
            views = [s.get(o) for o in ids]  # pin them all
            unsealed = ObjectID.from_random()
            s.create(unsealed, 150_000)
            big = ObjectID.from_random()
            with pytest.raises(ObjectStoreFullError) as info:
                s.put(np.zeros(40_000), big)
            msg = str(info.value)
            assert big.hex() in msg and "320" in msg and "pinned" in msg and "unsealed" in msg
            assert "150016 bytes are held by 1 unsealed" in msg
            assert isinstance(info.value, MemoryError)
            assert not s.contains(big) and all(s.contains(o) for o in ids)
            for i, v in enumerate(views):
                assert v[0] == i
            with pytest.raises(ObjectStoreFullError, match="larger than store"):
                s.put(np.zeros(200_000))
            s.abort(unsealed)
            del views, v
            oid = s.put(np.zeros(40_000), big)
            assert s.get(oid).shape == (40_000,)
        finally:
            s.destroy()


def test_full_store_of_pinned_fragments_evicts_nothing(name):
    """Issue 13 #4: when pinned objects fragment the space so that even evicting every unpinned object
    leaves no gap big enough, a create raises ObjectStoreFullError and evicts nothing. (Before the fix the
    store counted free bytes, not contiguous ones: 8 slots of 64 bytes, every other one pinned, a create of
    128 bytes evicted the 4 unpinned objects and then raised.)"""
    with ObjectStore.create(name, capacity=8 * 64) as s:
        try:
            ids = []
            for _ in range(8):
                oid = ObjectID.from_random()
                s.create(oid, 64)
                s.seal(oid)
                ids.append(oid)
            pins = [s.get_buffer(oid) for oid in ids[::2]]
            with pytest.raises(ObjectStoreFullError, match="does not fit"):
                s.create(ObjectID.from_random(), 128)
            assert s.stats().evictions == 0
            assert all(s.contains(oid) for oid in ids)
            for view in pins:
                view.release()
            big = ObjectID.from_random()  # with the pins gone, eviction can make room again
            s.create(big, 128)
            s.seal(big)
            assert s.stats().evictions >= 2
        finally:
            s.destroy()


def test_full_object_table(name):
    """Running out of object records is reported like running out of bytes, and eviction frees records."""
    with ObjectStore.create(name, capacity=1 << 20, max_objects=4) as s:
        try:
            ids = [s.put(i) for i in range(4)]
            views = [s.get_buffer(o) for o in ids]
            with pytest.raises(ObjectStoreFullError, match="all 4 object records"):
                s.put(99)
            del views
            assert s.get(s.put(99), timeout=0) == 99
            assert 1 <= s.stats().evictions <= 4
        finally:
            s.destroy()


def test_many_put_delete_cycles_keep_lookups_working(name):
    """Deleted IDs leave tombstones in the hash index; it is rebuilt, and lookups stay correct."""
    with ObjectStore.create(name, capacity=1 << 20, max_objects=16) as s:
        try:
            keep = s.put("keep")
            for i in range(500):
                o = s.put(i)
                assert s.get(o, timeout=0) == i
                s.delete(o)
            assert s.get(keep, timeout=0) == "keep"
            assert not s.contains(ObjectID.from_random())
            assert s.stats().used_bytes == s.stats().sealed_bytes
        finally:
            s.destroy()


def test_index_keeps_a_free_slot_through_put_delete_churn(name):
    """The object index is open-addressed: a lookup of a missing id ends at an empty slot. Slots in use
    (live and tombstones) must stay under 3/4 after every put and delete, or a lookup probes for ever (the
    store-model test once hung there: removes left tombstones, then inserts filled the empty slots)."""
    from reference.arena.layout import H_IUSED

    store = ObjectStore.create(name, capacity=1 << 20, max_objects=8)
    try:
        arena = store.arena
        limit = 3 * arena.lay.index_size
        for cycle in range(200):
            ids = [store.put(cycle) for _ in range(1 + cycle % 8)]
            assert arena.get_u32(H_IUSED) * 4 < limit, f"cycle {cycle}: index slots in use after puts"
            for oid in ids[: 1 + (cycle * 5) % len(ids)]:
                store.delete(oid)
                assert arena.get_u32(H_IUSED) * 4 < limit, f"cycle {cycle}: index slots in use after deletes"
            for oid in ids:
                if store.contains(oid):
                    store.delete(oid)
        assert not store.contains(ObjectID.from_random())  # a lookup of a missing id ends
    finally:
        store.destroy()


def test_pid_liveness_sees_reused_pids():
    """A live pid whose process started after the pin/object was recorded belongs to someone else."""
    from reference.arena import pid_alive

    assert pid_alive(os.getpid()) and pid_alive(os.getpid(), time.time())
    assert not pid_alive(os.getpid(), time.time() - 10 * 365 * 86400)  # "recorded" before we started
    assert not pid_alive(0) and not pid_alive(-5)


def test_prefaulted_store(name):
    with ObjectStore.create(name, capacity=4 << 20, prefault=True) as s:
        try:
            oid = s.put(np.arange(1000))
            assert s.get(oid)[999] == 999
        finally:
            s.destroy()


# -- large puts: pages faulted ahead, copies split over threads (issue 12) -----------------------------------

def test_copy_into_splits_a_large_copy_and_writes_every_byte(monkeypatch):
    """A copy of PARALLEL_MIN bytes or more is split into parts (one per thread) that together write every
    byte exactly; a smaller one is a plain slice assignment."""
    from reference import copying

    monkeypatch.setattr(copying, "copy_threads", lambda: 3)
    monkeypatch.setattr(copying, "_pool_pid", 0)  # a pool of this test's size, dropped after it
    monkeypatch.setattr(copying, "_pool", None)
    parts = []
    real = copying._copy_part
    monkeypatch.setattr(copying, "_copy_part", lambda d, s, n: (parts.append(n), real(d, s, n)))
    for size in (copying.PARALLEL_MIN - 1, copying.PARALLEL_MIN, 3 * copying.PARALLEL_MIN + 12345):
        parts.clear()
        source = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
        target = bytearray(size + 1)
        copying.copy_into(memoryview(target)[:size], memoryview(source))
        assert bytes(target[:size]) == source.tobytes() and target[size] == 0
        if size < copying.PARALLEL_MIN:
            assert parts == []
        else:
            assert len(parts) == min(3, size // (2 << 20)) and sum(parts) == size


def test_copy_into_waits_for_every_part_before_raising(monkeypatch):
    """When a part fails, copy_into still waits for every other part before it raises: nothing writes into
    the destination after it returns (the put then gives the space back)."""
    import threading

    from reference import copying

    monkeypatch.setattr(copying, "copy_threads", lambda: 2)
    monkeypatch.setattr(copying, "_pool_pid", 0)
    monkeypatch.setattr(copying, "_pool", None)
    done = threading.Event()
    real = copying._copy_part

    def part(dst, src, n):
        if threading.current_thread() is threading.main_thread():
            raise OSError("boom")
        time.sleep(0.2)
        real(dst, src, n)
        done.set()

    monkeypatch.setattr(copying, "_copy_part", part)
    source = np.ones(copying.PARALLEL_MIN * 2, dtype=np.uint8)
    with pytest.raises(OSError, match="boom"):
        copying.copy_into(memoryview(bytearray(source.nbytes)), memoryview(source))
    assert done.is_set()


def test_large_puts_into_fresh_and_mapped_pages_round_trip(name, monkeypatch):
    """A large put into fresh pages goes through the parallel copy and marks its chunks; a put into the
    same (now mapped) pages is one memcpy; both come back bit for bit."""
    from reference import copying

    calls = []
    real = copying.copy_into
    monkeypatch.setattr(copying, "copy_into", lambda t, s: (calls.append(t.nbytes), real(t, s)))
    value = np.random.default_rng(0).random(copying.PARALLEL_MIN // 8 * 3)
    s = ObjectStore.create(name, capacity=2 * value.nbytes)
    try:
        first = s.put(value)
        assert calls == [value.nbytes]
        assert np.array_equal(s.get(first), value)
        s.delete(first)
        second = s.put(value)  # first fit: the same, now mapped, pages
        assert calls == [value.nbytes]
        assert np.array_equal(s.get(second), value)
    finally:
        s.destroy()


def test_copy_helpers_are_joined_before_a_fork():
    """After a large copy, forking finds no helper thread left (a fork of a multi-threaded process can
    deadlock the child, and CPython 3.12+ warns); the next large copy starts them again."""
    import threading

    from reference import copying

    size = copying.PARALLEL_MIN * 2
    source = np.ones(size, dtype=np.uint8)
    copying.copy_into(memoryview(bytearray(size)), memoryview(source))
    if copying.copy_threads() > 1:
        assert any(t.name.startswith("objstore-copy") for t in threading.enumerate())
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert not any(t.name.startswith("objstore-copy") for t in threading.enumerate())
    target = bytearray(size)
    copying.copy_into(memoryview(target), memoryview(source))
    assert target == source.tobytes()
