"""Mutants of the store's machinery: writers that die, eviction, nodes. Each is the ``shared_memory``
adapter's store (or cluster) behind a wrapper that breaks one promise; the eviction mutants add an
eviction policy of their own to that store, which has none."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import (
    ClusterWrapper,
    StoreWrapper,
    WrappingFactory,
    shared_memory_mutant,
    writable_alias,
)

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


# -- pins and bulk eviction of the reference store ------------------------------------------------------------
# The reference keeps pins in shared memory (a count per process and object) and evicts in bulk when a
# batch takes half of the live objects. Each mutant below is the reference store with one of those promises
# broken: its stores' arena (the store's public back door, ``ObjectStore.arena``) becomes an instance of a
# subclass that overrides one step, in every process that loads the mutant.
class _PinFlag:
    def pin(self, e: int) -> None:
        c = self.client if self.client >= 0 else self.ensure_client()  # type: ignore[attr-defined]
        super().pin(e)  # type: ignore[misc]
        self.ledger[c, e] = 1  # type: ignore[attr-defined]  # the defect: a flag, whatever was there


class _DeadPinsLinger:
    def drop_client(self, c: int) -> None:
        if c == self.client:  # type: ignore[attr-defined]  # a process closing gives its own row back ...
            super().drop_client(c)  # type: ignore[misc]
        # ... but a dead one's row (its pins) is never given back


class _OwnPinsOnly:
    def pinned_mask(self, n: int) -> Any:
        import numpy as np

        if self.client < 0:  # type: ignore[attr-defined]
            return np.zeros(n, dtype=bool)
        return self.ledger[self.client, :n] > 0  # type: ignore[attr-defined]

    def pinned(self, e: int) -> bool:
        return self.client >= 0 and bool(self.ledger[self.client, e])  # type: ignore[attr-defined]


class _BulkEvictsPinned:
    def evict_bulk(self, records: Any) -> None:
        import numpy as np

        from reference.arena import SEALED

        state = self.used_entries()["state"]  # type: ignore[attr-defined]
        pinned = np.flatnonzero((state == SEALED) & self.pinned_mask(len(state)))  # type: ignore[attr-defined]
        super().evict_bulk(np.union1d(records, pinned))  # type: ignore[misc]


class _BulkTableOrder:
    def evict_bulk(self, records: Any) -> None:
        import numpy as np

        from reference.arena import SEALED

        state = self.used_entries()["state"]  # type: ignore[attr-defined]
        unpinned = np.flatnonzero((state == SEALED) & ~self.pinned_mask(len(state)))  # type: ignore[attr-defined]
        super().evict_bulk(unpinned[:len(records)])  # type: ignore[misc]  # table order, not LRU


class _BentArena(StoreWrapper):
    """A reference store whose arena is re-classed to ``bend`` (a mixin over the arena's class)."""

    def __init__(self, inner: Any, serializer: Any, bend: type) -> None:
        super().__init__(inner, serializer)
        arena = inner._s.arena  # the ObjectStore's back door, through the adapter's handle
        base = type(arena)
        if not issubclass(base, bend):
            arena.__class__ = type(f"{bend.__name__.lstrip('_')}{base.__name__}", (bend, base), {})


def _reference_store_mutant(name: str, bend: type) -> Implementation:
    from conformance.adapters.reference import reference_implementation

    base = reference_implementation()
    if base.store_factory is None:
        raise ImportError("the reference store (reference.store) is not importable")
    factory = WrappingFactory(base.store_factory, lambda inner: _BentArena(inner, base.serializer, bend))
    return dataclasses.replace(base, name=f"mutant.{name}", store_factory=factory,
                               capabilities=base.capabilities - {"nodes"}, description="a store mutant")


@mutant("store_pin_flag", "store.eviction.pin_count")
def store_pin_flag() -> Implementation:
    """Keeps a pin as a flag, not a count: dropping one of two views of an object unpins it."""
    return _reference_store_mutant("store_pin_flag", _PinFlag)


@mutant("store_dead_pins_linger", "store.multiprocess.killed_reader")
def store_dead_pins_linger() -> Implementation:
    """Never gives back the pins of a reader that died: what it held can never be evicted."""
    return _reference_store_mutant("store_dead_pins_linger", _DeadPinsLinger)


@mutant("store_ignores_other_pins", "store.multiprocess.pinned_elsewhere")
def store_ignores_other_pins() -> Implementation:
    """Eviction counts only this process's pins: it evicts objects other processes hold."""
    return _reference_store_mutant("store_ignores_other_pins", _OwnPinsOnly)


@mutant("store_bulk_evicts_pinned", "store.eviction.bulk")
def store_bulk_evicts_pinned() -> Implementation:
    """A bulk eviction (a batch of half the live objects) frees the pinned objects too."""
    return _reference_store_mutant("store_bulk_evicts_pinned", _BulkEvictsPinned)


@mutant("store_bulk_ignores_lru", "store.eviction.bulk")
def store_bulk_ignores_lru() -> Implementation:
    """A bulk eviction takes its victims in table order, not least recently used first."""
    return _reference_store_mutant("store_bulk_ignores_lru", _BulkTableOrder)


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
_LAZY_DELAY = 0.5


class _LazyPushNode(_Node):
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = super().put(value, object_id)
        timer = threading.Timer(_LAZY_DELAY, self._push, (oid,))
        timer.daemon = True
        timer.start()
        return oid

    def _push(self, oid: bytes) -> None:
        for _attempt in range(20):  # a client shared with the caller's thread may be busy: try again
            try:
                data = self.inner.get_buffer(oid, timeout=0)
                for i in self.peers():
                    if self.cluster.inner.is_local(i, oid):
                        continue
                    peer = self.cluster.inner.node(i)
                    buf = peer.create(oid, len(data))
                    buf[:len(data)] = data
                    del buf
                    peer.seal(oid)
                return
            except Exception:  # noqa: BLE001 - the cluster may be closed by then
                time.sleep(0.05)


@mutant("nodes_lazy_push", "store.nodes.pull_on_demand")
def nodes_lazy_push() -> Implementation:
    """put copies the object to every node in the background, half a second later."""
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
