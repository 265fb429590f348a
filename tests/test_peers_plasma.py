"""The ``plasma`` adapter against a real Plasma store (skipped where pyarrow 11.0.0 is not installed).

Each test starts its own small ``plasma-store-server`` (milliseconds) and the factory kills it after. Besides
the contract's operations, these pin down what the xfails file says of Plasma, with its raw client API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any, Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    plasma = pytest.importorskip("pyarrow.plasma",
                                 reason="Plasma is not installed (pyarrow==11.0.0, CPython 3.8-3.11)")

from conformance.adapters.plasma import PlasmaStoreFactory, start_plasma_store  # noqa: E402
from conformance.registry import load_implementation  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def factory() -> PlasmaStoreFactory:
    return PlasmaStoreFactory()


@pytest.fixture
def store(factory: PlasmaStoreFactory) -> Iterator[Any]:
    made = factory.create(capacity=8 << 20)
    try:
        yield made
    finally:
        factory.destroy(made)


def test_start_plasma_store_validates_capacity() -> None:
    with pytest.raises(ValueError, match="'capacity' must be a positive integer"):
        start_plasma_store(0)


def test_destroy_leaves_no_process_and_no_socket(factory: PlasmaStoreFactory) -> None:
    made = factory.create(capacity=1 << 20)
    proc = factory._procs[made.name]
    factory.destroy(made)
    assert proc.poll() is not None, "plasma-store-server still runs after destroy"
    assert not os.path.exists(made.name) and not os.path.exists(os.path.dirname(made.name))


def test_claims(store: Any) -> None:
    impl = load_implementation("plasma")
    assert impl.claims("store") and impl.claims("multiprocess") and impl.claims("eviction")
    assert not impl.claims("custom_serializers") and not impl.claims("inspect") and not impl.claims("nodes")


def test_put_get_zero_copy_read_only(store: Any) -> None:
    import numpy as np

    oid = store.put({"a": np.arange(1000.0)})
    a, b = store.get(oid)["a"], store.get(oid)["a"]
    assert np.shares_memory(a, b) and not a.flags.writeable
    assert np.shares_memory(a, np.frombuffer(store.get_buffer(oid), dtype=np.uint8))


def test_timeouts(store: Any) -> None:
    missing = b"m" * 20
    with pytest.raises(TimeoutError):
        store.get(missing, timeout=0)
    with pytest.raises(TimeoutError):
        store.get(missing, timeout=0.05)


def test_another_process_attaches_by_socket(store: Any) -> None:
    oid = store.put("from the parent")
    code = ("import sys, warnings; warnings.simplefilter('ignore');"
            "from conformance.adapters.plasma import PlasmaStore;"
            f"s = PlasmaStore({store.name!r}); print(s.get({oid!r})); s.close()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "from the parent", out.stderr


def test_eviction_spares_pinned_objects(factory: PlasmaStoreFactory) -> None:
    made = factory.create(capacity=4 << 20)
    try:
        pinned = made.put(bytes(1 << 20))
        view = made.get_buffer(pinned)
        others = [made.put(bytes(1 << 20)) for _ in range(6)]  # more than fits: Plasma evicts
        assert made.contains(pinned), "Plasma evicted an object in use"
        assert sum(made.contains(o) for o in others) < len(others)
        del view
    finally:
        factory.destroy(made)


# What conformance/xfails/plasma.txt records.

def test_known_no_abort(store: Any) -> None:
    store.create(b"a" * 20, 8)
    with pytest.raises(NotImplementedError):
        store.abort(b"a" * 20)


def test_known_creator_sees_its_unsealed_object(store: Any, factory: PlasmaStoreFactory) -> None:
    oid = b"u" * 20
    store.create(oid, 8)
    other = factory.attach(store.name)
    try:
        assert store.contains(oid), "Plasma's creating client no longer sees its unsealed object: drop the xfail"
        assert not other.contains(oid)
    finally:
        other.close()


def test_known_delete_waits_for_readers(store: Any) -> None:
    oid = store.put(b"x" * 100)
    view = store.get_buffer(oid)
    store.delete(oid)
    assert store.contains(oid), "Plasma now deletes an object in use at once: drop the xfail"
    del view
    assert not store.contains(oid)
