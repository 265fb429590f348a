"""The reference store's waits and the lives of views: get timeouts, and views that outlive delete and
eviction (pins)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from reference import (
    GetTimeoutError,
    ObjectID,
    ObjectStore,
    ObjectStoreFullError,
)
from reference.arena.layout import H_USED

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


def test_releasing_a_view_takes_no_store_lock(store, monkeypatch):
    """A get takes the store's lock once (look up and pin); dropping the last view drops the pin without
    it (this process's own ledger row needs only its own RLock)."""
    import fcntl

    from reference.arena import lock

    oid = store.put(np.arange(10.0))
    calls = []
    real = lock.fcntl.flock
    monkeypatch.setattr(lock.fcntl, "flock", lambda fd, op: (calls.append(op), real(fd, op))[1])
    view = store.get(oid)
    assert calls == [fcntl.LOCK_EX, fcntl.LOCK_UN]
    arena = store.arena
    assert arena.pinned(int(np.flatnonzero(arena.ledger[arena.client])[0]))
    del view
    assert calls == [fcntl.LOCK_EX, fcntl.LOCK_UN]
    assert not arena.ledger[arena.client].any() and arena.local_pins == 0


def test_last_release_frees_a_deleted_object(store):
    """Dropping the last view of a deleted object frees its bytes at once (under the lock, the one case
    where a release takes it), and the table stays sound."""
    from reference.arena import verify

    oid = store.put(np.arange(50_000.0))
    used = store.stats().used_bytes
    first, second = store.get(oid), store.get(oid)
    store.delete(oid)
    del first
    assert store.arena.get_u64(H_USED) == used  # one pin left: still a zombie
    del second
    assert store.arena.get_u64(H_USED) == 0
    assert verify(store.arena) == []


@pytest.mark.parametrize("reclaim", ["stats", "put"])
def test_a_zombie_left_unpinned_is_reclaimed(store, reclaim):
    """The one race of a release without the lock (the reader's drop and the deleter's check each missing
    the other's write) leaves a deleted object unpinned but not freed. The next reclaim frees it: stats()
    and any put that does not fit run one."""
    from reference.arena import ZOMBIE, verify

    oid = store.put(np.arange(50_000.0))
    view = store.get(oid)
    store.delete(oid)
    arena = store.arena
    e = int(np.flatnonzero(arena.used_entries()["state"] == ZOMBIE)[0])
    with arena:  # what the race leaves: a zombie that nobody pins
        arena.ledger[arena.client, e] = 0
    assert any("deleted, unpinned" in p for p in verify(arena))
    if reclaim == "stats":
        assert store.stats().used_bytes == 0
    else:
        big = store.put(np.zeros((store.capacity - (64 << 10)) // 8))  # fits only once the zombie is gone
        store.delete(big)
    assert verify(arena) == []
    del view  # its pin was already taken away: dropping it changes nothing
    assert verify(arena) == [] and arena.local_pins == 0


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


def test_eviction_order_is_the_policy_alone(name):
    """``Arena.eviction_order`` (the policy: "choose objects to evict") lists every sealed object no process
    pins, least recently used (sealed or got) first, with the bytes each holds, and evicts nothing; an
    unsealed object is never a candidate."""
    with ObjectStore.create(name, capacity=1 << 20) as s:
        try:
            ids = [s.put(bytes(100 * (i + 1))) for i in range(4)]
            s.get(ids[0])  # used: now the most recently used
            held = s.get_buffer(ids[2])  # pinned: not a candidate while held
            s.create(b"u" * 20, 64)  # unsealed: never a candidate
            arena = s.arena
            with arena:
                order, sizes = arena.eviction_order()
                got = [bytes(arena.entry(e).object_id) for e in order.tolist()]
            assert got == [ids[1].binary(), ids[3].binary(), ids[0].binary()]
            assert sizes.tolist() == [arena.entry(e).alloc for e in order.tolist()]
            assert all(s.contains(o) for o in ids) and s.stats().evictions == 0
            del held
            s.abort(b"u" * 20)
        finally:
            s.destroy()


def test_bulk_eviction_is_lru_and_spares_pinned(name, monkeypatch):
    """When a batch takes most of a full table (a store of small objects), it is evicted in one bulk step:
    the same choice as one at a time (least recently used first, pinned objects never, a tenth of the
    capacity), a sound table after it, and every survivor still readable."""
    from reference.arena import Arena, verify

    bulks = []
    real = Arena.evict_bulk
    monkeypatch.setattr(Arena, "evict_bulk", lambda self, records: (bulks.append(len(records)),
                                                                    real(self, records))[1])
    with ObjectStore.create(name, capacity=256 << 10, max_objects=256) as s:
        try:
            ids = [s.put((0).to_bytes(2, "little") * 32)]
            pinned = s.get_buffer(ids[0])  # the least recently used, but held
            ids += [s.put(i.to_bytes(2, "little") * 32) for i in range(1, 256)]  # 128-byte records: table full
            recent = ids[1:9]
            for oid in recent:
                s.get(oid)  # now the most recently used
            extra = s.put(b"one more")  # no free record: evict a batch
            assert len(bulks) == 1 and bulks[0] >= 64
            survivors = [i for i, oid in enumerate(ids) if s.contains(oid)]
            evicted = 256 - len(survivors)
            assert evicted == bulks[0] == s.stats().evictions
            assert evicted * 128 >= (256 << 10) // 10  # at least a tenth of the capacity
            assert 0 in survivors and all(i in survivors for i in range(1, 9))  # pinned, recently used
            assert survivors == [0, *range(1, 9), *range(256 - len(survivors) + 9, 256)]  # then the newest
            for i in survivors:
                assert s.get(ids[i]) == i.to_bytes(2, "little") * 32
            assert s.get(extra) == b"one more" and s.get(ids[0]) == (0).to_bytes(2, "little") * 32
            del pinned
            assert verify(s.arena) == []
            s.put(b"and again")  # the rebuilt free list and index keep working
            assert verify(s.arena) == []
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


def test_deletes_leave_no_needless_tombstones(name):
    """A delete empties its index slot when the next one is empty (and the tombstones right before it), so
    put/delete churn does not fill the index with tombstones every missing lookup walks: with the table
    emptied after each cycle, the slots in use come back to zero; ids stay findable throughout."""
    from reference.arena import verify
    from reference.arena.layout import H_IUSED

    store = ObjectStore.create(name, capacity=4 << 20, max_objects=1024)
    try:
        arena = store.arena
        for cycle in range(20):
            ids = [store.put(i) for i in range(300)]
            for oid in ids[::2]:
                store.delete(oid)
            assert all(store.contains(oid) for oid in ids[1::2])
            assert verify(arena) == []
            for oid in ids[1::2]:
                store.delete(oid)
            assert arena.get_u32(H_IUSED) == 0, f"cycle {cycle}: tombstones left in an empty index"
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
