"""The store: put and get latency and throughput, beside the physical limits they are judged against.

The limits are plain memory copies of the same arrays, in the same process and run:

* ``Memcpy`` "warm": ``np.copyto`` into an array whose pages are already mapped and touched, the best a
  put can do when the store's memory has been written before;
* ``Memcpy`` "cold": ``np.copyto`` into fresh POSIX shared memory (``multiprocessing.shared_memory``,
  created in setup, never touched), so the page faults of first touch are in the timed call, as they are
  for a put into a new store.

``ci/bench-summary`` divides the store's put times by these.
"""

from __future__ import annotations

from multiprocessing import shared_memory
from typing import Any

import numpy as np

from .common import array_of, cached, sizes

#: Array sizes of the throughput benchmarks (64 MiB and 256 MiB are dropped by OBJSTORE_BENCH_QUICK).
THROUGHPUT_SIZES = sizes("1MiB", "64MiB", "256MiB")


class Memcpy:
    """Copy a float64 array into memory already mapped ("warm") or into fresh shared memory ("cold")."""

    params = [THROUGHPUT_SIZES, ["warm", "cold"]]
    param_names = ["size", "memory"]
    timeout = 300

    def setup(self, size: str, memory: str) -> None:
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

    def teardown(self, size: str, memory: str) -> None:
        if self.shm is not None:
            del self.dst  # release the export of shm.buf, or close() raises BufferError
            self.shm.close()
            self.shm.unlink()
            self.shm = None

    def time_copy(self, size: str, memory: str) -> None:
        np.copyto(self.dst, self.src)

    def peakmem_copy(self, size: str, memory: str) -> None:
        np.copyto(self.dst, self.src)
