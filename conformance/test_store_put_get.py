"""Store clause ``store.put_get.roundtrip``: what is put comes back from get."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    store_snippet,
)


@clause("store.put_get.roundtrip", "store")
@given(value=st.one_of(strategies.native_values(max_leaves=10), strategies.numpy_arrays(
    kinds=["int", "float", "complex", "bool", "structured"])))
def test_store_put_get_roundtrip(impl, make_store, value):
    """Clause store.put_get.roundtrip: a put value comes back exactly from get, the store contains its id
    and lists it."""
    # A fresh store per example: a failure depends on its example alone, so it replays and shrinks.
    with make_store.fresh() as store:
        reproduce(impl, store_snippet(), f"value = {value!r}", "oid = store.put(value)", "store.get(oid)")
        oid = store.put(value)
        assert isinstance(oid, bytes) and len(oid) == 20, f"put returned {oid!r}, not a 20-byte id"
        assert store.contains(oid), "contains() is false right after put"
        assert oid in set(store.list()), "list() does not show a put object"
        assert_same(value, store.get(oid), check_identity=False)


def _shared_example() -> list:
    """``[p, p, {'again': p}]`` and a list that contains itself: what a store that takes a value apart
    (an envelope around each item) loses, every run, whatever Hypothesis draws."""
    p = ["shared"]
    loop: list = [p]
    loop.append(loop)
    return [p, p, {"again": p}, loop]


@clause("store.put_get.identity", "store", "recursive")
@given(value=strategies.shared_structures(cycles=True))
@example(value=_shared_example())
def test_store_put_get_identity(impl, make_store, value):
    """Clause store.put_get.identity: shared references and cycles inside a put value come back from get
    with the same identity structure (two references to one list are two references to one list), as the
    serializer keeps them (capability ``recursive``)."""
    with make_store.fresh() as store:
        reproduce(impl, store_snippet(), "p = ['shared']; value = [p, p]  # or the falsifying example",
                  "out = store.get(store.put(value)); out[0] is out[1]  # True")
        assert_same(value, store.get(store.put(value)))
