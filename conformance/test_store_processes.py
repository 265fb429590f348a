"""Store clauses across processes: another process (a fresh interpreter) attaches to the store by name.

Every child is bounded by a timeout and killed if it overruns; stores are destroyed after each clause.
"""

from __future__ import annotations



import time



from conformance.child import run_task, start_task
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import make_store, new_id, store_snippet  # noqa: F401 - fixture

_CHILD = ["from conformance.child import run_task"]


@clause("store.multiprocess.get", "store", "multiprocess")
def test_get_from_another_process(impl, make_store):
    """Clause store.multiprocess.get: an object put in one process is got, equal, in another that attaches
    to the store by name."""
    store = make_store()
    value = {"key": [1, 2.5, "three", b"four"], "nested": ({"x": None},)}
    reproduce(impl, store_snippet(), *_CHILD, f"oid = store.put({value!r})",
              "run_task(impl.name, 'store_get', (store.name, oid, 5))['value']")
    oid = store.put(value)
    got = run_task(impl.name, "store_get", (store.name, oid, 5))
    assert got.get("value") == value, f"the other process got {got!r}"


@clause("store.multiprocess.zero_copy", "store", "multiprocess", "zero_copy", "read_only")
def test_zero_copy_in_another_process(impl, make_store):
    """Clause store.multiprocess.zero_copy: in another process, an array got from the store is a read-only
    view of the store's memory: it shares memory with get_buffer, and writing to it raises."""
    import numpy as np

    store = make_store()
    reproduce(impl, store_snippet(), *_CHILD, "import numpy as np", "oid = store.put(np.arange(10_000.0))",
              "run_task(impl.name, 'store_get', (store.name, oid, 5))")
    array = np.arange(10_000.0)
    oid = store.put(array)
    got = run_task(impl.name, "store_get", (store.name, oid, 5))
    assert got["sum"] == float(array.sum()) and got["shape"] == array.shape, got
    assert got["shares"], "in the other process, the array is a copy, not a view of the store"
    assert not got["writeable"] and got["write"] == "refused", f"the other process could write: {got}"


@clause("store.multiprocess.unsealed_invisible", "store", "multiprocess")
def test_unsealed_invisible_to_others(impl, make_store):
    """Clause store.multiprocess.unsealed_invisible: an object created but not sealed is invisible to
    another process (not contained, not listed, get_buffer with timeout 0 raises); once sealed it is."""
    store = make_store()
    reproduce(impl, store_snippet(), *_CHILD, "oid = b'u' * 20; store.create(oid, 32)",
              "run_task(impl.name, 'store_look', (store.name, oid))")
    oid = new_id()
    buf = store.create(oid, 32)
    buf[:32] = b"u" * 32
    seen = run_task(impl.name, "store_look", (store.name, oid))
    assert seen == {"contains": False, "listed": False, "get": seen["get"]} and seen["get"] != "value", (
        f"another process sees an unsealed object: {seen}")
    store.seal(oid)
    seen = run_task(impl.name, "store_look", (store.name, oid))
    assert seen["contains"] and seen["listed"] and seen["get"] == "value", f"a sealed object is hidden: {seen}"


@clause("store.multiprocess.killed_writer", "store", "multiprocess")
def test_killed_writer_leaves_nothing(impl, make_store):
    """Clause store.multiprocess.killed_writer: when a writer is killed between create and seal, its object
    never becomes visible and its space is reclaimed: an object needing that space can be put."""
    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "from conformance.child import start_task",
              "oid = b'k' * 20",
              "p = start_task(impl.name, 'store_create_and_hang', (store.name, oid, 700_000))",
              "p.stdout.readline(); p.kill(); p.wait()", "store.contains(oid)", "store.put(bytes(700_000))")
    oid = new_id()
    proc = start_task(impl.name, "store_create_and_hang", (store.name, oid, 700_000))
    try:
        line = _readline(proc, timeout=60)
        assert line == b"created\n", f"the writer did not get to create: {line!r} {proc.stderr.read()[-2000:]!r}"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert not store.contains(oid), "a killed writer's unsealed object is visible"
    other = store.put(bytes(700_000))
    assert store.contains(other), "the killed writer's space was not reclaimed"


def _readline(proc, timeout: float) -> bytes:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        raise AssertionError(f"the child said nothing within {timeout}s")
    return proc.stdout.readline()


@clause("store.timeouts.wait_for_put", "store", "multiprocess", "timeouts")
def test_get_waits_for_put_from_another_process(impl, make_store):
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


