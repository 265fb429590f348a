"""Store clauses ``store.timeouts.*``: get waits as long as its timeout says, for a put from another
process too.
"""

from __future__ import annotations

import time

import pytest

from conformance.child import STARTUP_TIMEOUT, start_task, wait_for_line
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)

# Timing on a busy machine: a wait is measured from the moment the other side is ready (a child has
# imported and attached), bounds are generous, and a bound that only load could break is checked on the
# best of a few tries (a busy machine can deschedule one try; a store that waits too long does it every time).
TRIES = 3


def _timed_get(store, oid, timeout, errors):
    """Seconds a get of missing ``oid`` with ``timeout`` took to raise one of ``errors``."""
    start = time.monotonic()
    with pytest.raises(errors):
        store.get(oid, timeout=timeout)
    return time.monotonic() - start


@clause("store.timeouts.zero", "store", "timeouts")
def test_store_timeouts_zero(impl, make_store):
    """Clause store.timeouts.zero: get of a missing object with timeout=0 raises the declared timeout error
    at once (under half a second, on the best of three tries)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0)")
    times = []
    for _ in range(TRIES):
        times.append(_timed_get(store, new_id(), 0, impl.timeout_error))
        if times[-1] < 0.5:
            break
    assert min(times) < 0.5, f"a get with timeout=0 waited: {', '.join(f'{t:.3f}s' for t in times)}"


@clause("store.timeouts.positive", "store", "timeouts")
def test_store_timeouts_positive(impl, make_store):
    """Clause store.timeouts.positive: get of a missing object with timeout=0.3 raises the declared timeout
    error after about 0.3 seconds (never before; within 3 seconds on the best of three tries)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0.3)")
    times = []
    for _ in range(TRIES):
        elapsed = _timed_get(store, new_id(), 0.3, impl.timeout_error)
        assert elapsed >= 0.29, f"a get with timeout=0.3 gave up after {elapsed:.3f}s"
        times.append(elapsed)
        if elapsed < 3:
            break
    assert min(times) < 3, f"a get with timeout=0.3 gave up only after {', '.join(f'{t:.3f}s' for t in times)}"


#: Seconds the other process waits, once attached, before it puts; the get's timeout; and the bound on how
#: long after the put the get may return (generous: it is measured on a machine that may be busy).
PUT_DELAY = 0.5
WAIT_TIMEOUT = 120.0
RETURN_BOUND = 30.0


@clause("store.timeouts.wait_for_put", "store", "multiprocess", "timeouts")
def test_store_timeouts_wait_for_put(impl, make_store):
    """Clause store.timeouts.wait_for_put: a get with a timeout waits for an object another process puts
    later (0.5 s after it has attached), and returns it as soon as it is sealed."""
    store = make_store()
    reproduce(impl, store_snippet(), "from conformance.child import start_task, wait_for_line", "oid = b'w' * 20",
              f"p = start_task(impl.name, 'store_put_later', (store.name, oid, 'late', {PUT_DELAY}))",
              "wait_for_line(p, b'attached')  # the child has imported and attached: the clock starts",
              f"store.get(oid, timeout={WAIT_TIMEOUT})")
    oid = new_id()
    proc = start_task(impl.name, "store_put_later", (store.name, oid, "late", PUT_DELAY))
    try:
        wait_for_line(proc, b"attached", timeout=STARTUP_TIMEOUT, what="the putting process")
        start = time.monotonic()
        value = store.get(oid, timeout=WAIT_TIMEOUT)
        elapsed = time.monotonic() - start
    finally:
        try:
            proc.wait(timeout=STARTUP_TIMEOUT)
        except Exception:  # noqa: BLE001 - never leave the child behind
            proc.kill()
            proc.wait()
    assert value == "late", f"got {value!r}"
    assert elapsed < PUT_DELAY + RETURN_BOUND, (
        f"the get took {elapsed:.1f}s for an object put {PUT_DELAY} s after the other process was ready")
