"""The Ray store adapter against an existing multi-node Ray cluster, as a user validates theirs.

A cluster of two raylets is started on this machine (``ray.cluster_utils.Cluster``), standing for the
user's cluster; this process never connects to it while the suite runs. The suite runs in its own process
with ``RAY_ADDRESS`` pointing at it, exactly as ``conformance/README.md`` tells a user to: every store
clause Ray claims runs against the cluster, and the nodes clause uses its two real nodes (the adapter
starts no raylet of its own when it joined a cluster). Then this process connects and checks, with Ray's
own statistics, that the suite left no actor and no object behind. Skipped without Ray.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'objstore-conformance[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

from conformance.report import run_implementation  # noqa: E402

#: Per-raylet object store: small, as everywhere in this project (Ray's minimum is 75 MiB).
NODE_STORE = 80 * 2**20
XFAILS = Path(__file__).resolve().parent.parent / "conformance" / "xfails" / "ray.txt"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    if ray.is_initialized():
        pytest.skip("a Ray is already connected in this process")
    made = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": NODE_STORE, "include_dashboard": False})
    try:
        made.add_node(num_cpus=1, object_store_memory=NODE_STORE)
        made.wait_for_nodes(timeout=120)
        yield made
    finally:
        if ray.is_initialized():
            ray.shutdown()
        made.shutdown()


@pytest.fixture(scope="module")
def suite_run(cluster: Any) -> Any:
    import os

    saved = os.environ.get("RAY_ADDRESS")
    os.environ["RAY_ADDRESS"] = cluster.address
    try:
        return run_implementation("ray", clauses=["store.*"], xfails_file=str(XFAILS), timeout=300)
    finally:
        if saved is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = saved


def test_store_clauses_pass_on_an_existing_cluster(suite_run: Any) -> None:
    statuses = {c: r.status for c, r in suite_run.clauses.items()}
    assert statuses["store.nodes.pull_on_demand"] == "pass", suite_run.log[-4000:]
    for clause_id in ("store.multiprocess.get", "store.timeouts.wait_for_put", "store.delete.views_valid",
                      "store.timeouts.zero", "store.timeouts.positive"):
        assert statuses[clause_id] == "pass", (clause_id, suite_run.log[-4000:])
    bad = {c: s for c, s in statuses.items() if s not in ("pass", "xfail", "xpass", "not claimed")}
    assert not bad, f"{bad}\n{suite_run.log[-4000:]}"


def test_suite_leaves_nothing_on_the_cluster(cluster: Any, suite_run: Any) -> None:
    from conformance.adapters.ray_store import leftovers

    assert suite_run.clauses, "the suite did not run"
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    deadline = time.monotonic() + 30  # Ray frees a dead owner's objects asynchronously
    left = leftovers()
    while left != {"actors": [], "objects": 0, "bytes": 0} and time.monotonic() < deadline:
        time.sleep(0.2)
        left = leftovers()
    assert left == {"actors": [], "objects": 0, "bytes": 0}, f"the suite left this on the cluster: {left}"
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2, "the suite changed the cluster's nodes"
