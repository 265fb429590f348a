"""Mutants of the store's machinery: writers that die, eviction, nodes. Each is the ``shared_memory``
adapter's store (or cluster) behind a wrapper that breaks one promise; the eviction mutants add an
eviction policy of their own to that store, which has none."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable, Dict, List, Optional

from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import ClusterWrapper, StoreWrapper, shared_memory_mutant, writable_alias

# -- writers that die ----------------------------------------------------------------------------------------
#: The ids of the reservations below start with this, so every client can hide them.
_RESERVED = b"\xffreserve"


def _reservation(oid: bytes) -> bytes:
    return _RESERVED + hashlib.sha1(oid).digest()[:len(oid) - len(_RESERVED)]


class _DeadWritersLinger(StoreWrapper):
    """Writes each object into a *sealed* reservation (hidden from contains and list) until seal, then moves
    it in place: the store never reclaims a sealed object, so a writer killed before seal leaks it."""

    def __init__(self, inner: Any, serializer: Any) -> None:
        super().__init__(inner, serializer)
        self.writing: Dict[bytes, memoryview] = {}

    def create(self, object_id: bytes, size: int) -> memoryview:
        if self.contains(object_id):
            return super().create(object_id, size)  # raises the declared object-exists error
        reserved = _reservation(object_id)
        view = writable_alias(super().create(reserved, size))
        super().seal(reserved)  # the store keeps the memory mapped: the alias stays valid
        self.writing[object_id] = view
        return view

    def seal(self, object_id: bytes) -> None:
        data = bytes(self.writing.pop(object_id))
        super().delete(_reservation(object_id))
        buf = super().create(object_id, len(data))
        buf[:len(data)] = data
        del buf
        super().seal(object_id)

    def abort(self, object_id: bytes) -> None:
        del self.writing[object_id]
        super().delete(_reservation(object_id))

    def contains(self, object_id: bytes) -> bool:
        return not object_id.startswith(_RESERVED) and super().contains(object_id)

    def list(self) -> List[bytes]:
        return [o for o in super().list() if not o.startswith(_RESERVED)]


@mutant("store_dead_writers_linger", "store.multiprocess.killed_writer")
def store_dead_writers_linger() -> Implementation:
    """Never reclaims the space of writers that died before sealing."""
    return shared_memory_mutant("store_dead_writers_linger", _DeadWritersLinger)


# -- eviction ------------------------------------------------------------------------------------------------
Policy = Callable[[List[bytes]], List[bytes]]


class _Evicting(StoreWrapper):
    """A store that evicts by a policy of its own when a put does not fit: ``policy(order)`` returns the
    ids to evict, in turn, from ``order`` (the ids this client put or got, least recently used first),
    until the put fits. Deleting hides an object at once, as eviction does."""

    def __init__(self, inner: Any, serializer: Any, policy: Policy) -> None:
        from conformance.adapters.shared_memory import StoreFullError

        super().__init__(inner, serializer)
        self.policy = policy
        self.full_error = StoreFullError
        self.order: List[bytes] = []

    def mark_used(self, oid: bytes) -> None:
        if oid in self.order:
            self.order.remove(oid)
        self.order.append(oid)

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        candidates = self.policy(list(self.order))
        while True:
            try:
                oid = super().put(value, object_id)
                break
            except self.full_error:
                if not candidates:
                    raise
                victim = candidates.pop(0)
                self.order.remove(victim)
                if super().contains(victim):
                    super().delete(victim)
        self.mark_used(oid)
        return oid

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        value = super().get(object_id, timeout=timeout)
        self.mark_used(bytes(object_id))
        return value


def _eviction_mutant(name: str, policy: Policy) -> Implementation:
    return shared_memory_mutant(name, lambda inner, serializer: _Evicting(inner, serializer, policy),
                                capabilities=frozenset({"eviction"}))


@mutant("store_evicts_pinned", "store.eviction.pinning", "store.full.pinned")
def store_evicts_pinned() -> Implementation:
    """Evicts least recently used first, held (pinned) objects included."""
    return _eviction_mutant("store_evicts_pinned", list)


def _newest_first(order: List[bytes]) -> List[bytes]:
    return list(reversed(order))


@mutant("store_evicts_newest", "store.eviction.lru")
def store_evicts_newest() -> Implementation:
    """Evicts the most recently used object first."""
    return _eviction_mutant("store_evicts_newest", _newest_first)


# -- nodes ---------------------------------------------------------------------------------------------------
class _Node(StoreWrapper):
    """Node ``index`` of a :class:`ClusterWrapper`, knowing its peers."""

    def __init__(self, cluster: ClusterWrapper, index: int) -> None:
        super().__init__(cluster.inner.node(index), None)
        self.cluster = cluster
        self.index = index

    def peers(self) -> List[int]:
        return [i for i in range(self.cluster.size) if i != self.index]


class _EagerNode(_Node):
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = super().put(value, object_id)
        data = self.get_buffer(oid)
        for i in self.peers():
            peer = self.cluster.inner.node(i)
            buf = peer.create(oid, len(data))
            buf[:len(data)] = data
            del buf
            peer.seal(oid)
        return oid


@mutant("nodes_eager_push", "store.nodes.pull_on_demand")
def nodes_eager_push() -> Implementation:
    """put copies the object to every node at once."""
    return shared_memory_mutant("nodes_eager_push", wrap_node=_EagerNode)


#: Seconds after a put at which the lazy node copies the object to its peers.
_LAZY_DELAY = 1.0


class _LazyPushNode(_Node):
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = super().put(value, object_id)
        timer = threading.Timer(_LAZY_DELAY, self._push, (oid,))
        timer.daemon = True
        timer.start()
        return oid

    def _push(self, oid: bytes) -> None:
        try:
            data = self.inner.get_buffer(oid, timeout=0)
            for i in self.peers():
                peer = self.cluster.inner.node(i)
                buf = peer.create(oid, len(data))
                buf[:len(data)] = data
                del buf
                peer.seal(oid)
        except Exception:  # noqa: BLE001 - the cluster may be closed by then
            pass


@mutant("nodes_lazy_push", "store.nodes.pull_on_demand")
def nodes_lazy_push() -> Implementation:
    """put copies the object to every node in the background, a second later."""
    return shared_memory_mutant("nodes_lazy_push", wrap_node=_LazyPushNode)


class _NoLocalCopyNode(_Node):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        if not self.cluster.is_local(self.index, object_id):
            for i in self.peers():
                if self.cluster.is_local(i, object_id):
                    return self.cluster.inner.node(i).get(object_id, timeout=0)
        return super().get(object_id, timeout=timeout)


@mutant("nodes_no_local_copy", "store.nodes.pull_on_demand")
def nodes_no_local_copy() -> Implementation:
    """A node serves objects of other nodes without ever holding them: every get goes to the network."""
    return shared_memory_mutant("nodes_no_local_copy", wrap_node=_NoLocalCopyNode)
