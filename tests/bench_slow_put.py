"""A deliberately slower implementation for the ``--compare`` gate's tests: the reference, with each store
``put`` followed by a busy wait of ``OBJSTORE_BENCH_SLOW_PUT`` times its own duration (0.25: 25 % slower).

The same spec with the variable unset (or 0) is the unchanged implementation, so a base run and a slowed
run differ in nothing but the wait, as a commit that slows a put would. Loaded as
``bench_slow_put:implementation`` with ``tests/`` on the path.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Iterable, Optional

from conformance.adapters import reference_implementation
from conformance.api import Implementation

SPEC = "bench_slow_put:implementation"


class _SlowPutStore:
    def __init__(self, inner: Any, extra: float) -> None:
        self._inner = inner
        self._extra = extra
        self.name = inner.name

    def put(self, value: Any, object_id: Any = None) -> bytes:
        start = time.perf_counter()
        oid: bytes = self._inner.put(value, object_id)
        end = time.perf_counter()
        deadline = end + (end - start) * self._extra
        while time.perf_counter() < deadline:  # busy: the CPU is taken, as slower code would take it
            pass
        return oid

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._inner.get(object_id, timeout=timeout)

    def contains(self, object_id: bytes) -> bool:
        return bool(self._inner.contains(object_id))

    def delete(self, object_id: bytes) -> None:
        self._inner.delete(object_id)

    def list(self) -> Iterable[bytes]:
        return list(self._inner.list())

    def close(self) -> None:
        self._inner.close()


class _SlowPutFactory:
    def __init__(self, inner: Any, extra: float) -> None:
        self._inner = inner
        self._extra = extra

    def create(self, *, capacity: int) -> _SlowPutStore:
        return _SlowPutStore(self._inner.create(capacity=capacity), self._extra)

    def attach(self, name: str) -> _SlowPutStore:
        return _SlowPutStore(self._inner.attach(name), self._extra)

    def destroy(self, store: Any) -> None:
        self._inner.destroy(getattr(store, "_inner", store))


def implementation() -> Implementation:
    """The reference with puts slowed by ``OBJSTORE_BENCH_SLOW_PUT`` (default 0: unchanged)."""
    ref = reference_implementation()
    extra = float(os.environ.get("OBJSTORE_BENCH_SLOW_PUT", "0") or 0)
    return dataclasses.replace(ref, name=SPEC, store_factory=_SlowPutFactory(ref.store_factory, extra),
                               capabilities=ref.capabilities - {"nodes", "raw_buffers"})
