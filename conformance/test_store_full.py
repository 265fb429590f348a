"""Store clauses ``store.full.*``: a put that cannot fit raises the declared store-full error and the
store stays usable.
"""

from __future__ import annotations

import gc

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    EVICTION_CAPACITY,
    EVICTION_ITEMS,
    eviction_array,
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
)


@clause("store.full.raises", "store")
def test_store_full_raises(impl, make_store):
    """Clause store.full.raises: a put larger than the whole store raises the declared store-full error, and
    the store stays usable: its objects are intact and smaller puts succeed."""
    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "keep = store.put(b'k' * 1000)", "store.put(bytes(2 << 20))",
              "store.get(keep), store.put(b'small')")
    keep = store.put(b"k" * 1000)
    with pytest.raises(impl.store_full_error):
        store.put(bytes(2 << 20))
    gc.collect()
    assert store.get(keep) == b"k" * 1000, "an object was damaged by a failed put"
    assert store.get(store.put(b"small")) == b"small", "the store is unusable after a failed put"


@clause("store.full.pinned", "store", "eviction")
def test_store_full_pinned(impl, make_store):
    """Clause store.full.pinned: when every object is held, a put that does not fit raises the declared
    store-full error, the held values stay intact, and once they are released the same put succeeds."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              f"held = [store.get(store.put(np.full({EVICTION_ITEMS}, x))) for x in (1.0, 2.0, 3.0)]",
              f"store.put(np.full({EVICTION_ITEMS}, 4.0))  # raises", "del held; store.put(...)  # succeeds")
    ids = [store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0)]
    held = [store.get(oid) for oid in ids]
    with pytest.raises(impl.store_full_error):
        store.put(eviction_array(4.0))
    for x, value in zip((1.0, 2.0, 3.0), held):
        assert value.min() == x and value.max() == x, "a held value changed after a failed put"
    assert all(store.contains(oid) for oid in ids), "a held object was evicted"
    del held, value
    gc.collect()
    d = store.put(eviction_array(4.0))
    assert store.contains(d), "the store stayed full after its objects were released"
