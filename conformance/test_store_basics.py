"""Store clauses: put/get, immutability, zero copy, visibility of unsealed objects, abort, timeouts,
delete and a full store."""

from __future__ import annotations

import gc
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import make_store, new_id, store_snippet  # noqa: F401 - fixture
from conformance.compare import assert_same

_fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@clause("store.put_get.roundtrip", "store")
@_fixture_ok
@given(value=st.one_of(strategies.native_values(max_leaves=10), strategies.numpy_arrays(
    kinds=["int", "float", "complex", "bool", "structured"])))
def test_put_get_roundtrip(impl, make_store, value):
    """Clause store.put_get.roundtrip: a put value comes back exactly from get, the store contains its id
    and lists it."""
    if not make_store.made:
        make_store()
    store = make_store.made[0]
    reproduce(impl, store_snippet(), f"value = {value!r}", "oid = store.put(value)", "store.get(oid)")
    oid = store.put(value)
    assert isinstance(oid, bytes) and len(oid) == 20, f"put returned {oid!r}, not a 20-byte id"
    assert store.contains(oid), "contains() is false right after put"
    assert oid in set(store.list()), "list() does not show a put object"
    assert_same(value, store.get(oid), check_identity=False)


@clause("store.immutability.exists", "store")
def test_existing_id_refused(impl, make_store):
    """Clause store.immutability.exists: put or create with an id that is in the store raises the declared
    object-exists error, and the stored value does not change."""
    store = make_store()
    reproduce(impl, store_snippet(), "oid = store.put('first')", "store.put('second', oid)",
              "store.create(oid, 10)")
    oid = store.put("first")
    with pytest.raises(impl.object_exists_error):
        store.put("second", oid)
    with pytest.raises(impl.object_exists_error):
        store.create(oid, 10)
    assert store.get(oid) == "first", "the value changed after a refused put"
    other = new_id()
    store.create(other, 8)
    with pytest.raises(impl.object_exists_error):
        store.put("x", other)  # an id being created exists too
    store.abort(other)


@clause("store.immutability.read_only", "store", "read_only")
def test_get_results_read_only(impl, make_store):
    """Clause store.immutability.read_only: arrays from get and buffers from get_buffer are read-only;
    writing to them raises and the stored bytes do not change."""
    import numpy as np

    store = make_store()
    reproduce(impl, store_snippet(), "import numpy as np", "oid = store.put(np.arange(1000))",
              "a = store.get(oid); a.flags.writeable; a[0] = 1",
              "b = store.get_buffer(oid); b.readonly; b[0] = 1")
    oid = store.put(np.arange(1000))
    before = bytes(store.get_buffer(oid))
    a = store.get(oid)
    assert not a.flags.writeable, "get returned a writeable array"
    with pytest.raises(ValueError):
        a[0] = 1
    b = store.get_buffer(oid)
    assert b.readonly, "get_buffer returned a writable buffer"
    with pytest.raises(TypeError):
        b[0] = 1
    assert bytes(store.get_buffer(oid)) == before, "the stored bytes changed"


@clause("store.immutability.sealed_bytes", "store")
def test_bytes_unchanged_after_seal(impl, make_store):
    """Clause store.immutability.sealed_bytes: bytes written through create() are what get_buffer returns
    after seal, and writing through the create() view after seal raises or changes nothing."""
    store = make_store()
    reproduce(impl, store_snippet(), "oid = b'x' * 20", "buf = store.create(oid, 64)",
              "buf[:] = bytes(range(64)); store.seal(oid)", "buf[0] = 255  # must raise or change nothing",
              "bytes(store.get_buffer(oid))[:64]")
    oid = new_id()
    buf = store.create(oid, 64)
    payload = bytes(range(64))
    buf[:64] = payload
    store.seal(oid)
    assert bytes(store.get_buffer(oid))[:64] == payload, "sealed bytes differ from those written"
    try:
        buf[0] = 255
    except (ValueError, TypeError):
        pass
    assert bytes(store.get_buffer(oid))[:64] == payload, "a write after seal changed the sealed object"


@clause("store.zero_copy.local", "store", "zero_copy")
def test_zero_copy_get(impl, make_store):
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


@clause("store.visibility.unsealed", "store")
def test_unsealed_invisible(impl, make_store):
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


@clause("store.abort.leaves_nothing", "store")
def test_abort_leaves_nothing(impl, make_store):
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


@clause("store.timeouts.zero", "store", "timeouts")
def test_get_timeout_zero(impl, make_store):
    """Clause store.timeouts.zero: get of a missing object with timeout=0 raises the declared timeout error
    at once (under half a second)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0)")
    start = time.monotonic()
    with pytest.raises(impl.timeout_error):
        store.get(new_id(), timeout=0)
    assert time.monotonic() - start < 0.5, "a get with timeout=0 waited"


@clause("store.timeouts.positive", "store", "timeouts")
def test_get_timeout_positive(impl, make_store):
    """Clause store.timeouts.positive: get of a missing object with timeout=0.3 raises the declared timeout
    error after about 0.3 seconds (not before, and within 3 seconds)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0.3)")
    start = time.monotonic()
    with pytest.raises(impl.timeout_error):
        store.get(new_id(), timeout=0.3)
    elapsed = time.monotonic() - start
    assert 0.29 <= elapsed < 3, f"a get with timeout=0.3 gave up after {elapsed:.3f}s"


@clause("store.delete.views_valid", "store")
def test_delete_keeps_views_valid(impl, make_store):
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


@clause("store.full.raises", "store")
def test_full_store_raises_and_stays_usable(impl, make_store):
    """Clause store.full.raises: a put larger than the whole store raises the declared store-full error, and
    the store stays usable: its objects are intact and smaller puts succeed."""
    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "keep = store.put(b'k' * 1000)", "store.put(bytes(2 << 20))",
              "store.get(keep), store.put(b'small')")
    keep = store.put(b"k" * 1000)
    with pytest.raises(impl.store_full_error):
        store.put(bytes(2 << 20))
    gc.collect()
    assert store.get(keep) == b"k" * 1000, "an object was damaged by a failed put"
    assert store.get(store.put(b"small")) == b"small", "the store is unusable after a failed put"
