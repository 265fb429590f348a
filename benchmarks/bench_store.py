"""The store: put and get latency and throughput, beside the physical limits they are judged against.

The limits are plain memory copies of the same arrays, in the same process and run:

* ``Memcpy`` "warm": a copy into an array whose pages are already mapped and touched, the best a put can
  do when the store's memory has been written before;
* ``Memcpy`` "cold": a copy into fresh POSIX shared memory (``multiprocessing.shared_memory``, created in
  setup, never touched), so the page faults of first touch are in the timed call, as they are for a put
  into a new store.

Each is taken with ``np.copyto`` and with a ``memoryview`` slice assignment (libc ``memcpy``).

``ci/bench-summary`` divides the store's put times by these.
"""

from __future__ import annotations

import multiprocessing
from collections import OrderedDict
from typing import Any, Dict

import numpy as np

from conformance.bench.objstore_bench_suite import bench_limits
from conformance.bench.targets import median_get_seconds

from .common import KiB, array_of, destroy_store, float64_array, new_store, shared_store, sizes, store_capacity

#: Array sizes of the throughput benchmarks (64 MiB and 256 MiB are dropped by OBJSTORE_BENCH_QUICK).
THROUGHPUT_SIZES = sizes("1MiB", "64MiB", "256MiB")


class Memcpy(bench_limits.Memcpy):
    """Copy a float64 array into memory already mapped ("warm") or into fresh shared memory ("cold"): the
    shipped suite's limit (``conformance.bench.objstore_bench_suite.bench_limits``) at this module's sizes.

    Two copy routines: ``np.copyto`` (numpy's copy loop) and ``memoryview`` slice assignment (libc
    ``memcpy``: the routine ``SerializedObject.write_to``, and so the store's put, copies with). The
    summary takes the faster as the limit.
    """

    params = [THROUGHPUT_SIZES, ["warm", "cold"], ["np.copyto", "memoryview"]]
    repeat: Any = 0  # asv's defaults, as recorded before the class moved
    rounds = 2

    def peakmem_copy(self, size: str, memory: str, copy: str) -> None:
        self.copy()


# ---------------------------------------------------------------------------------------------------------
# The reference store. Each setup makes a store (and each teardown destroys it), so a timed call always
# meets the state it names; that work is not timed.

class StorePut:
    """``put`` of a float64 array: throughput, beside ``Memcpy`` of the same array.

    "warm": the store's memory was written before through this process's mapping (a put of the same size,
    then a delete, in setup), so the put copies into mapped pages; "cold": a new store whose pages were
    never touched, so the put pays the page faults too (compare with Memcpy "cold").
    """

    params = [THROUGHPUT_SIZES, ["warm", "cold"]]
    param_names = ["size", "memory"]
    timeout = 300

    def setup(self, size: str, memory: str) -> None:
        self.value = array_of(size)
        self.store = new_store(store_capacity(self.value.nbytes))
        if memory == "warm":
            # First-fit allocation: the timed put lands where this one was.
            self.store.delete(self.store.put(self.value))

    def teardown(self, size: str, memory: str) -> None:
        destroy_store(self.store)

    def time_put(self, size: str, memory: str) -> None:
        self.store.put(self.value)

    def peakmem_put(self, size: str, memory: str) -> None:
        self.store.put(self.value)


class StoreHeap:
    """The heap a put and a get of a float64 array use, over the payload's size: tracemalloc's peak (it
    traces Python's allocators and numpy's) during the call, in ``heap bytes / payload bytes``.

    ``peakmem_put`` counts RSS, where the source array and its one copy in the store's pages both show
    (2.00x the payload with no extra copy at all); this isolates the extra copies: a put that built its
    frame as ``bytes`` first would read 1.00 here, one that writes straight into shared memory 0.00.
    """

    params = [THROUGHPUT_SIZES]
    param_names = ["size"]
    timeout = 300

    def setup(self, size: str) -> None:
        self.value = array_of(size)
        self.store = new_store(store_capacity(self.value.nbytes))

    def teardown(self, size: str) -> None:
        destroy_store(self.store)

    def _heap_peak(self, call: Any) -> float:
        import tracemalloc

        tracemalloc.start()
        try:
            call()
            return tracemalloc.get_traced_memory()[1] / self.value.nbytes
        finally:
            tracemalloc.stop()

    def track_put(self, size: str) -> float:
        return self._heap_peak(lambda: self.store.put(self.value))

    track_put.unit = "payload"  # type: ignore[attr-defined]

    def track_get(self, size: str) -> float:
        oid = self.store.put(self.value)
        return self._heap_peak(lambda: self.store.get(oid))

    track_get.unit = "payload"  # type: ignore[attr-defined]


#: Payloads of the small-object latency benchmarks.
SMALL = OrderedDict([
    ("int", lambda: 12345),
    ("bytes-100B", lambda: bytes(range(100))),
    ("dict-10", lambda: {f"k{i}": i for i in range(10)}),
    ("float64-1KiB", lambda: float64_array(KiB)),
])


#: Objects put once per process into a shared store, by (benchmark, parameter).
_PUT_ONCE: Dict[Any, Any] = {}


# Steady-state latency of calls of a few microseconds needs many calls per sample. asv_runner 0.3 and later
# time one call per sample in a class that has a ``setup`` (asv#966: every call sees freshly set-up state),
# which times a cold call plus the timer instead. So the classes below have no ``setup``: each builds its
# state on its first call, once per process and parameter, and asv batches the calls as ``timeit`` does.


class _SmallState:
    def __init__(self, payload: str) -> None:
        self.value = SMALL[payload]()
        self.store = shared_store("small", 64 << 20)
        for _ in range(300):  # table slots, allocator and caches reach their steady state
            oid = self.store.put(self.value)
            self.store.get(oid)
            self.store.delete(oid)
        self.object_id = self.store.put(self.value)
        self.put = self.store.put
        self.get = self.store.get


class StoreSmall:
    """``put`` and ``get`` latency of small objects, where per-call overhead (lock, table, pickle) is all.

    Steady state: one store per process (``common.shared_store``), warmed by a few hundred puts, gets and
    deletes. Timed puts are not deleted: they fill the table (65,536 records) and the store evicts in bulk,
    so a put's figure includes its share of eviction, as it would for a store that is never emptied.
    """

    params = [list(SMALL)]
    param_names = ["payload"]
    timeout = 120
    repeat = (20, 200, 5.0)
    _state: Dict[str, _SmallState] = {}

    def _s(self, payload: str) -> _SmallState:
        state = self._state.get(payload)
        if state is None:
            state = self._state[payload] = _SmallState(payload)
        return state

    def time_put(self, payload: str) -> None:
        s = self._s(payload)
        s.put(s.value)

    def time_get(self, payload: str) -> None:
        s = self._s(payload)
        s.get(s.object_id)


class StoreGet:
    """``get`` latency by size: arrays come back as zero-copy views, so this must not grow with the size.

    One store per process and size, the array put once (``common.shared_store``) on the first call and got
    20 times; no ``setup`` (see above), so the gets are batched.
    """

    params = [sizes("1KiB", "1MiB", "64MiB", "256MiB")]
    param_names = ["size"]
    timeout = 300
    repeat = (20, 200, 5.0)
    # The first call puts up to 256 MiB (a second or so). asv calibrates the calls per sample during its
    # warm-up and stops at one call per sample if a call still takes 10 ms when the warm-up (0.1 s by
    # default) is over: give it the time to see the fast calls that follow.
    warmup_time = 3.0
    _state: Dict[str, Any] = {}

    def _s(self, size: str) -> Any:
        state = self._state.get(size)
        if state is None:
            value = array_of(size)
            store = shared_store(("get", size), store_capacity(value.nbytes))
            object_id = store.put(value)
            del value
            for _ in range(20):
                store.get(object_id)
            state = self._state[size] = (store.get, object_id)
        return state

    def time_get(self, size: str) -> None:
        get, object_id = self._s(size)
        get(object_id)

    def peakmem_get(self, size: str) -> None:
        get, object_id = self._s(size)
        get(object_id)


class StoreFirstGet:
    """The first ``get`` of an object just put, in the process that put it: nothing of it cached yet.

    Each sample is one call (``number = 1``, no warm-up) on an object that setup has just put; teardown
    deletes it.
    """

    params = [sizes("1KiB", "1MiB", "64MiB", "256MiB")]
    param_names = ["size"]
    timeout = 300
    number = 1
    warmup_time = 0
    repeat = (10, 40, 10.0)

    def setup(self, size: str) -> None:
        value = array_of(size)
        self.store = shared_store(("first-get", size), store_capacity(value.nbytes))
        self.object_id = self.store.put(value)

    def teardown(self, size: str) -> None:
        self.store.delete(self.object_id)

    def time_get(self, size: str) -> None:
        self.store.get(self.object_id)


class StoreGetAfterPut(StoreFirstGet):
    """A ``get`` of an object put long ago, right after a put of another one: :class:`StoreFirstGet`'s
    conditions (one call per sample) for an object that is not new.

    If this costs what the first get does, the first get's extra time is the put's footprint in the CPU's
    caches (the get's code and data evicted), not anything about a just-put object.
    """

    params = [sizes("1KiB", "64MiB")]

    def setup(self, size: str) -> None:
        value = array_of(size)
        self.store = shared_store(("get-after-put", size), store_capacity(value.nbytes))
        key = ("get-after-put", size)
        if key not in _PUT_ONCE:
            _PUT_ONCE[key] = self.store.put(np.arange(128, dtype=np.float64))
            self.store.get(_PUT_ONCE[key])
        self.old = _PUT_ONCE[key]
        self.new = self.store.put(value)

    def teardown(self, size: str) -> None:
        self.store.delete(self.new)

    def time_get(self, size: str) -> None:
        self.store.get(self.old)


def _get_in_child(name: str, object_id: Any, rounds: int, conn: Any) -> None:
    """Child process: attach to the store by name, time ``rounds`` gets, send back the median."""
    from reference.store import ObjectStore

    store = ObjectStore.attach(name)
    try:
        conn.send(median_get_seconds(store, object_id, rounds))
    finally:
        store.close()
        conn.close()


class StoreGetOtherProcess:
    """``get`` in another process (attached by name) of an object this process put: its median latency.

    Timed inside the child with ``time.perf_counter`` (a ``track_`` in seconds), so the process start and
    the pipe are not in it.
    """

    params = [sizes("1KiB", "1MiB", "64MiB", "256MiB")]
    param_names = ["size"]
    timeout = 300
    ROUNDS = 101

    def setup(self, size: str) -> None:
        value = array_of(size)
        self.store = new_store(store_capacity(value.nbytes))
        self.object_id = self.store.put(value)

    def teardown(self, size: str) -> None:
        destroy_store(self.store)

    def track_get(self, size: str) -> float:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_get_in_child, args=(self.store.name, self.object_id, self.ROUNDS, child))
        proc.start()
        child.close()
        try:
            median = parent.recv()
        finally:
            proc.join(60)
        if proc.exitcode != 0:
            raise RuntimeError(f"the child process failed (exit code {proc.exitcode})")
        return median

    track_get.unit = "seconds"  # type: ignore[attr-defined]  # asv reads the unit from the function
