"""Store clauses ``store.multiprocess.*``: another process (a fresh interpreter) attaches to the store
by name.

Every child is bounded by a timeout and killed if it overruns; stores are destroyed after each clause.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from conformance.child import STARTUP_TIMEOUT, finish_task, run_task, start_task, wait_for_line
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    EVICTION_CAPACITY,
    EVICTION_ITEMS,
    eviction_array,
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
    touch,
)

_CHILD = ["from conformance.child import run_task"]


@clause("store.multiprocess.get", "store", "multiprocess")
def test_store_multiprocess_get(impl, make_store):
    """Clause store.multiprocess.get: an object put in one process is got, equal, in another that attaches
    to the store by name."""
    store = make_store()
    value = {"key": [1, 2.5, "three", b"four"], "nested": ({"x": None},)}
    reproduce(impl, store_snippet(), *_CHILD, f"oid = store.put({value!r})",
              "run_task(impl.name, 'store_get', (store.name, oid, 5))['value']")
    oid = store.put(value)
    got = run_task(impl.name, "store_get", (store.name, oid, 5))
    assert got.get("value") == value, f"the other process got {got!r}"


@clause("store.multiprocess.zero_copy", "store", "multiprocess", "store_zero_copy", "store_read_only")
def test_store_multiprocess_zero_copy(impl, make_store):
    """Clause store.multiprocess.zero_copy: in another process, an array got from the store is a read-only
    view of the store's memory: it shares memory with a second get (and, with raw buffers, with
    get_buffer), and writing to it raises."""
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


@clause("store.multiprocess.unsealed_invisible", "store", "raw_buffers", "multiprocess")
def test_store_multiprocess_unsealed_invisible(impl, make_store):
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


@clause("store.multiprocess.killed_writer", "store", "raw_buffers", "multiprocess")
def test_store_multiprocess_killed_writer(impl, make_store):
    """Clause store.multiprocess.killed_writer: when a writer is killed between create and seal, its object
    never becomes visible and its space is reclaimed: an object needing that space can be put."""
    capacity = 1 << 20
    store = make_store(capacity)
    reproduce(impl, store_snippet(capacity), "from conformance.child import start_task, wait_for_line",
              "oid = b'k' * 20",
              "p = start_task(impl.name, 'store_create_and_hang', (store.name, oid, 700_000))",
              "wait_for_line(p, b'created'); p.kill(); p.wait()", "store.contains(oid)", "store.put(bytes(700_000))")
    oid = new_id()
    proc = start_task(impl.name, "store_create_and_hang", (store.name, oid, 700_000))
    try:
        # Bounded by the start-up time only: the writer has to import and attach first.
        wait_for_line(proc, b"created", timeout=STARTUP_TIMEOUT, what="the writer")
    finally:
        proc.kill()
        proc.wait()
    assert not store.contains(oid), "a killed writer's unsealed object is visible"
    other = store.put(bytes(700_000))
    assert store.contains(other), "the killed writer's space was not reclaimed"



@clause("store.multiprocess.pinned_elsewhere", "store", "multiprocess", "eviction")
def test_store_multiprocess_pinned_elsewhere(impl, make_store):
    """Clause store.multiprocess.pinned_elsewhere: an object whose value another process holds is pinned
    for every process: eviction here passes it over, though it is the least recently used, and the other
    process's value stays intact."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              "from conformance.child import start_task, wait_for_line, finish_task",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "p = start_task(impl.name, 'store_hold', (store.name, a, '/tmp/release'))",
              "wait_for_line(p, b'holding')  # the other process holds a's value",
              f"store.get(b); store.get(c); d = store.put(np.full({EVICTION_ITEMS}, 4.0))",
              "store.contains(a), store.contains(b)  # True, False",
              "open('/tmp/release', 'w').close(); finish_task(p, 'store_hold')  # {'min': 1.0, 'max': 1.0}")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    with tempfile.TemporaryDirectory(prefix="conformance-hold-") as folder:
        release = os.path.join(folder, "release")
        proc = start_task(impl.name, "store_hold", (store.name, a, release))
        try:
            wait_for_line(proc, b"holding", timeout=STARTUP_TIMEOUT, what="the holding process")
            touch(store, b)
            touch(store, c)
            store.put(eviction_array(4.0))
            kept = {"a": store.contains(a), "b": store.contains(b)}
        finally:
            with open(release, "wb"):
                pass
        seen = finish_task(proc, "store_hold")
    assert kept["a"], "an object was evicted while another process held its value"
    assert not kept["b"], "the least recently used object nobody held was not the one evicted"
    assert seen == {"min": 1.0, "max": 1.0}, f"the other process's value changed: {seen}"


@clause("store.multiprocess.killed_reader", "store", "multiprocess", "eviction")
def test_store_multiprocess_killed_reader(impl, make_store):
    """Clause store.multiprocess.killed_reader: when a reader is killed while it holds a value, its pin
    dies with it: the object can be evicted for a put that needs its space (the other objects are held
    here)."""
    store = make_store(EVICTION_CAPACITY)
    reproduce(impl, store_snippet(EVICTION_CAPACITY), "import numpy as np",
              "from conformance.child import start_task, wait_for_line",
              f"a, b, c = (store.put(np.full({EVICTION_ITEMS}, x)) for x in (1.0, 2.0, 3.0))",
              "p = start_task(impl.name, 'store_hold', (store.name, a, '/nonexistent'))",
              "wait_for_line(p, b'holding'); p.kill(); p.wait()",
              f"held = [store.get(b), store.get(c)]; store.put(np.full({EVICTION_ITEMS}, 4.0))  # evicts a")
    a, b, c = (store.put(eviction_array(x)) for x in (1.0, 2.0, 3.0))
    with tempfile.TemporaryDirectory(prefix="conformance-hold-") as folder:
        proc = start_task(impl.name, "store_hold", (store.name, a, os.path.join(folder, "never")))
        try:
            wait_for_line(proc, b"holding", timeout=STARTUP_TIMEOUT, what="the holding process")
        finally:
            proc.kill()
            proc.wait()
    held = [store.get(b), store.get(c)]
    try:
        d = store.put(eviction_array(4.0))
    except impl.store_full_error as exc:
        pytest.fail(f"a killed reader's pin outlived it: the object it held could not be evicted ({exc})")
    assert store.contains(d) and not store.contains(a), "the object of the killed reader was not the one evicted"
    assert all(v.min() == v.max() == x for v, x in zip(held, (2.0, 3.0))), "a held value changed"
