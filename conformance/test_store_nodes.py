"""Store clause ``store.nodes.pull_on_demand``: an object stays on the node it was put on until another
node asks for it.
"""

from __future__ import annotations

import time

from conformance.clauses import clause
from conformance.harness import reproduce


@clause("store.nodes.pull_on_demand", "store", "nodes")
def test_store_nodes_pull_on_demand(impl):
    """Clause store.nodes.pull_on_demand: an object put on node 0 is local to node 0 only, and stays so
    (no eager broadcast); when node 1 gets it, node 1 gets the same value and holds it locally after."""
    import numpy as np

    reproduce(impl, "cluster = impl.store_factory.create_cluster(2, capacity=4 << 20)",
              "oid = cluster.node(0).put({'a': np.arange(1000)})",
              "cluster.is_local(0, oid), cluster.is_local(1, oid)  # True, False",
              "cluster.node(1).get(oid, timeout=60); cluster.is_local(1, oid)  # True")
    cluster = impl.store_factory.create_cluster(2, capacity=4 << 20)
    try:
        value = {"a": np.arange(1000), "b": "text"}
        oid = cluster.node(0).put(value)
        assert cluster.is_local(0, oid), "an object is not local to the node it was put on"
        time.sleep(0.3)
        assert not cluster.is_local(1, oid), "an object reached another node before that node asked for it"
        got = cluster.node(1).get(oid, timeout=60)  # generous: a busy machine slows the pull, not its outcome
        assert got["b"] == "text" and np.array_equal(got["a"], value["a"]), f"node 1 got {got!r}"
        del got
        assert cluster.is_local(1, oid), "after node 1 got the object, it is not local there"
        assert cluster.is_local(0, oid), "pulling moved the object off its first node"
    finally:
        cluster.close()
