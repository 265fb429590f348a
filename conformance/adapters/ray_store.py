"""The store side of the ``ray`` adapter: Ray's object store behind the contract's 20-byte ids.

Ray has no user-chosen ids (``ray.put`` returns an ``ObjectRef``), so this module adds one thing, an id
directory, and leaves everything else to Ray:

* **The directory** of a store is a Ray actor (:class:`DirectoryActor`), named ``<store name>`` in the
  namespace :data:`NAMESPACE`, mapping each id to the ``ObjectRef`` of its object. Every process of the
  test reaches it by name (``ray.get_actor``): a child interpreter joins the same Ray through
  ``RAY_ADDRESS`` and resolves ids there, as Ray workers resolve refs through their owner.
* **Objects are owned by the directory.** The actor itself calls ``ray.put``, so the object outlives the
  process that asked for the put (a child that puts and exits) and lives exactly as long as the store.
  Ray 2.56 removed ``ray.put(..., _owner=...)``, the only way to put from the caller's process on behalf
  of another owner; the value therefore travels to the actor as an ordinary task argument (Ray's own path:
  inline when small, through the object store when large) and is put there. A caller's ``get`` asks the
  directory for the ref and calls ``ray.get`` itself: the value is read from Ray's store in the caller's
  process, zero-copy and read-only, and the returned arrays pin the object as Ray pins any buffer in use.
* **Delete** drops the directory's reference. Ray 2.60 has no public free (``ray.internal.free`` is gone),
  so Ray's reference counting frees the object once no reference and no buffer in use remains: views got
  before stay valid. **Destroying** a store kills its actor, and Ray frees every object the actor owns.
* **Timeouts**: a ``get`` waits in the directory (an asyncio event per id, bounded by the timeout) for the
  id to be put; an expired wait raises Ray's ``GetTimeoutError``. The directory holds a ref only once
  ``ray.put`` has sealed the object, so the ``ray.get`` that follows reads a sealed object. Every Ray call
  of this module is bounded (:data:`CALL_TIMEOUT`, or the caller's timeout), so nothing here can hang: a
  ``get`` with ``timeout=None`` waits in bounded rounds.
* **One round trip an operation**, the least the directory can cost, and only ``get`` is answered with a
  ref: a ref in an answer makes the caller a borrower of the object (about 0.4 ms more a call here), so
  ``put`` and ``contains`` are answered yes or no. ``benchmarks/ray_adapter_cost.py`` measures the round
  trip beside bare ``ray.put`` and ``ray.get``. (A threaded actor answers about 0.25 ms sooner than this
  async one; it is not used, since waiting gets would then each hold one of a bounded number of threads.)
* The actors are *not* detached: they share the fate of the driver that made them, so a suite that
  crashes leaves no actor (and so no object) behind on the cluster; :meth:`RayStoreFactory.destroy` and
  :meth:`RayCluster.close` kill them explicitly when it does not.

Nodes (:class:`RayCluster`): one store actor per Ray node, placed there with
``NodeAffinitySchedulingStrategy`` (hard affinity), so that its ``ray.put`` lands in that node's store and a
``get`` through it makes Ray pull the object to that node (on demand, Ray's object manager). Locality is
read from Ray's own ``ray.experimental.get_object_locations``. Against a Ray this process started, the
cluster adds raylets on this machine (``ray.cluster_utils.Cluster``) and removes them on close; against an
existing cluster (``RAY_ADDRESS``) it uses that cluster's live nodes and starts nothing.

Not provided, because Ray has no such operation (capability ``raw_buffers``): ``create``, ``seal``,
``abort`` (Ray's plasma create/seal is internal to the core worker) and ``get_buffer`` (Ray gives values,
not an object's raw bytes). Calling them raises :class:`NotImplementedError` naming the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from typing import Any, Dict, Iterable, List, Optional

from conformance.adapters.ray_runtime import ensure_ray, started_here
from conformance.api import OBJECT_ID_SIZE
from conformance.kit import NoRawBuffers

__all__ = ["CALL_TIMEOUT", "NAMESPACE", "NODE_STORE_MEMORY", "DirectoryActor", "ObjectIdExistsError",
           "ObjectIdNotFoundError", "RayCluster", "RayStore", "RayStoreError", "RayStoreFactory", "leftovers"]

#: The Ray namespace of every directory actor this module makes (so a check can find leftovers).
NAMESPACE = "objstore_conformance"
#: Seconds any single Ray call of this module may take before it gives up (Ray's ``GetTimeoutError``).
CALL_TIMEOUT = 60.0
#: Longest single wait of a ``get(timeout=None)`` in the directory; it then asks again.
WAIT_ROUND = 10.0
#: Object store memory of each raylet this module adds for a cluster (Ray's minimum is 75 MiB).
NODE_STORE_MEMORY = 80 * 2**20
#: Seconds ``is_local`` gives Ray's object directory to list a copy (it learns of new copies asynchronously).
LOCATION_SETTLE = 2.0
#: Seconds a new raylet, or the actor on it, may take to come up.
NODE_TIMEOUT = 120.0


class RayStoreError(Exception):
    """Base of the errors this adapter raises itself (where Ray has no operation, hence no error)."""


class ObjectIdExistsError(RayStoreError):
    """A put named an id the store already maps (Ray refs are immutable; so are the contract's ids)."""


class ObjectIdNotFoundError(RayStoreError, LookupError):
    """A delete named an id the store does not map."""


def _check_id(object_id: Any) -> bytes:
    if not isinstance(object_id, (bytes, bytearray)) or len(object_id) != OBJECT_ID_SIZE:
        raise ValueError(f"object ids are {OBJECT_ID_SIZE} bytes, got {object_id!r}")
    return bytes(object_id)


def _ray() -> Any:
    return ensure_ray()


def _bounded_get(ref: Any, timeout: Optional[float] = None) -> Any:
    """``ray.get(ref)`` bounded by ``timeout`` (default :data:`CALL_TIMEOUT`): never a hang."""
    return _ray().get(ref, timeout=CALL_TIMEOUT if timeout is None else timeout)


class DirectoryActor:
    """The directory of one store on one node (a Ray async actor; see the module docstring).

    Maps ids to ``ObjectRef`` s it owns. Refs travel inside one-element lists so that Ray passes them as
    refs rather than resolving them to values.
    """

    def __init__(self) -> None:
        self.refs: Dict[bytes, Any] = {}
        self.events: Dict[bytes, asyncio.Event] = {}

    def node_id(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    async def put(self, object_id: bytes, value: Any) -> bool:
        """Put ``value[0]`` under ``object_id``: False, and nothing put, when the id is taken."""
        import ray

        if object_id in self.refs:
            return False
        self.refs[object_id] = ray.put(value[0])
        event = self.events.pop(object_id, None)
        if event is not None:
            event.set()
        return True

    async def lookup(self, object_id: bytes, wait: float) -> Optional[List[Any]]:
        if object_id not in self.refs and wait > 0:
            event = self.events.setdefault(object_id, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), wait)
            except asyncio.TimeoutError:
                pass
        ref = self.refs.get(object_id)
        return None if ref is None else [ref]

    async def has(self, object_id: bytes) -> bool:
        return object_id in self.refs

    async def remove(self, object_id: bytes) -> bool:
        return self.refs.pop(object_id, None) is not None

    async def ids(self) -> List[bytes]:
        return list(self.refs)

    async def fetch(self, object_id: bytes, wait: float, peers: List[Any]) -> Optional[List[Any]]:
        """The value of ``object_id`` read on this actor's node (``[value]``; ``None`` if no store maps it
        within ``wait`` seconds): from this directory or a peer's, with ``await ref`` so that Ray pulls
        the object to this node."""
        deadline = time.monotonic() + wait
        while True:
            box = self.refs.get(object_id)
            if box is None:
                for peer in peers:
                    found = await peer.lookup.remote(object_id, 0)
                    if found is not None:
                        box = found[0]
                        break
            if box is not None:
                return [await box]
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


class RayStore(NoRawBuffers):
    """A client of one store: its directory actor, and the node it lives on (the contract's ``Store``).

    ``name`` is the directory's actor name; ``attach(name)`` in any process of the same Ray reaches it.
    With ``remote_get`` (a cluster node that is not the caller's), ``get`` runs on the store's node.
    """

    NO_RAW_BUFFERS = ("Ray has no public {op}: its plasma create/seal/abort belong to the core worker and "
                      "ray.get returns values, not raw bytes")

    def __init__(self, name: str, actor: Any, *, peers: Iterable[Any] = (), remote_get: bool = False) -> None:
        self.name = name
        self._actor = actor
        self._peers = list(peers)
        self._remote_get = remote_get

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = os.urandom(OBJECT_ID_SIZE) if object_id is None else _check_id(object_id)
        if not _bounded_get(self._actor.put.remote(oid, [value])):
            raise ObjectIdExistsError(f"object {oid.hex()} is already in store {self.name!r}; ids are "
                                      f"immutable: put under a new id (or object_id=None for a fresh one)")
        return oid

    def _ref(self, oid: bytes, timeout: Optional[float]) -> Any:
        import ray.exceptions

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = WAIT_ROUND if deadline is None else max(0.0, min(WAIT_ROUND, deadline - time.monotonic()))
            box = _bounded_get(self._actor.lookup.remote(oid, wait), wait + CALL_TIMEOUT)
            if box is not None:
                return box[0]
            if deadline is not None and time.monotonic() >= deadline:
                raise ray.exceptions.GetTimeoutError(
                    f"object {oid.hex()} was not put in store {self.name!r} within {timeout}s (get "
                    f"timeout); put it first, or pass a longer timeout")

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        import ray.exceptions

        oid = _check_id(object_id)
        if self._remote_get:
            wait = WAIT_ROUND if timeout is None else timeout
            while True:
                box = _bounded_get(self._actor.fetch.remote(oid, wait, self._peers), wait + CALL_TIMEOUT)
                if box is not None:
                    return box[0]
                if timeout is not None:
                    raise ray.exceptions.GetTimeoutError(
                        f"no node of the cluster holds object {oid.hex()} within {timeout}s")
        ref = self._ref(oid, timeout)
        # Ray's own get: zero-copy, read-only arrays that pin the object while they live. The directory
        # holds a ref only once ray.put has sealed the object, so this get does not wait for a put: the
        # caller's timeout is spent; CALL_TIMEOUT bounds it.
        return _bounded_get(ref)

    def contains(self, object_id: bytes) -> bool:
        return bool(_bounded_get(self._actor.has.remote(_check_id(object_id))))

    def delete(self, object_id: bytes) -> None:
        oid = _check_id(object_id)
        if not _bounded_get(self._actor.remove.remote(oid)):
            raise ObjectIdNotFoundError(f"object {oid.hex()} is not in store {self.name!r}: nothing to delete "
                                        f"(contains() says whether an id is there)")

    def list(self) -> List[bytes]:
        return list(_bounded_get(self._actor.ids.remote()))

    def close(self) -> None:
        """Drop this client's handle; the store lives on until destroyed (or its creator exits)."""
        self._actor = None


def _start_actor(actor_class: type, name: str, node_id: Optional[str] = None) -> Any:
    import ray

    options: Dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if node_id is not None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
    actor: Any = ray.remote(num_cpus=0, max_restarts=0)(actor_class).options(**options).remote()
    _bounded_get(actor.node_id.remote(), NODE_TIMEOUT)  # it is up (a new node's worker takes seconds)
    return actor


def _kill(actor: Any) -> None:
    if actor is not None:
        _ray().kill(actor, no_restart=True)


class RayStoreFactory:
    """Stores on the Ray this process is connected to (``ensure_ray``: ``RAY_ADDRESS`` or a local one).

    ``capacity`` is not honoured: Ray's store has one size per node, fixed when the node starts (its
    ``object_store_memory``), and the clauses that depend on it are listed in ``xfails/ray.txt``.
    ``store_class`` and ``actor_class`` are the client and the directory (the mutants bend them).
    """

    def __init__(self, *, store_class: type = RayStore, actor_class: type = DirectoryActor) -> None:
        self._mine: Dict[str, Any] = {}
        self.store_class = store_class
        self.actor_class = actor_class

    def create(self, *, capacity: int) -> RayStore:
        _ray()
        name = f"store-{secrets.token_hex(6)}"
        actor = _start_actor(self.actor_class, name)
        self._mine[name] = actor
        return self.store_class(name, actor)

    def attach(self, name: str) -> RayStore:
        ray = _ray()
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError as exc:
            raise ObjectIdNotFoundError(f"no Ray store called {name!r} in namespace {NAMESPACE!r}: was it "
                                        f"destroyed, or is RAY_ADDRESS another cluster? ({exc})") from exc
        return self.store_class(name, actor)

    def destroy(self, store: Any) -> None:
        """Kill the store's directory actor: Ray frees every object it owns."""
        actor = self._mine.pop(store.name, None) or store._actor
        store.close()
        _kill(actor)

    def create_cluster(self, n: int, *, capacity: int) -> "RayCluster":
        return RayCluster(n, store_class=self.store_class, actor_class=self.actor_class)


class RayCluster:
    """``n`` Ray nodes, each with its store actor (the contract's ``Cluster``; see the module docstring).

    Node 0 is the caller's node. Raises ``RuntimeError`` naming the fix when an existing cluster has fewer
    than ``n`` live nodes.
    """

    def __init__(self, n: int, *, store_class: type = RayStore, actor_class: type = DirectoryActor) -> None:
        ray = _ray()
        self._added: List[Any] = []
        self._cluster: Any = None
        self._actors: List[Any] = []
        here = ray.get_runtime_context().get_node_id()
        others = [node["NodeID"] for node in ray.nodes() if node["Alive"] and node["NodeID"] != here]
        try:
            if len(others) < n - 1:
                if not started_here():
                    raise RuntimeError(f"the nodes clauses need {n} live Ray nodes; the cluster at RAY_ADDRESS "
                                       f"has {len(others) + 1}: add nodes, or run them against a local Ray")
                others += self._add_raylets(n - 1 - len(others))
            self.node_ids = [here] + others[:n - 1]
            token = secrets.token_hex(6)
            self._actors = [_start_actor(actor_class, f"node{i}-{token}", node_id)
                            for i, node_id in enumerate(self.node_ids)]
        except BaseException:
            self.close()
            raise
        self._stores = [store_class(f"node{i}-{token}", actor, peers=self._actors[:i] + self._actors[i + 1:],
                                 remote_get=i > 0) for i, actor in enumerate(self._actors)]

    def _add_raylets(self, count: int) -> List[str]:
        """Start ``count`` raylets on this machine, joined to the Ray this process started."""
        from ray._private import worker
        from ray.cluster_utils import Cluster

        head = worker._global_node
        cluster = Cluster(shutdown_at_exit=True)
        cluster.head_node = head  # the Ray this process started is the head; only workers are added
        self._cluster = cluster
        ids = []
        for _ in range(count):
            node = cluster.add_node(num_cpus=1, object_store_memory=NODE_STORE_MEMORY, wait=False)
            self._added.append(node)
            cluster._wait_for_node(node, timeout=NODE_TIMEOUT)
            ids.append(node.node_id)
        return ids

    def node(self, index: int) -> RayStore:
        return self._stores[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        """True when Ray's object directory lists node ``index`` among the object's locations.

        Ray's directory hears of a new copy asynchronously, so a False answer is only given after it has
        said so for :data:`LOCATION_SETTLE` seconds."""
        ray = _ray()
        oid = _check_id(object_id)
        for actor in self._actors:
            box = _bounded_get(actor.lookup.remote(oid, 0))
            if box is not None:
                ref = box[0]
                deadline = time.monotonic() + LOCATION_SETTLE
                while True:
                    locations = ray.experimental.get_object_locations([ref], timeout_ms=int(CALL_TIMEOUT * 1000))
                    if self.node_ids[index] in locations[ref]["node_ids"]:
                        return True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.05)
        return False

    def close(self) -> None:
        """Kill the store actors (Ray frees their objects) and stop the raylets this cluster added."""
        for actor in self._actors:
            try:
                _kill(actor)
            except Exception:  # noqa: BLE001 - stop the rest; a dead actor is what we want anyway
                pass
        self._actors = []
        for node in self._added:
            self._cluster.remove_node(node, allow_graceful=True)
        self._added = []


def leftovers() -> Dict[str, Any]:
    """What this module left on the Ray this process is connected to: the live actors of
    :data:`NAMESPACE` and the objects every node's store still holds (Ray's own store statistics, summed
    over the cluster). After a clean run both are empty: ``{"actors": [], "objects": 0, "bytes": 0}``."""
    ray = _ray()
    from ray._private import internal_api

    try:
        import grpc  # type: ignore[import-untyped]  # noqa: F401 - Ray's memory statistics are gRPC
    except ImportError as exc:
        raise ImportError(f"counting Ray's objects needs grpcio (pip install grpcio, or 'ray[default]'): "
                          f"{exc}") from exc
    actors = [a for a in ray.util.list_named_actors(all_namespaces=True) if a.get("namespace") == NAMESPACE]
    state = internal_api.get_state_from_address(ray.get_runtime_context().gcs_address)
    stats = internal_api.get_memory_info_reply(state, timeout_seconds=CALL_TIMEOUT).store_stats
    return {"actors": actors, "objects": int(stats.num_local_objects), "bytes": int(stats.object_store_bytes_used)}
