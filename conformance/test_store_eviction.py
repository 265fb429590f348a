"""Store clauses for eviction: least recently used goes first, pinned objects never go, and a store full
of pinned objects raises and stays usable."""

from __future__ import annotations

import gc

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import make_store, store_snippet  # noqa: F401 - fixture

CAPACITY = 4 << 20
#: Each object takes 28% of the store: three fit, a fourth forces exactly one eviction.
ITEMS = int(CAPACITY * 0.28) // 8


def _array(fill: float):
    import numpy as np

    return np.full(ITEMS, fill)


def _touch(store, oid) -> None:
    value = store.get(oid)
    del value
    gc.collect()


@clause("store.eviction.lru", "store", "eviction")
def test_lru_order(impl, make_store):
    """Clause store.eviction.lru: when a put does not fit, the least recently used unpinned object (by put
    or get) is evicted, and only as many as needed."""
    store = make_store(CAPACITY)
    reproduce(impl, store_snippet(CAPACITY), "import numpy as np",
              f"a, b, c = (store.put(np.full({ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "store.get(a)  # a is now more recent than b", f"d = store.put(np.full({ITEMS}, 4.0))",
              "[store.contains(x) for x in (a, b, c, d)]  # [True, False, True, True]")
    a, b, c = (store.put(_array(x)) for x in (1.0, 2.0, 3.0))
    _touch(store, a)
    d = store.put(_array(4.0))
    seen = {name: store.contains(oid) for name, oid in zip("abcd", (a, b, c, d))}
    assert seen == {"a": True, "b": False, "c": True, "d": True}, (
        f"after touching a, putting d should evict only b (the least recently used): {seen}")


@clause("store.eviction.pinning", "store", "eviction")
def test_pinned_never_evicted(impl, make_store):
    """Clause store.eviction.pinning: an object whose value is held is never evicted, even when it is the
    least recently used; the next one goes instead, and the held value stays intact."""
    store = make_store(CAPACITY)
    reproduce(impl, store_snippet(CAPACITY), "import numpy as np",
              f"a, b, c = (store.put(np.full({ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "held = store.get(a); store.get(b); store.get(c)", f"d = store.put(np.full({ITEMS}, 4.0))",
              "store.contains(a), store.contains(b), held.min()  # True, False, 1.0")
    a, b, c = (store.put(_array(x)) for x in (1.0, 2.0, 3.0))
    held = store.get(a)
    _touch(store, b)
    _touch(store, c)
    d = store.put(_array(4.0))
    assert store.contains(a), "a held (pinned) object was evicted"
    assert not store.contains(b), "the least recently used unpinned object was not the one evicted"
    assert store.contains(c) and store.contains(d)
    assert held.min() == 1.0 and held.max() == 1.0, "a held value changed"


@clause("store.full.pinned", "store", "eviction")
def test_full_of_pinned_objects(impl, make_store):
    """Clause store.full.pinned: when every object is held, a put that does not fit raises the declared
    store-full error, the held values stay intact, and once they are released the same put succeeds."""
    store = make_store(CAPACITY)
    reproduce(impl, store_snippet(CAPACITY), "import numpy as np",
              f"held = [store.get(store.put(np.full({ITEMS}, x))) for x in (1.0, 2.0, 3.0)]",
              f"store.put(np.full({ITEMS}, 4.0))  # raises", "del held; store.put(...)  # succeeds")
    ids = [store.put(_array(x)) for x in (1.0, 2.0, 3.0)]
    held = [store.get(oid) for oid in ids]
    with pytest.raises(impl.store_full_error):
        store.put(_array(4.0))
    for x, value in zip((1.0, 2.0, 3.0), held):
        assert value.min() == x and value.max() == x, "a held value changed after a failed put"
    assert all(store.contains(oid) for oid in ids), "a held object was evicted"
    del held, value
    gc.collect()
    d = store.put(_array(4.0))
    assert store.contains(d), "the store stayed full after its objects were released"
