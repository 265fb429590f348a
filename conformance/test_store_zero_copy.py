"""Store clause ``store.zero_copy.local``: get shares the store's memory."""

from __future__ import annotations

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
)


@clause("store.zero_copy.local", "store", "store_zero_copy")
def test_store_zero_copy_local(impl, make_store):
    """Clause store.zero_copy.local: two gets of an array share one copy, and (with raw buffers) it is the
    stored object's buffer, not a copy of it."""
    import numpy as np

    store = make_store()
    reproduce(impl, store_snippet(), "import numpy as np", "oid = store.put(np.ones(100_000))",
              "a, b = store.get(oid), store.get(oid); np.shares_memory(a, b)",
              *(["np.shares_memory(a, np.frombuffer(store.get_buffer(oid), 'u1'))"]
                if impl.claims("raw_buffers") else []))
    oid = store.put(np.ones(100_000))
    a, b = store.get(oid), store.get(oid)
    assert np.shares_memory(a, b), "two gets of one object gave two copies"
    if impl.claims("raw_buffers"):
        raw = np.frombuffer(store.get_buffer(oid), dtype=np.uint8)
        assert np.shares_memory(a, raw), "the array from get is a copy, not a view of the store"
