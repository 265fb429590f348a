"""Store clause ``store.abort.leaves_nothing``: abort frees the object and its id."""

from __future__ import annotations

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)


@clause("store.abort.leaves_nothing", "store", "raw_buffers")
def test_store_abort_leaves_nothing(impl, make_store):
    """Clause store.abort.leaves_nothing: after abort the object is gone, its id can be created again, and
    its space is free (an object of most of the capacity fits)."""
    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "oid = b'a' * 20", "store.create(oid, 600_000)", "store.abort(oid)",
              "store.contains(oid)", "store.put(bytes(600_000))")
    oid = new_id()
    store.create(oid, 600_000)
    store.abort(oid)
    assert not store.contains(oid), "an aborted object is contained"
    store.create(oid, 8)
    store.abort(oid)
    other = store.put(bytes(600_000))
    assert store.contains(other), "the aborted object's space was not freed"
