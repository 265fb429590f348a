"""A store through its adapter: put and get (small values, then float64 arrays of 1 KiB to 64 MiB), the first
get after a put, a get from another process (with ``multiprocess``), and the heap and RSS of a put over its
payload. The reference is timed beside it; ``bench_limits.Memcpy`` gives the copy limits.

Every store is made once per benchmark process and implementation (``targets.store``: Ray's takes seconds)
and reused; each timed put is deleted in ``teardown`` before the next, so a put always writes into a warm
store that has room.
"""

from __future__ import annotations

import multiprocessing
import tracemalloc
from typing import Any, Dict, List, Tuple

from conformance.bench.objstore_bench_suite.common import (
    IMPLS,
    PUT_REPEAT,
    REPEAT,
    ROUNDS,
    STORE_ARRAYS,
    STORE_VALUES,
    WARMUP,
    capacity_for,
    check_claims,
    store_value,
)
from conformance.bench.payloads import rss_bytes
from conformance.bench.targets import get_in_child, implementation, store


class Put:
    """``put`` of a value: one put per sample, deleted before the next (asv re-runs setup and teardown
    around each call), so each sample is one put into a warm store."""

    params = [IMPLS, STORE_VALUES]
    param_names = ["impl", "value"]
    timeout = 300
    number = 1
    repeat = PUT_REPEAT
    rounds = ROUNDS
    warmup_time = 0  # warm-up calls would run without the teardown between them and fill the store

    def setup(self, impl: str, value: str) -> None:
        check_claims(impl, "Put", payload=value)
        self.value = store_value(value)
        self.store = store(impl, ("put", value), capacity_for(value))
        self.store.delete(self.store.put(self.value))  # warm: map and touch the memory the put will use
        self.ids: List[bytes] = []

    def teardown(self, impl: str, value: str) -> None:
        while getattr(self, "ids", None):
            self.store.delete(self.ids.pop())

    def time_put(self, impl: str, value: str) -> None:
        self.ids.append(self.store.put(self.value))


class Get:
    """``get`` of a value put once per process: steady-state latency (arrays come back zero-copy, so this
    should not grow with the size). No ``setup``, so asv batches the calls (see bench_serializer)."""

    params = [IMPLS, STORE_VALUES]
    param_names = ["impl", "value"]
    timeout = 300
    repeat = REPEAT
    rounds = ROUNDS
    # The first call puts the value: let asv calibrate on the fast calls that follow.
    warmup_time = max(WARMUP, 0.2)
    _state: Dict[Tuple[str, str], Tuple[Any, bytes]] = {}

    def time_get(self, impl: str, value: str) -> None:
        state = self._state.get((impl, value))
        if state is None:
            check_claims(impl, "Get", payload=value)
            s = store(impl, ("get", value), capacity_for(value))
            oid = s.put(store_value(value))
            s.get(oid)
            state = self._state[(impl, value)] = (s.get, oid)
        get, oid = state
        get(oid)


class FirstGet:
    """The first ``get`` of an array just put, in the process that put it: one call per sample, right after
    setup's put (nothing of the object cached yet); teardown deletes it."""

    params = [IMPLS, STORE_ARRAYS]
    param_names = ["impl", "value"]
    timeout = 300
    number = 1
    warmup_time = 0
    repeat = REPEAT
    rounds = ROUNDS

    def setup(self, impl: str, value: str) -> None:
        check_claims(impl, "FirstGet", payload=value)
        self.store = store(impl, ("first-get", value), capacity_for(value))
        self.oid = self.store.put(store_value(value))

    def teardown(self, impl: str, value: str) -> None:
        oid, self.oid = getattr(self, "oid", None), None
        if oid is not None:
            self.store.delete(oid)

    def time_get(self, impl: str, value: str) -> None:
        self.store.get(self.oid)


class GetOtherProcess:
    """``get`` in another process (attached by name through the adapter's factory) of an array this process
    put: the child's median over 101 gets, timed inside it (a ``track_`` in seconds), so the process start
    and the pipe are not in it. Needs ``multiprocess``."""

    params = [IMPLS, STORE_ARRAYS]
    param_names = ["impl", "value"]
    timeout = 300
    ROUNDS = 101

    def setup(self, impl: str, value: str) -> None:
        check_claims(impl, "GetOtherProcess", payload=value)
        self.store = store(impl, ("other-process", value), capacity_for(value))
        self.oid = self.store.put(store_value(value))

    def teardown(self, impl: str, value: str) -> None:
        oid, self.oid = getattr(self, "oid", None), None
        if oid is not None:
            self.store.delete(oid)

    def track_get(self, impl: str, value: str) -> float:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited from this one
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=get_in_child, args=(impl, self.store.name, self.oid, self.ROUNDS, child))
        proc.start()
        child.close()
        try:
            answer = parent.recv()
        finally:
            proc.join(120)
        if isinstance(answer, str):
            raise RuntimeError(f"{impl}: the get in another process failed: {answer}")
        return float(answer)

    track_get.unit = "seconds"  # type: ignore[attr-defined]  # asv reads the unit from the function


class PutMemory:
    """The memory a put of an array takes over its payload's size.

    ``track_heap``: tracemalloc's peak (Python's and numpy's allocators) during the put, over the payload: 0
    for a put that writes straight into the store, 1 for one that builds its frame as ``bytes`` first.
    ``track_rss``: this process's resident memory after the put less before, over the payload, into a fresh
    store each time: about 1 for one copy in memory this process maps (a shared-memory store), 0 when the
    copy lives in another process (a store server), 2 or more for extra copies kept.
    """

    params = [IMPLS, [v for v in STORE_ARRAYS if v != "1KiB"]]
    param_names = ["impl", "value"]
    timeout = 300

    def setup(self, impl: str, value: str) -> None:
        check_claims(impl, "PutMemory", payload=value)
        self.value = store_value(value)
        factory: Any = implementation(impl).store_factory
        self.factory = factory
        self.store = factory.create(capacity=capacity_for(value))

    def teardown(self, impl: str, value: str) -> None:
        if getattr(self, "store", None) is not None:
            self.factory.destroy(self.store)
            self.store = None

    def track_heap(self, impl: str, value: str) -> float:
        tracemalloc.start()
        try:
            self.store.put(self.value)
            return float(tracemalloc.get_traced_memory()[1] / self.value.nbytes)
        finally:
            tracemalloc.stop()

    track_heap.unit = "payload"  # type: ignore[attr-defined]

    def track_rss(self, impl: str, value: str) -> float:
        before = rss_bytes()
        self.store.put(self.value)
        return float((rss_bytes() - before) / self.value.nbytes)

    track_rss.unit = "payload"  # type: ignore[attr-defined]
