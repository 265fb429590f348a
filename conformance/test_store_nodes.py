"""Store clause ``store.nodes.pull_on_demand``: an object stays on the node it was put on until another
node asks for it.
"""

from __future__ import annotations

import time

from conformance.api import ContractError, check_cluster
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.watchdog import WatchedCluster

#: Seconds the clause watches node 1, after the put, for a copy it never asked for: an owner that
#: replicates in the background "a moment" after the put (a second, or a few on a busy machine) has done it
#: by then. A correct store never copies unasked, so a longer watch can only cost time, never fail it.
WATCH = 3.0
#: Seconds between two looks during the watch.
LOOK_EVERY = 0.1


@clause("store.nodes.pull_on_demand", "store", "nodes")
def test_store_nodes_pull_on_demand(impl):
    """Clause store.nodes.pull_on_demand: an object put on node 0 is local to node 0 only, and stays so
    (no eager broadcast, and none in the background: node 1 is watched for 3 seconds); when node 1 gets it,
    node 1 gets the same value and holds it locally after."""
    import numpy as np

    reproduce(impl, "cluster = impl.store_factory.create_cluster(2, capacity=4 << 20)",
              "oid = cluster.node(0).put({'a': np.arange(1000)})",
              "cluster.is_local(0, oid), cluster.is_local(1, oid)  # True, False",
              f"import time; time.sleep({WATCH}); cluster.is_local(1, oid)  # still False",
              "cluster.node(1).get(oid, timeout=60); cluster.is_local(1, oid)  # True")
    made = impl.store_factory.create_cluster(2, capacity=4 << 20)
    try:
        check_cluster(impl, made)
    except ContractError:
        if callable(getattr(made, "close", None)):
            made.close()
        raise
    cluster = WatchedCluster(made)
    try:
        value = {"a": np.arange(1000), "b": "text"}
        oid = cluster.node(0).put(value)
        put_at = time.monotonic()
        assert cluster.is_local(0, oid), "an object is not local to the node it was put on"
        while time.monotonic() - put_at < WATCH:
            assert not cluster.is_local(1, oid), (
                f"an object reached another node {time.monotonic() - put_at:.1f}s after the put, before that "
                f"node asked for it")
            time.sleep(LOOK_EVERY)
        assert not cluster.is_local(1, oid), "an object reached another node before that node asked for it"
        got = cluster.node(1).get(oid, timeout=60)  # generous: a busy machine slows the pull, not its outcome
        assert got["b"] == "text" and np.array_equal(got["a"], value["a"]), f"node 1 got {got!r}"
        del got
        assert cluster.is_local(1, oid), "after node 1 got the object, it is not local there"
        assert cluster.is_local(0, oid), "pulling moved the object off its first node"
    finally:
        cluster.close()
