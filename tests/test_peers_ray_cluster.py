"""Ray's locality, on two raylets of one machine (``ray.cluster_utils.Cluster``); skipped without Ray.

The suite's ``nodes`` clauses need a contract store, which Ray has not (``ray.put`` takes no id), so Ray's
side of them is checked here with Ray's own API: an object stays on the node that put it until a task on
another node asks for it, and is then pulled there (the source notes: "Data remains local to the writer
until requested by another task or actor on another node").
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'objstore-conformance[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

from conformance.adapters.ray import RAY_OPTIONS  # noqa: E402

#: Per-raylet object store: small, as everywhere in this project.
NODE_STORE = 100 * 2**20


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    if ray.is_initialized() or os.environ.get("RAY_ADDRESS"):
        pytest.skip("another Ray is connected in this process")
    made = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": NODE_STORE, "include_dashboard": False})
    try:
        made.add_node(num_cpus=1, object_store_memory=NODE_STORE, resources={"node_b": 1})
        made.wait_for_nodes(timeout=120)
        ray.init(address=made.address, log_to_driver=RAY_OPTIONS["log_to_driver"],
                 configure_logging=RAY_OPTIONS["configure_logging"])
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def _node_ids(ref: Any) -> set:
    return set(ray.experimental.get_object_locations([ref])[ref]["node_ids"])


def test_object_stays_local_until_requested_then_is_pulled(cluster: Any) -> None:
    import numpy as np

    head = ray.get_runtime_context().get_node_id()
    ref = ray.put(np.ones(2**20 // 8))  # 1 MiB: big enough for the object store (small ones are inlined)
    assert _node_ids(ref) == {head}, "the object is not (only) on the node that put it"

    @ray.remote(resources={"node_b": 1}, num_cpus=0)
    def read_on_b(refs: list) -> Any:
        value = ray.get(refs[0])
        return ray.get_runtime_context().get_node_id(), float(value.sum())

    other, total = ray.get(read_on_b.remote([ref]), timeout=120)
    assert other != head and total == 2**20 // 8
    deadline = time.monotonic() + 30  # the location table is updated asynchronously
    while _node_ids(ref) != {head, other} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _node_ids(ref) == {head, other}, "the object was not pulled to the node that asked for it"
