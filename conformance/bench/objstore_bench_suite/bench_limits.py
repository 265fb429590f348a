"""The physical limits every implementation is judged against, measured in the same run.

* ``Memcpy`` "warm": a copy into an array whose pages are already mapped and touched, the best a put can
  do when the store's memory has been written before; "cold": a copy into fresh POSIX shared memory
  (``multiprocessing.shared_memory``, created in setup, never touched), so the page faults of first touch
  are in the timed call, as they are for a put into a new store. Each with ``np.copyto`` and with a
  ``memoryview`` slice assignment (libc ``memcpy``); the ratios take the faster.
* ``PickleBound``: stdlib pickle at protocol 5 with out-of-band buffers kept aside (``buffer_callback``):
  no copy of the data at all, the zero-copy bound of a serializer's dumps and loads.
"""

from __future__ import annotations

import pickle
from multiprocessing import shared_memory
from typing import Any, Dict, List, Tuple

import numpy as np

from conformance.bench.objstore_bench_suite.common import REPEAT, ROUNDS, SERIALIZER_PAYLOADS, STORE_ARRAYS, WARMUP
from conformance.bench.payloads import BY_VALUE_ONLY, array_of, cached, payload
from conformance.bench.plan import skip


class Memcpy:
    """Copy a float64 array into memory already mapped ("warm") or into fresh shared memory ("cold")."""

    params = [STORE_ARRAYS, ["warm", "cold"], ["np.copyto", "memoryview"]]
    param_names = ["size", "memory", "copy"]
    timeout = 300
    repeat = REPEAT
    rounds = ROUNDS

    def setup(self, size: str, memory: str, copy: str) -> None:
        self.src = array_of(size)
        self.shm: Any = None
        if memory == "warm":
            def touched() -> np.ndarray:
                dst = np.empty_like(self.src)
                dst.fill(1.0)  # fault every page in now, outside the timing
                return dst

            self.dst = cached(("warm-destination", size), touched)
        else:
            self.shm = shared_memory.SharedMemory(create=True, size=self.src.nbytes)
            self.dst = np.ndarray(self.src.shape, self.src.dtype, buffer=self.shm.buf)
        if copy == "memoryview":
            self.src_bytes: Any = self.src.data.cast("B")
            self.dst_bytes: Any = self.dst.data.cast("B")
            self.copy = self._memoryview_copy
        else:
            self.copy = self._numpy_copy

    def teardown(self, size: str, memory: str, copy: str) -> None:
        # Release every export of shm.buf, or close() raises BufferError.
        self.src_bytes = self.dst_bytes = None
        if self.shm is not None:
            del self.dst
            self.shm.close()
            self.shm.unlink()
            self.shm = None

    def _numpy_copy(self) -> None:
        np.copyto(self.dst, self.src)

    def _memoryview_copy(self) -> None:
        self.dst_bytes[:] = self.src_bytes

    def time_copy(self, size: str, memory: str, copy: str) -> None:
        self.copy()



def _bound_dumps(value: Any) -> Tuple[bytes, List[Any]]:
    buffers: List[Any] = []
    return pickle.dumps(value, protocol=5, buffer_callback=buffers.append), buffers


class PickleBound:
    """stdlib pickle, protocol 5, buffers out-of-band and never copied: ``time_dumps`` and ``time_loads``.

    No ``setup`` (asv_runner 0.3 times one call per sample in a class that has one, asv#966): the payload and
    its pickle are built on the first call, once per process."""

    params = [SERIALIZER_PAYLOADS]
    param_names = ["payload"]
    timeout = 300
    repeat = REPEAT
    rounds = ROUNDS
    warmup_time = WARMUP
    _state: Dict[str, Tuple[Any, Tuple[bytes, List[Any]]]] = {}

    def _s(self, label: str) -> Tuple[Any, Tuple[bytes, List[Any]]]:
        state = self._state.get(label)
        if state is None:
            if label in BY_VALUE_ONLY:
                raise skip(f"stdlib pickle cannot serialize a {label} by value")
            value = payload(label)
            state = self._state[label] = (value, _bound_dumps(value))
        return state

    def time_dumps(self, label: str) -> None:
        _bound_dumps(self._s(label)[0])

    def time_loads(self, label: str) -> None:
        inband, buffers = self._s(label)[1]
        pickle.loads(inband, buffers=buffers)
