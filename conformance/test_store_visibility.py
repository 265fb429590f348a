"""Store clause ``store.visibility.unsealed``: an object is invisible until it is sealed."""

from __future__ import annotations

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)


@clause("store.visibility.unsealed", "store", "raw_buffers")
def test_store_visibility_unsealed(impl, make_store):
    """Clause store.visibility.unsealed: a created, unsealed object is not contained, not listed, and get
    of it does not return (timeout 0 raises the declared error); after seal it is all three."""
    store = make_store()
    reproduce(impl, store_snippet(), "oid = b'u' * 20", "store.create(oid, 16)",
              "store.contains(oid), oid in store.list(), store.get(oid, timeout=0)")
    oid = new_id()
    store.create(oid, 16)
    assert not store.contains(oid), "an unsealed object is contained"
    assert oid not in set(store.list()), "an unsealed object is listed"
    with pytest.raises(impl.timeout_error + impl.not_found_error):
        store.get(oid, timeout=0)
    store.seal(oid)
    assert store.contains(oid) and oid in set(store.list())
