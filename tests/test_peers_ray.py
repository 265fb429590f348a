"""The ``ray`` adapter against a real Ray (skipped where Ray is not installed: ``pip install .[ray]``).

One local Ray serves the whole module (start-up takes seconds); it is shut down at the end. Besides the
adapter's own round trips, these pin down what the xfails file says of Ray with plain ``ray.put`` /
``ray.get``, so an upgrade of Ray that changes them fails here first.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'objstore-conformance[ray]')")

from conformance.adapters import ray_runtime  # noqa: E402
from conformance.harness import frame_buffer  # noqa: E402
from conformance.registry import load_implementation  # noqa: E402


@pytest.fixture(scope="module")
def ray_up() -> Iterator[Any]:
    started = not ray.is_initialized() and not os.environ.get("RAY_ADDRESS")
    module = ray_runtime.ensure_ray()
    try:
        yield module
    finally:
        if started:
            ray_runtime.shutdown_ray()


@pytest.fixture(scope="module")
def impl(ray_up: Any) -> Any:
    return load_implementation("ray")


def test_claims_only_what_ray_has(impl: Any) -> None:
    assert impl.protocols == (5,)
    assert impl.store_factory is not None
    # zero_copy: a get shares Ray's store memory (store.zero_copy.local, store.multiprocess.zero_copy).
    assert {"store", "zero_copy", "multiprocess", "timeouts", "nodes"} <= impl.capabilities
    assert not impl.claims("raw_buffers") and not impl.claims("eviction")
    assert not impl.claims("out_of_band")
    assert f"Ray {ray.__version__}" in impl.description


def test_adapter_roundtrip_goes_through_ray_get(impl: Any) -> None:
    import numpy as np

    value = {"a": np.arange(10.0), "f": lambda x: x + 1, "t": (1, "two")}
    view, _ = frame_buffer(impl.serializer.serialize(value, protocol=5), readonly=True)
    out = impl.serializer.deserialize(view)
    assert out["t"] == (1, "two") and out["f"](1) == 2
    assert (out["a"] == value["a"]).all() and not out["a"].flags.writeable


def test_ray_get_is_zero_copy_and_read_only(ray_up: Any) -> None:
    import numpy as np

    ref = ray.put(np.ones(100_000))
    a, b = ray.get(ref), ray.get(ref)
    assert np.shares_memory(a, b), "two ray.get of one array gave two copies"
    assert not a.flags.writeable


def test_unserializable_raises_declared_error(impl: Any) -> None:
    with pytest.raises(impl.serialization_error):
        impl.serializer.serialize({"lock": threading.Lock()}, protocol=5)


def test_register_serializer_is_rays(impl: Any) -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    impl.serializer.register_serializer(Point, serializer=lambda p: p.x, deserializer=lambda x: ("custom", x))
    try:
        assert ray.get(ray.put(Point(3))) == ("custom", 3), "ray.util.register_serializer was not used"
    finally:
        impl.serializer.deregister_serializer(Point)


def test_local_ray_listens_on_loopback_only(ray_up: Any) -> None:
    """Every server of the Ray the adapter started (GCS, raylet, workers, agents) listens on 127.0.0.1 only."""
    from _listeners import listening, not_loopback, process_tree

    if not ray_runtime.started_here():
        pytest.skip("this session joined a Ray through RAY_ADDRESS; the adapter started none")
    ray_up.get(ray_up.put(1))  # a worker is up
    pids = process_tree([os.getpid()])
    assert listening(pids), "found no listening socket of Ray's processes: the check would be vacuous"
    assert not not_loopback(pids), f"Ray listens on the network: {not_loopback(pids)}"


def test_refuses_to_start_ray_on_the_network(monkeypatch: Any) -> None:
    """With Ray's loopback switch off, ensure_ray raises before starting anything."""
    from ray._private import services

    monkeypatch.setattr(services, "get_node_ip_address", lambda address=None: "192.0.2.1")
    with pytest.raises(RuntimeError, match="CVE-2023-48022"):
        ray_runtime._refuse_network_ray(ray)


# What conformance/xfails/ray.txt records, with plain ray.put / ray.get.

def test_known_bytearray_comes_back_as_bytes(ray_up: Any) -> None:
    assert type(ray.get(ray.put(bytearray(b"ab")))) is bytes


def test_known_shared_references_are_lost(ray_up: Any) -> None:
    shared: list = []
    out = ray.get(ray.put([shared, [shared]]))
    assert out[0] is not out[1][0], "Ray now keeps shared references: drop the xfail"


def test_known_inspect_reports_names_not_paths(ray_up: Any) -> None:
    def gen() -> Iterator[int]:
        yield 1

    holder = [gen()]
    ok, failures = ray.util.inspect_serializability(holder, name="value", print_file=open(os.devnull, "w"))
    assert not ok
    assert not any(f.obj is holder[0] for f in failures), "Ray now blames the generator itself"


# The store adapter: Ray's own objects behind the id directory, typed errors, nothing left behind.

@pytest.fixture
def store(impl: Any) -> Iterator[Any]:
    made = impl.store_factory.create(capacity=1 << 20)
    try:
        yield made
    finally:
        impl.store_factory.destroy(made)


def _ref(store: Any, oid: bytes) -> Any:
    return ray.get(store._actor.lookup.remote(oid, 0), timeout=60)[0]


def test_store_get_is_rays_zero_copy_read_only_get(store: Any) -> None:
    import numpy as np

    oid = store.put(np.arange(100_000.0))
    a, b = store.get(oid), store.get(oid)
    assert np.shares_memory(a, b), "two gets of one object gave two copies: not Ray's zero-copy get"
    assert not a.flags.writeable
    ref = _ref(store, oid)
    assert ray.experimental.get_object_locations([ref])[ref]["object_size"] >= 800_000, "not in Ray's store"


def test_store_objects_are_owned_by_the_directory(store: Any) -> None:
    oid = store.put("v")
    owner = ray.get(store._actor.node_id.remote(), timeout=60)
    assert owner == ray.get_runtime_context().get_node_id()
    assert _ref(store, oid).owner_address() != ray.put(0).owner_address(), "the caller owns the object"


def test_store_typed_errors_and_bounded_waits(impl: Any, store: Any) -> None:
    import time

    oid = store.put(b"x")
    with pytest.raises(impl.object_exists_error, match=oid.hex()):
        store.put(b"y", oid)
    assert store.get(oid) == b"x"
    start = time.monotonic()
    with pytest.raises(impl.timeout_error, match="within 0.2s"):
        store.get(b"u" * 20, timeout=0.2)
    assert time.monotonic() - start < 5, "a get of an unknown id waited past its timeout"
    with pytest.raises(impl.not_found_error, match="nothing to delete"):
        store.delete(b"u" * 20)
    with pytest.raises(ValueError, match="20 bytes"):
        store.get(b"short")
    with pytest.raises(impl.not_found_error, match="no Ray store called"):
        impl.store_factory.attach("store-that-was-never-made")


def test_store_has_no_raw_buffers(store: Any) -> None:
    with pytest.raises(NotImplementedError, match="raw_buffers"):
        store.create(b"c" * 20, 8)
    with pytest.raises(NotImplementedError, match="raw_buffers"):
        store.get_buffer(store.put(b"x"))


def test_destroyed_store_leaves_no_actor_or_object(impl: Any) -> None:
    import gc
    import time

    import numpy as np

    from conformance.adapters.ray_store import leftovers

    before = leftovers()
    made = impl.store_factory.create(capacity=1 << 20)
    held = made.get(made.put(np.ones(200_000)))
    made.delete(made.put(np.zeros(200_000)))
    assert leftovers()["objects"] > before["objects"]
    del held
    impl.store_factory.destroy(made)
    gc.collect()
    def clean(now: dict) -> bool:  # objects of earlier tests may go meanwhile, never come
        return now["actors"] == before["actors"] and now["objects"] <= before["objects"]

    deadline = time.monotonic() + 30  # Ray frees the objects of a killed owner asynchronously
    while not clean(leftovers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert clean(leftovers()), f"a destroyed store left an actor or objects in Ray: {leftovers()} after {before}"


def test_ray_adapter_cost_measures_every_operation_and_leaves_nothing(ray_up: Any, capsys: Any) -> None:
    """``benchmarks/ray_adapter_cost.py`` (the README's breakdown of Ray's store row) runs on this Ray: one
    figure per round for the directory round trip and for bare and adapter put and get at each size asked, and
    the store it made is gone afterwards."""
    import sys
    from pathlib import Path

    from conformance.adapters.ray_store import leftovers

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed
    try:
        from benchmarks import ray_adapter_cost
    finally:
        sys.path.pop(0)
    actors = leftovers()["actors"]
    # Not 64 MiB: next to the objects of this module's other tests, a put of it can wait on a full store
    # (200 MiB) past the adapter's call timeout on a busy machine; the code is the same for every size.
    sizes = ["1KiB", "1MiB"]
    figures = ray_adapter_cost.measure(rounds=2, calls=3, sizes=sizes)
    operations = [("bare", "ray.put"), ("bare", "ray.get"), ("adapter", "put"), ("adapter", "get")]
    expected = {"directory round trip (lookup of an id)"} | {
        f"{kind} {op} {size}" for kind, op in operations for size in sizes}
    assert set(figures) == expected
    assert all(len(per_round) == 2 and all(s > 0 for s in per_round) for per_round in figures.values())
    assert leftovers()["actors"] == actors, "the script's store actor outlived it"
    assert ray_adapter_cost.main(["--rounds", "1", "--calls", "2", "--sizes", *sizes]) == 0
    printed = capsys.readouterr().out
    assert all(op in printed for op in expected)
    assert leftovers()["actors"] == actors, "the script's store actor outlived it"
