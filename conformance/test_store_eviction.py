"""Store clauses ``store.eviction.*``: least recently used goes first, pinned objects never go."""

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


@clause("store.eviction.pin_count", "store", "eviction")
def test_store_eviction_pin_count(impl, make_store):
    """Clause store.eviction.pin_count: pins are counted per view: an object got twice stays pinned while
    either value is held. With the second dropped and the first held, it is still never evicted, and the
    first stays intact (a pin kept as a flag, cleared by the first release, fails)."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import gc, numpy as np",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "first, second = store.get(a), store.get(a); del second; gc.collect()",
              "store.get(b); store.get(c)", f"d = store.put(np.full({EVICTION_ITEMS}, 4.0))",
              "store.contains(a), store.contains(b), first.min()  # True, False, 1.0")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    first, second = store.get(a), store.get(a)
    del second
    gc.collect()
    touch(store, b)
    touch(store, c)
    store.put(eviction_array(4.0))
    assert store.contains(a), (
        "an object was evicted while a value from its first get was held: dropping the value of its second "
        "get unpinned it (a pin kept as a flag, not a count?)")
    assert not store.contains(b), "the least recently used unpinned object was not the one evicted"
    assert first.min() == 1.0 and first.max() == 1.0, "a held value changed"


#: The bulk clause's store, and its small objects: 200 arrays of 4000 bytes fill a fifth of it, so that one
#: eviction pass of a tenth of the capacity takes over 64 objects and half of those alive (the bulk path of
#: a store that evicts a batch at once), and a put of 85% of the capacity needs nearly all of them gone.
BULK_CAPACITY = 4 << 20
BULK_OBJECTS = 200
BULK_ITEMS = 500
#: Of the small objects, the first BULK_HELD are held and the next BULK_TOUCHED got again (most recent).
BULK_HELD = 8
BULK_TOUCHED = 8
BULK_BIG = int(BULK_CAPACITY * 0.85) // 8


@clause("store.eviction.bulk", "store", "eviction")
def test_store_eviction_bulk(impl, make_store):
    """Clause store.eviction.bulk: a put that evicts many objects at once (most of 200 small ones, to make
    room for 85% of the store) still evicts least recently used first and never a held object: the
    survivors among the unheld are the most recently used, and the held ones are there and intact."""
    import numpy as np

    store = make_store(BULK_CAPACITY)
    reproduce(impl, store_snippet(BULK_CAPACITY), "import gc, numpy as np",
              f"ids = [store.put(np.full({BULK_ITEMS}, float(i))) for i in range({BULK_OBJECTS})]",
              f"held = [store.get(i) for i in ids[:{BULK_HELD}]]",
              f"for i in ids[{BULK_HELD}:{BULK_HELD + BULK_TOUCHED}]: store.get(i)  # now the most recent",
              "gc.collect()", f"big = store.put(np.full({BULK_BIG}, -1.0))",
              "[store.contains(i) for i in ids]  # held ones True; the others: False ... False, then True ...")
    ids = [store.put(np.full(BULK_ITEMS, float(i))) for i in range(BULK_OBJECTS)]
    held = [store.get(oid) for oid in ids[:BULK_HELD]]
    for oid in ids[BULK_HELD:BULK_HELD + BULK_TOUCHED]:
        touch(store, oid)
    try:
        store.put(np.full(BULK_BIG, -1.0))
    except impl.store_full_error as exc:
        pytest.fail(f"a put of 85% of the store failed while only {BULK_HELD} small objects are held: {exc}")
    lost = [i for i in range(BULK_HELD) if not store.contains(ids[i])]
    assert not lost, f"held objects {lost} were evicted"
    for i, value in enumerate(held):
        assert value.min() == i and value.max() == i, f"held object {i} changed"
    # Least recently used first: those put and never got again, in order, then the touched ones.
    order = list(range(BULK_HELD + BULK_TOUCHED, BULK_OBJECTS)) + list(range(BULK_HELD, BULK_HELD + BULK_TOUCHED))
    kept = [store.contains(ids[i]) for i in order]
    first_kept = kept.index(True) if True in kept else len(kept)
    out_of_order = [order[k] for k in range(first_kept, len(kept)) if not kept[k]]
    assert not out_of_order, (
        f"eviction was not least recently used first: objects {out_of_order} were evicted, though "
        f"{order[first_kept]} (less recently used) was kept; {kept.count(False)} of {len(order)} unheld "
        f"objects were evicted")
