"""Fixtures and helpers shared by the store clauses of several areas."""

from __future__ import annotations

import contextlib
import gc
import os
from typing import Any, Iterator

import pytest

from conformance.api import OBJECT_ID_SIZE, check_store
from conformance.watchdog import BOUND, CallHung, WatchedStore, bounded

#: The capacity of the stores the clauses make, unless a clause needs another.
DEFAULT_CAPACITY = 8 << 20

#: The capacity of the stores of the eviction clauses (``store.eviction.*``, ``store.full.pinned``).
EVICTION_CAPACITY = 4 << 20
#: float64 items of each object of those clauses: each takes 28% of the store, so three fit and a fourth
#: forces exactly one eviction.
EVICTION_ITEMS = int(EVICTION_CAPACITY * 0.28) // 8


def new_id() -> bytes:
    """A fresh random object id."""
    return os.urandom(OBJECT_ID_SIZE)


class StoreMaker:
    """Makes stores for one test and destroys them all afterwards, even when the test fails.

    Each store is handed out as a :class:`conformance.watchdog.WatchedStore`: a call that hangs fails the
    clause within seconds, naming the call."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl
        self.made: list = []

    def __call__(self, capacity: int = DEFAULT_CAPACITY) -> Any:
        store = self.impl.store_factory.create(capacity=capacity)
        watched = WatchedStore(store)
        self.made.append(watched)
        check_store(self.impl, store)
        return watched

    @contextlib.contextmanager
    def fresh(self, capacity: int = DEFAULT_CAPACITY) -> Iterator[Any]:
        """A new store for one Hypothesis example, destroyed when the example ends (pass or fail): a
        failure then depends on its own example only, and replays and shrinks."""
        store = self(capacity)
        try:
            yield store
        finally:
            self.made.remove(store)
            self._destroy(store)

    def _destroy(self, store: Any) -> None:
        try:
            # Bounded too: a call that hung may still hold the store's lock.
            bounded(lambda: self.impl.store_factory.destroy(store.inner), "store_factory.destroy(store)", BOUND)
        except (Exception, CallHung):  # noqa: BLE001 - cleanup must not hide the test's own failure
            pass

    def cleanup(self) -> None:
        for store in reversed(self.made):
            self._destroy(store)
        self.made.clear()


@pytest.fixture
def make_store(impl: Any) -> Iterator[StoreMaker]:
    """``make_store(capacity=...)`` -> a fresh store of the implementation, destroyed after the test."""
    if impl.store_factory is None:
        pytest.skip(f"not claimed: {impl.name} does not claim store")
    maker = StoreMaker(impl)
    try:
        yield maker
    finally:
        maker.cleanup()


def store_snippet(capacity: int = DEFAULT_CAPACITY) -> str:
    """The line of a reproducing snippet that makes the store a clause used."""
    return f"store = impl.store_factory.create(capacity={capacity})"


def eviction_array(fill: float) -> Any:
    """An array of :data:`EVICTION_ITEMS` float64 ``fill`` values: 28% of an eviction clause's store."""
    import numpy as np

    return np.full(EVICTION_ITEMS, fill)


def touch(store: Any, object_id: bytes) -> None:
    """Get an object and drop the value at once: it becomes the most recently used, and is not pinned."""
    value = store.get(object_id)
    del value
    gc.collect()
