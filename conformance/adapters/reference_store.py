"""The reference store (``reference.store.ObjectStore``) as the contract's store.

Translations: ids are ``ObjectID`` there and ``bytes`` here; ``list()`` there also shows the objects this
process is still creating, here only sealed ones; ``create`` on a handle makes an object. With
``reference.node``, ``create_cluster`` starts nodes in this process, each a peer of the others.
"""

from __future__ import annotations

import secrets
from typing import Any, List, Optional

__all__ = ["ReferenceCluster", "ReferenceNodeStore", "ReferenceStore", "ReferenceStoreFactory"]


class ReferenceStore:
    """One handle of a reference store, speaking the contract."""

    def __init__(self, handle: Any) -> None:
        self._s = handle
        self.name = handle.name

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        return bytes(self._s.put(value, object_id))

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._s.get(object_id, timeout=timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return self._s.get_buffer(object_id, timeout=timeout)

    def contains(self, object_id: bytes) -> bool:
        return bool(self._s.contains(object_id))

    def delete(self, object_id: bytes) -> None:
        self._s.delete(object_id)

    def create(self, object_id: bytes, size: int) -> memoryview:
        return self._s.create(object_id, size)

    def seal(self, object_id: bytes) -> None:
        self._s.seal(object_id)

    def abort(self, object_id: bytes) -> None:
        self._s.abort(object_id)

    def list(self) -> List[bytes]:
        return [bytes(info.object_id) for info in self._s.list() if info.sealed]

    def close(self) -> None:
        self._s.close()


class ReferenceStoreFactory:
    """Creates reference stores with unique names, attaches by name, destroys; nodes are ``reference.node``."""

    capabilities = frozenset({"store", "store_zero_copy", "store_read_only", "raw_buffers", "multiprocess",
                              "eviction", "timeouts", "nodes"})

    def __init__(self) -> None:
        from reference.store import ObjectStore

        self._cls = ObjectStore

    def create(self, *, capacity: int) -> ReferenceStore:
        return ReferenceStore(self._cls.create(f"conformance-{secrets.token_hex(6)}", capacity=capacity))

    def attach(self, name: str) -> ReferenceStore:
        return ReferenceStore(self._cls.attach(name))

    def create_cluster(self, n: int, *, capacity: int) -> "ReferenceCluster":
        """``n`` reference nodes (``reference.node``), peers of each other."""
        from reference.node import Node

        return ReferenceCluster(Node, n, capacity)

    def destroy(self, store: Any) -> None:
        handle = store._s
        try:
            handle.destroy()
        finally:
            handle.close()


class ReferenceNodeStore(ReferenceStore):
    """A reference node (``reference.node.Node``) as the contract's store: get pulls from peers."""

    def __init__(self, node: Any) -> None:
        super().__init__(node.store)
        self._node = node

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        return bytes(self._node.put(value, object_id).object_id)

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._node.get(object_id, timeout=timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return self._s.get_buffer(self._node.pull(object_id, timeout=timeout), timeout=timeout)


class ReferenceCluster:
    """``n`` reference nodes in this process, each with its own store and transfer server, all peers."""

    def __init__(self, node_class: Any, n: int, capacity: int) -> None:
        authkey = secrets.token_bytes(16)
        self._nodes: List[Any] = []
        try:
            for _ in range(n):
                self._nodes.append(node_class.start(f"conformance-node-{secrets.token_hex(6)}",
                                                    capacity=capacity, authkey=authkey))
            for node in self._nodes:
                for other in self._nodes:
                    node.add_peer(other.address)
        except BaseException:
            self.close()
            raise
        self._stores = [ReferenceNodeStore(node) for node in self._nodes]

    def node(self, index: int) -> ReferenceNodeStore:
        return self._stores[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        return bool(self._nodes[index].contains(object_id))

    def close(self) -> None:
        for node in self._nodes:
            try:
                node.close()
            except Exception:  # noqa: BLE001 - close every node even if one fails
                pass
        self._nodes = []

