"""Store clauses ``store.immutability.*``: ids are never reused, gets are read-only, sealed bytes never
change.
"""

from __future__ import annotations

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)


@clause("store.immutability.exists", "store")
def test_store_immutability_exists(impl, make_store):
    """Clause store.immutability.exists: put (and, with raw buffers, create) with an id that is in the store
    raises the declared object-exists error, and the stored value does not change; with raw buffers, an id
    being created exists too."""
    raw = impl.claims("raw_buffers")
    store = make_store()
    reproduce(impl, store_snippet(), "oid = store.put('first')", "store.put('second', oid)",
              *(["store.create(oid, 10)"] if raw else []))
    oid = store.put("first")
    with pytest.raises(impl.object_exists_error):
        store.put("second", oid)
    if raw:
        with pytest.raises(impl.object_exists_error):
            store.create(oid, 10)
    assert store.get(oid) == "first", "the value changed after a refused put"
    if not raw:
        return
    other = new_id()
    store.create(other, 8)
    with pytest.raises(impl.object_exists_error):
        store.put("x", other)  # an id being created exists too
    store.abort(other)


@clause("store.immutability.read_only", "store", "store_read_only")
def test_store_immutability_read_only(impl, make_store):
    """Clause store.immutability.read_only: arrays from get (and, with raw buffers, buffers from get_buffer)
    are read-only; writing to them raises and the stored value (and bytes) do not change."""
    import numpy as np

    raw = impl.claims("raw_buffers")
    store = make_store()
    reproduce(impl, store_snippet(), "import numpy as np", "oid = store.put(np.arange(1000))",
              "a = store.get(oid); a.flags.writeable; a[0] = 1",
              *(["b = store.get_buffer(oid); b.readonly; b[0] = 1"] if raw else []))
    oid = store.put(np.arange(1000))
    a = store.get(oid)
    assert not a.flags.writeable, "get returned a writeable array"
    with pytest.raises(ValueError):
        a[0] = 1
    del a
    assert np.array_equal(store.get(oid), np.arange(1000)), "the stored value changed"
    if not raw:
        return
    before = bytes(store.get_buffer(oid))
    b = store.get_buffer(oid)
    assert b.readonly, "get_buffer returned a writable buffer"
    with pytest.raises(TypeError):
        b[0] = 1
    assert bytes(store.get_buffer(oid)) == before, "the stored bytes changed"


#: The size of the object the raw-buffer clause writes: a multiple of no alignment, so that padding shows.
SEALED_SIZE = 37


@clause("store.immutability.sealed_bytes", "store", "raw_buffers")
def test_store_immutability_sealed_bytes(impl, make_store):
    """Clause store.immutability.sealed_bytes: the bytes written through create() are exactly what
    get_buffer returns after seal (as many bytes as were created: no allocation padding), and writing
    through the create() view after seal raises or changes nothing."""
    store = make_store()
    reproduce(impl, store_snippet(), "oid = b'x' * 20", f"buf = store.create(oid, {SEALED_SIZE})",
              f"buf[:] = bytes(range({SEALED_SIZE})); store.seal(oid)",
              "buf[0] = 255  # must raise or change nothing",
              f"bytes(store.get_buffer(oid))  # bytes(range({SEALED_SIZE}))")
    oid = new_id()
    buf = store.create(oid, SEALED_SIZE)
    payload = bytes(range(SEALED_SIZE))
    buf[:SEALED_SIZE] = payload
    store.seal(oid)
    got = bytes(store.get_buffer(oid))
    assert len(got) == SEALED_SIZE, (
        f"get_buffer returned {len(got)} bytes for an object created with {SEALED_SIZE}: "
        f"{got[SEALED_SIZE:]!r} follow the object's bytes (its allocation's padding?)")
    assert got == payload, "sealed bytes differ from those written"
    try:
        buf[0] = 255
    except (ValueError, TypeError):
        pass
    assert bytes(store.get_buffer(oid)) == payload, "a write after seal changed the sealed object"
