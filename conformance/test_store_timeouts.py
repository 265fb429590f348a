"""Store clauses ``store.timeouts.*``: get waits as long as its timeout says, for a put from another
process too.
"""

from __future__ import annotations

import time

import pytest

from conformance.child import start_task
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)


@clause("store.timeouts.zero", "store", "timeouts")
def test_store_timeouts_zero(impl, make_store):
    """Clause store.timeouts.zero: get of a missing object with timeout=0 raises the declared timeout error
    at once (under half a second)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0)")
    start = time.monotonic()
    with pytest.raises(impl.timeout_error):
        store.get(new_id(), timeout=0)
    assert time.monotonic() - start < 0.5, "a get with timeout=0 waited"


@clause("store.timeouts.positive", "store", "timeouts")
def test_store_timeouts_positive(impl, make_store):
    """Clause store.timeouts.positive: get of a missing object with timeout=0.3 raises the declared timeout
    error after about 0.3 seconds (not before, and within 3 seconds)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0.3)")
    start = time.monotonic()
    with pytest.raises(impl.timeout_error):
        store.get(new_id(), timeout=0.3)
    elapsed = time.monotonic() - start
    assert 0.29 <= elapsed < 3, f"a get with timeout=0.3 gave up after {elapsed:.3f}s"


@clause("store.timeouts.wait_for_put", "store", "multiprocess", "timeouts")
def test_store_timeouts_wait_for_put(impl, make_store):
    """Clause store.timeouts.wait_for_put: a get with a timeout waits for an object another process puts
    later (0.5 s later), and returns it as soon as it is sealed."""
    store = make_store()
    reproduce(impl, store_snippet(), "from conformance.child import start_task", "oid = b'w' * 20",
              "p = start_task(impl.name, 'store_put_later', (store.name, oid, 'late', 0.5))",
              "store.get(oid, timeout=30)")
    oid = new_id()
    proc = start_task(impl.name, "store_put_later", (store.name, oid, "late", 0.5))
    try:
        start = time.monotonic()
        value = store.get(oid, timeout=30)
        elapsed = time.monotonic() - start
    finally:
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - never leave the child behind
            proc.kill()
            proc.wait()
    assert value == "late", f"got {value!r}"
    assert elapsed < 20, f"the get took {elapsed:.1f}s for an object put after 0.5 s"
