"""Leaks: objects kept alive by the Pickler (bpo-39492), and RSS growth of the store over many cycles.

CPython 3.8.0 and 3.8.1 leaked every object pickled by a Pickler with a ``reducer_override`` (cloudpickle's,
so ours) whenever the cyclic GC did not run: the Pickler sat in a reference cycle with its own bound method
and its memo held the objects. These ``track_`` benchmarks run the pattern with gc disabled and count what
is left; the "leaky" parameter swaps in a Pickler that recreates the cycle (``common.leaky_pickler_class``)
so each benchmark shows what a leak looks like on every interpreter. A normal Pickler must stay at ~0.
"""

from __future__ import annotations

import gc
import pickle
from typing import Any, Callable, Tuple

import numpy as np

from .common import KiB, destroy_store, leaky_pickler_class, new_store, rss_bytes, use_pickler


class _Sentinel:
    """A small object pickled inside every payload; counts its live instances (alive afterwards = leaked).

    Counting in ``__init__``/``__del__`` rather than with weakrefs keeps the count itself from adding
    gc-tracked objects to the loop.
    """

    alive = 0

    def __init__(self, i: int) -> None:
        self.i = i
        _Sentinel.alive += 1

    def __del__(self) -> None:
        _Sentinel.alive -= 1

    def __reduce__(self) -> Any:
        return (_Sentinel, (self.i,))


def _serializer(name: str) -> Callable[[Any], Any]:
    import cloudpickle

    import reference

    if name in ("reference", "leaky"):
        return reference.dumps
    if name == "cloudpickle":
        return cloudpickle.dumps
    if name == "pickle":
        return lambda obj: pickle.dumps(obj, protocol=5)
    raise ValueError(f"unknown pickler {name!r}")


class PicklerLeak:
    """Objects left alive by N serializations with gc disabled.

    "reference" is ``reference.dumps`` (cloudpickle's Pickler plus our reducer_override), "cloudpickle" is
    ``cloudpickle.dumps``, "pickle" the stdlib without reducer_override (a control), "leaky" the reference
    serializer with the leaky Pickler swapped in (must report ~N).
    """

    params = [["reference", "cloudpickle", "pickle", "leaky"]]
    param_names = ["pickler"]
    timeout = 120
    #: Serializations per run: each pickles a sentinel inside a list and a dict.
    N = 1000

    def setup(self, pickler: str) -> None:
        self.dumps = _serializer(pickler)
        self.swap = use_pickler(leaky_pickler_class() if pickler == "leaky" else None)
        self.dumps([_Sentinel(-1), {"warm": 1}])  # first-call caches (cloudpickle, reducers) out of the count

    def _run(self) -> Tuple[int, int]:
        """(sentinels still alive, growth of gc-tracked objects) after N serializations, gc disabled."""
        gc.collect()
        enabled = gc.isenabled()
        gc.disable()
        try:
            with self.swap:
                alive_before = _Sentinel.alive
                before = len(gc.get_objects())
                for i in range(self.N):
                    self.dumps([_Sentinel(i), {"i": i, "tag": "x" * 8}])
                grown = len(gc.get_objects()) - before
                alive = _Sentinel.alive - alive_before
        finally:
            if enabled:
                gc.enable()
            gc.collect()
        return alive, grown

    def track_objects_alive(self, pickler: str) -> int:
        """Pickled objects (of N) still alive after the loop: 0 for a sound Pickler, N for a leaking one."""
        return self._run()[0]

    track_objects_alive.unit = "objects"  # type: ignore[attr-defined]  # asv reads the unit from the function

    def track_gc_objects_growth(self, pickler: str) -> int:
        """Growth of ``len(gc.get_objects())`` over the loop: ~0 for a sound Pickler, ~N x (objects per payload)."""
        return self._run()[1]

    track_gc_objects_growth.unit = "objects"  # type: ignore[attr-defined]  # asv reads the unit from the function


class StoreRSSGrowth:
    """RSS growth over many put/get/delete cycles of the reference store, gc disabled.

    Each cycle puts a fresh 64 KiB array with a dict beside it, gets it back and deletes it. A sound store
    and serializer return to the same RSS (growth ~0 after a warm-up); the leaky Pickler keeps every payload
    alive, ~64 KiB a cycle.
    """

    params = [["reference", "leaky"]]
    param_names = ["pickler"]
    timeout = 300
    CYCLES = 400
    WARMUP = 50
    CAPACITY = 64 << 20
    OBJECT_ID = b"objstore-bench-rss-0"  # 20 bytes

    def setup(self, pickler: str) -> None:
        self.store = new_store(self.CAPACITY)
        self.swap = use_pickler(leaky_pickler_class() if pickler == "leaky" else None)

    def teardown(self, pickler: str) -> None:
        destroy_store(self.store)

    def _cycle(self, i: int) -> None:
        value = {"i": i, "data": np.full(8 * KiB, float(i))}  # 64 KiB of float64
        # One fixed ID: random ones would land in new slots of the store's table and grow RSS by the
        # table pages they touch, which is not a leak.
        object_id = self.store.put(value, object_id=self.OBJECT_ID)
        self.store.get(object_id)
        self.store.delete(object_id)

    def track_rss_growth(self, pickler: str) -> float:
        """RSS growth in KiB over CYCLES put/get/delete cycles, after WARMUP cycles."""
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            with self.swap:
                for i in range(self.WARMUP):
                    self._cycle(i)
                before = rss_bytes()
                for i in range(self.CYCLES):
                    self._cycle(i)
                after = rss_bytes()
        finally:
            if enabled:
                gc.enable()
            gc.collect()
        return (after - before) / KiB

    track_rss_growth.unit = "KiB"  # type: ignore[attr-defined]  # asv reads the unit from the function
