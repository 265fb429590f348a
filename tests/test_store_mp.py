"""The reference object store across processes: sharing, waking, crashes, concurrency (issue 3).

Children are forked (fast) except where a fresh interpreter is the point (spawn). Every wait is bounded
and every child is joined, or killed and joined, before the test ends.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time

import numpy as np
import pytest

from reference import GetTimeoutError, ObjectID, ObjectStore
from reference.arena import FREE, verify
from reference.arena.layout import ENTRY_SIZE, H_NSTACK, H_REPAIRS

FORK = mp.get_context("fork")
SPAWN = mp.get_context("spawn")
WAIT = 30  # seconds: the bound on every wait in this module


@pytest.fixture
def store(name):
    s = ObjectStore.create(name, capacity=64 << 20)
    yield s
    s.destroy()


class Children:
    """Start processes; at the end kill whatever is still running and join everything."""

    def __init__(self) -> None:
        self.procs = []

    def start(self, target, *args, ctx=FORK):
        p = ctx.Process(target=target, args=args, daemon=True)
        p.start()
        self.procs.append(p)
        return p

    def join_all(self, timeout=WAIT):
        for p in self.procs:
            p.join(timeout)
        codes = [p.exitcode for p in self.procs]
        assert all(c == 0 for c in codes), f"child exit codes {codes}"

    def cleanup(self):
        for p in self.procs:
            if p.is_alive():
                p.kill()
            p.join(WAIT)


@pytest.fixture
def children():
    c = Children()
    yield c
    c.cleanup()


# -- workers (module level: spawn imports them) ------------------------------------------------------------

def _put_later(store, oid_hex, delay, q):
    time.sleep(delay)
    store.put(np.arange(1000), oid_hex)
    q.put(time.time())


def _get_and_describe(store, oid_hex, q):
    v = store.get(oid_hex, timeout=WAIT)
    base = np.frombuffer(store.arena.mm, dtype=np.uint8).ctypes.data
    inside = base <= v.ctypes.data < base + len(store.arena.mm)
    q.put((float(v.sum()), bool(v.flags.writeable), bool(inside), os.getpid()))


def _create_partial_and_hang(name, oid_hex, size, q):
    s = ObjectStore.attach(name)
    buf = s.create(oid_hex, size)
    buf[: size // 2] = b"\xab" * (size // 2)
    q.put("ready")
    time.sleep(WAIT)


def _put_forever(name, q):
    s = ObjectStore.attach(name)
    big = np.ones(4 << 20)  # 32 MiB: most of a put's time is the copy into the store
    i = 0
    q.put("ready")
    while True:
        i += 1
        big[0] = i
        oid = s.put(big)
        s.delete(oid)


def _hold_view(name, oid_hex, q):
    s = ObjectStore.attach(name)
    v = s.get(oid_hex, timeout=WAIT)
    q.put(float(v[0]))
    time.sleep(WAIT)


def _value(k, i):
    return {"k": k, "i": i, "a": np.full(100 + 37 * i, k * 1000 + i, dtype=np.int64)}


def _oid(k, i):
    return ObjectID(bytes([k, i % 256, i // 256]) + bytes(17))


def _stress(name, k, nprocs, n, q):
    s = ObjectStore.attach(name)
    for i in range(n):
        s.put(_value(k, i), _oid(k, i))
    ok = 0
    for other in range(nprocs):
        for i in range(n):
            v = s.get(_oid(other, i), timeout=WAIT)
            a = v["a"]
            whole = a.shape == (100 + 37 * i,) and (a == other * 1000 + i).all()
            if (v["k"], v["i"]) == (other, i) and whole:
                ok += 1
    q.put(ok)


# -- tests ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctx", [FORK, SPAWN], ids=["fork", "spawn"])
def test_zero_copy_read_only_get_in_another_process(store, children, ctx):
    """get in another process returns read-only views of the store's memory; the handle travels by name."""
    oid = store.put(np.arange(1000))
    q = ctx.Queue()
    children.start(_get_and_describe, store, oid.hex(), q, ctx=ctx)
    total, writeable, inside, pid = q.get(timeout=WAIT)
    children.join_all()
    assert (total, writeable, inside) == (float(np.arange(1000).sum()), False, True)
    assert pid != os.getpid()


def test_put_in_another_process_wakes_waiting_get(store, children):
    """A put from another process wakes a waiting get promptly."""
    oid = ObjectID.from_random()
    q = FORK.Queue()
    children.start(_put_later, store, oid.hex(), 0.3, q)
    t0 = time.monotonic()
    v = store.get(oid, timeout=WAIT)
    woke = time.time()
    sealed = q.get(timeout=WAIT)
    children.join_all()
    assert v.sum() == np.arange(1000).sum()
    assert time.monotonic() - t0 >= 0.25
    assert woke - sealed < 0.25, f"woke {1e3 * (woke - sealed):.1f} ms after the seal"


def test_get_timeout_while_other_process_puts_other_things(store, children):
    """Seals of other objects wake the waiter, which keeps waiting for its own object until the timeout."""
    q = FORK.Queue()
    children.start(_put_later, store, ObjectID.from_random().hex(), 0.1, q)
    t = time.monotonic()
    with pytest.raises(GetTimeoutError):
        store.get(ObjectID.from_random(), timeout=0.5)
    assert 0.5 <= time.monotonic() - t < 5
    q.get(timeout=WAIT)
    children.join_all()


def test_unsealed_object_is_invisible_to_other_processes(store, children):
    oid = ObjectID.from_random()
    buf = store.create(oid, 100)
    buf[:] = b"x" * 100
    q = FORK.Queue()
    p = children.start(_get_and_describe, store, oid.hex(), q)
    time.sleep(0.3)
    assert p.is_alive() and q.empty()  # still waiting: the object is not sealed
    store.abort(oid)
    store.put(np.arange(1000), oid)
    assert q.get(timeout=WAIT)[0] == float(np.arange(1000).sum())
    children.join_all()


def test_writer_killed_mid_create_leaves_nothing_behind(store, name, children):
    """A writer SIGKILLed before sealing: the object never appears, its space and ID come back."""
    oid = ObjectID.from_random()
    q = FORK.Queue()
    p = children.start(_create_partial_and_hang, name, oid.hex(), 8 << 20, q)
    assert q.get(timeout=WAIT) == "ready"
    assert store.stats().unsealed_bytes == 8 << 20  # alive: its reservation stands
    os.kill(p.pid, signal.SIGKILL)
    p.join(WAIT)
    with pytest.raises(GetTimeoutError):
        store.get(oid, timeout=0)
    st = store.stats()  # reclaims what dead processes held
    assert (st.used_bytes, st.num_unsealed, st.unsealed_bytes) == (0, 0, 0)
    store.put("retry", oid)  # the ID is free again
    assert store.get(oid, timeout=0) == "retry"


def test_writer_killed_mid_put_leaves_store_consistent(store, name, children):
    """SIGKILL a process that puts 32 MiB arrays in a loop (mostly inside the copy): nothing torn shows."""
    keep = store.put(np.arange(100))
    q = FORK.Queue()
    p = children.start(_put_forever, name, q)
    assert q.get(timeout=WAIT) == "ready"
    time.sleep(0.35)
    os.kill(p.pid, signal.SIGKILL)
    p.join(WAIT)
    st = store.stats()
    assert st.num_unsealed == 0 and st.pinned_bytes == 0
    for info in store.list():
        assert info.sealed
        v = store.get(info.object_id, timeout=0)
        if info.object_id != keep:  # a sealed survivor is whole: every element but the first is 1
            assert v.shape == (4 << 20,) and (v[1:] == 1).all()
        del v  # a held view pins its object: the full-size put below needs a survivor's space back
    np.testing.assert_array_equal(store.get(keep), np.arange(100))
    oid = store.put(np.ones(4 << 20))  # full-size puts still fit: the space came back
    store.delete(oid)


def test_reader_killed_while_holding_a_view_gives_space_back(store, name, children):
    """Pins of a dead reader are reclaimed: a deleted object it held is freed."""
    oid = store.put(np.full(1 << 20, 5.0))
    q = FORK.Queue()
    p = children.start(_hold_view, name, oid.hex(), q)
    assert q.get(timeout=WAIT) == 5.0
    store.delete(oid)
    assert store.stats().pinned_bytes > 8 << 20 - 1
    os.kill(p.pid, signal.SIGKILL)
    p.join(WAIT)
    st = store.stats()
    assert st.pinned_bytes == 0 and st.used_bytes == 0


def test_many_processes_put_and_get_at_once(store, name, children):
    """Several processes put and get at once: nothing is lost, torn or visible half-written."""
    nprocs, n = 4, 60
    q = FORK.Queue()
    for k in range(nprocs):
        children.start(_stress, name, k, nprocs, n, q)
    results = [q.get(timeout=WAIT * 2) for _ in range(nprocs)]
    children.join_all()
    assert results == [nprocs * n] * nprocs
    assert store.stats().num_objects == nprocs * n


def test_threads_put_get_delete_at_once(store):
    import threading

    errors = []

    def work(k):
        try:
            for i in range(150):
                oid = store.put(_value(k, i))
                v = store.get(oid, timeout=WAIT)
                assert (v["k"], v["i"]) == (k, i) and (v["a"] == k * 1000 + i).all()
                if i % 2:
                    store.delete(oid)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not errors, errors
    assert store.stats().num_objects == 4 * 75


def _forked_put(store, q):
    q.put(store.put("from the child").hex())


def test_handle_survives_fork(store, children):
    """A handle inherited by fork works in the child (which takes its own lock and client slot)."""
    held = store.get(store.put(np.zeros(10)))
    q = FORK.Queue()
    children.start(_forked_put, store, q)
    oid = q.get(timeout=WAIT)
    children.join_all()
    assert store.get(oid, timeout=WAIT) == "from the child"
    assert store.stats().pinned_objects == 1  # the child's exit dropped nothing of ours
    del held
    assert store.stats().pinned_objects == 0


def test_handle_pickled_to_a_fresh_interpreter(store, children):
    assert pickle.loads(pickle.dumps(store)).name == store.name
    oid = store.put(np.arange(1000))
    q = SPAWN.Queue()
    children.start(_get_and_describe, pickle.loads(pickle.dumps(store)), oid.hex(), q, ctx=SPAWN)
    assert q.get(timeout=WAIT)[2] is True
    children.join_all()


def _die_inside_update(name, oid_hex, how, q):
    """Take the store's lock, do half of a table update, report, and wait to be killed."""
    s = ObjectStore.attach(name)
    arena = s.arena
    with arena:
        if how == "delete":  # the record is marked free, its bytes not yet given back
            e, _slot = arena.lookup(ObjectID.from_hex(oid_hex).binary())
            arena.mm[arena.lay.entries + e * ENTRY_SIZE] = FREE
        else:  # "reserve": bytes and a record taken, the record never written
            arena.alloc(1 << 20)
            n = arena.get_u32(H_NSTACK)  # pop a record off the free-record stack, as new_record starts by doing
            arena.set_u32(H_NSTACK, n - 1)
        q.put("inside")
        time.sleep(WAIT)


@pytest.mark.parametrize("how", ["delete", "reserve"])
def test_process_killed_inside_a_table_update(store, name, children, how):
    """SIGKILL a process in the middle of a table update (holding the lock): the next process to take the
    lock repairs the table, and the store is whole and fully usable."""
    oid = store.put(np.ones(1 << 20))
    q = FORK.Queue()
    p = children.start(_die_inside_update, name, oid.hex(), how, q)
    assert q.get(timeout=WAIT) == "inside"
    os.kill(p.pid, signal.SIGKILL)
    p.join(WAIT)
    st = store.stats()  # takes the lock: repairs
    assert store.arena.get_u32(H_REPAIRS) == 1
    if how == "delete":
        assert not store.contains(oid) and st.used_bytes == 0
    else:
        assert store.contains(oid) and st.used_bytes == (store.list()[0].size + 63) // 64 * 64
    assert verify(store.arena) == []
    big = store.put(np.zeros((store.capacity - st.used_bytes - 4096) // 8))  # all the free space, in one
    store.delete(big)
