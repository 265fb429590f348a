"""Fixtures and helpers shared by the store clauses."""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from conformance.api import OBJECT_ID_SIZE

#: The capacity of the stores the clauses make, unless a clause needs another.
DEFAULT_CAPACITY = 8 << 20


def new_id() -> bytes:
    """A fresh random object id."""
    return os.urandom(OBJECT_ID_SIZE)


class StoreMaker:
    """Makes stores for one test and destroys them all afterwards, even when the test fails."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl
        self.made: list = []

    def __call__(self, capacity: int = DEFAULT_CAPACITY) -> Any:
        store = self.impl.store_factory.create(capacity=capacity)
        self.made.append(store)
        return store

    def cleanup(self) -> None:
        for store in reversed(self.made):
            try:
                self.impl.store_factory.destroy(store)
            except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
                pass


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
    return f"store = impl.store_factory.create(capacity={capacity})"
