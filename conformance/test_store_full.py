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


def _array_of(fraction: float, fill: float) -> object:
    import numpy as np

    return np.full(int(EVICTION_CAPACITY * fraction) // 8, fill)


@clause("store.full.no_needless_eviction", "store", "eviction")
def test_store_full_no_needless_eviction(impl, make_store):
    """Clause store.full.no_needless_eviction: a put either succeeds (evicting unpinned objects as it must)
    or raises the declared store-full error having evicted nothing: a put that could not fit even with every
    unpinned object evicted (held objects fragment the space, or take too much of it) leaves every object
    in place.

    Three objects of 28% of the store each; the first and the third are held, so the free space is the
    middle object's place and the tail: a put of 30% fits in neither unless the store can move held
    objects; a put of 50% cannot fit in any layout. Once the held values are released, the 50% put
    succeeds."""
    store = make_store(EVICTION_CAPACITY)
    items = {f: int(EVICTION_CAPACITY * f) // 8 for f in (0.30, 0.50)}
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "held = [store.get(a), store.get(c)]",
              f"store.put(np.full({items[0.30]}, 4.0))  # succeeds, or raises with b still there",
              f"store.put(np.full({items[0.50]}, 5.0))  # raises, and b is still there",
              "[store.contains(x) for x in (a, b, c)]")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    held = [store.get(a), store.get(c)]
    for fraction, fill, must_fail in ((0.30, 4.0, False), (0.50, 5.0, True)):
        before = {name: store.contains(oid) for name, oid in zip("abc", (a, b, c))}
        try:
            store.put(_array_of(fraction, fill))
        except impl.store_full_error:
            after = {name: store.contains(oid) for name, oid in zip("abc", (a, b, c))}
            assert after == before, (
                f"a put of {fraction:.0%} of the store failed, but evicted objects first: {before} -> {after} "
                f"(a and c are held, so evicting b could never make room)")
            continue
        assert not must_fail, (f"a put of {fraction:.0%} of the store succeeded while two objects of 28% each "
                               f"are held")
        assert store.contains(a) and store.contains(c), "a held object was evicted"
    for x, value in zip((1.0, 3.0), held):
        assert value.min() == x and value.max() == x, "a held value changed"
    del held, value
    gc.collect()
    assert store.contains(store.put(_array_of(0.50, 6.0))), "the store stayed full after its objects were released"
