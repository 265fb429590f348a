"""Store clause ``store.delete.views_valid``: delete hides an object but keeps its readers' views valid."""

from __future__ import annotations

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
)


@clause("store.delete.views_valid", "store")
def test_store_delete_views_valid(impl, make_store):
    """Clause store.delete.views_valid: after delete the object is gone (not contained, get raises), but a
    value got before keeps its contents, even when new objects reuse the space."""
    import numpy as np

    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "import numpy as np", "oid = store.put(np.full(50_000, 7.0))",
              "a = store.get(oid); store.delete(oid)",
              "[store.delete(store.put(np.zeros(50_000))) for _ in range(3)]",
              "a.min(), a.max()  # 7.0, 7.0")
    oid = store.put(np.full(50_000, 7.0))
    a = store.get(oid)
    store.delete(oid)
    assert not store.contains(oid), "a deleted object is contained"
    with pytest.raises(impl.not_found_error + impl.timeout_error):
        store.get(oid, timeout=0)
    for _ in range(3):
        store.delete(store.put(np.zeros(50_000)))
    assert a.min() == 7.0 and a.max() == 7.0, "a view of a deleted object changed"
