"""Store clause ``store.zero_copy.local``: get shares the store's memory."""

from __future__ import annotations

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
)


@clause("store.zero_copy.local", "store", "zero_copy")
def test_store_zero_copy_local(impl, make_store):
    """Clause store.zero_copy.local: an array got from the store shares memory with the stored object's
    buffer (no copy), and two gets share one copy."""
    import numpy as np

    store = make_store()
    reproduce(impl, store_snippet(), "import numpy as np", "oid = store.put(np.ones(100_000))",
              "a = store.get(oid); np.shares_memory(a, np.frombuffer(store.get_buffer(oid), 'u1'))")
    oid = store.put(np.ones(100_000))
    a, b = store.get(oid), store.get(oid)
    raw = np.frombuffer(store.get_buffer(oid), dtype=np.uint8)
    assert np.shares_memory(a, raw), "the array from get is a copy, not a view of the store"
    assert np.shares_memory(a, b), "two gets of one object gave two copies"
