"""Store clauses ``store.eviction.*``: least recently used goes first, pinned objects never go."""

from __future__ import annotations

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    EVICTION_CAPACITY,
    EVICTION_ITEMS,
    eviction_array,
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
    touch,
)


@clause("store.eviction.lru", "store", "eviction")
def test_store_eviction_lru(impl, make_store):
    """Clause store.eviction.lru: when a put does not fit, the least recently used unpinned object (by put
    or get) is evicted, and only as many as needed."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "store.get(a)  # a is now more recent than b", f"d = store.put(np.full({EVICTION_ITEMS}, 4.0))",
              "[store.contains(x) for x in (a, b, c, d)]  # [True, False, True, True]")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    touch(store, a)
    d = store.put(eviction_array(4.0))
    seen = {name: store.contains(oid) for name, oid in zip("abcd", (a, b, c, d))}
    assert seen == {"a": True, "b": False, "c": True, "d": True}, (
        f"after touching a, putting d should evict only b (the least recently used): {seen}")


@clause("store.eviction.pinning", "store", "eviction")
def test_store_eviction_pinning(impl, make_store):
    """Clause store.eviction.pinning: an object whose value is held is never evicted, even when it is the
    least recently used; the next one goes instead, and the held value stays intact."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "held = store.get(a); store.get(b); store.get(c)", f"d = store.put(np.full({EVICTION_ITEMS}, 4.0))",
              "store.contains(a), store.contains(b), held.min()  # True, False, 1.0")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    held = store.get(a)
    touch(store, b)
    touch(store, c)
    d = store.put(eviction_array(4.0))
    assert store.contains(a), "a held (pinned) object was evicted"
    assert not store.contains(b), "the least recently used unpinned object was not the one evicted"
    assert store.contains(c) and store.contains(d)
    assert held.min() == 1.0 and held.max() == 1.0, "a held value changed"
