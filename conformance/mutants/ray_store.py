"""Mutants of the Ray store adapter (:mod:`conformance.adapters.ray_store`): Ray's store with one defect of
the adapter each, which the store clauses that Ray runs must catch.

Registered with :func:`conformance.mutants.mutant` (``--impl mutant.ray_<defect>``). Loading one needs Ray
(its factory raises ``ImportError`` without it, and the meta tests skip it), so their proof runs where Ray
is installed: ``tests/test_peers_ray_cluster.py``, in ``tox -e ray``. Importing this module does not import
Ray.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Optional

from conformance.api import OBJECT_ID_SIZE, Implementation
from conformance.mutants import mutant

__all__ = ["RAY_MUTANTS"]

#: The names of the mutants this module registers (a subset of ``conformance.mutants.MUTANTS``).
RAY_MUTANTS: List[str] = []


def _ray_mutant(name: str, **factory_kw: Any) -> Implementation:
    from conformance.adapters.ray import ray_implementation
    from conformance.adapters.ray_store import RayStoreFactory

    base = ray_implementation()
    return dataclasses.replace(base, name=f"mutant.{name}", description=f"a Ray store mutant ({name})",
                               store_factory=RayStoreFactory(**factory_kw))


def _register(name: str, *targets: str) -> Any:
    RAY_MUTANTS.append(name)
    return mutant(name, *targets)


@_register("ray_private_directory", "store.multiprocess.get", "store.timeouts.wait_for_put")
def _ray_private_directory() -> Implementation:
    """Keeps the id -> ObjectRef map in the putting process (a dict), not where other processes reach it."""
    from conformance.adapters import ray_store

    class Store(ray_store.RayStore):
        refs: Dict[str, Dict[bytes, Any]] = {}

        def _mine(self) -> Dict[bytes, Any]:
            return self.refs.setdefault(self.name, {})

        def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
            oid = os.urandom(OBJECT_ID_SIZE) if object_id is None else bytes(object_id)
            if oid in self._mine():
                raise ray_store.ObjectIdExistsError(oid.hex())
            self._mine()[oid] = ray_store._ray().put(value)
            return oid

        def _ref(self, oid: bytes, timeout: Optional[float]) -> Any:
            import ray.exceptions

            if oid not in self._mine():
                raise ray.exceptions.GetTimeoutError(f"{oid.hex()} is not in this process's map")
            return self._mine()[oid]

        def contains(self, object_id: bytes) -> bool:
            return bytes(object_id) in self._mine()

        def delete(self, object_id: bytes) -> None:
            if self._mine().pop(bytes(object_id), None) is None:
                raise ray_store.ObjectIdNotFoundError(bytes(object_id).hex())

        def list(self) -> List[bytes]:
            return list(self._mine())

    return _ray_mutant("ray_private_directory", store_class=Store)


@_register("ray_ignores_timeout", "store.timeouts.zero", "store.timeouts.positive")
def _ray_ignores_timeout() -> Implementation:
    """Waits a fixed 3.5 s for a missing id, whatever the timeout asked for."""
    from conformance.adapters import ray_store

    class Store(ray_store.RayStore):
        def _ref(self, oid: bytes, timeout: Optional[float]) -> Any:
            return super()._ref(oid, 3.5)

    return _ray_mutant("ray_ignores_timeout", store_class=Store)


@_register("ray_fresh_put_per_get", "store.nodes.pull_on_demand")
def _ray_fresh_put_per_get() -> Implementation:
    """The directory keeps values, not refs, and answers every lookup with a fresh ray.put of a copy."""
    from conformance.adapters import ray_store

    class Directory(ray_store.DirectoryActor):
        async def put(self, object_id: bytes, value: Any) -> bool:
            if object_id in self.refs:
                return False
            self.refs[object_id] = value[0]
            return True

        async def lookup(self, object_id: bytes, wait: float) -> Optional[List[Any]]:
            import ray

            if object_id not in self.refs:
                return None
            return [ray.put(self.refs[object_id])]

    return _ray_mutant("ray_fresh_put_per_get", actor_class=Directory)


@_register("ray_nodes_eager_push", "store.nodes.pull_on_demand")
def _ray_nodes_eager_push() -> Implementation:
    """A put on one node makes every other node read the object at once (an eager broadcast)."""
    from conformance.adapters import ray_store

    class Store(ray_store.RayStore):
        def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
            oid = super().put(value, object_id)
            for peer in self._peers:
                ray_store._bounded_get(peer.fetch.remote(oid, 0, [self._actor]))
            return oid

    return _ray_mutant("ray_nodes_eager_push", store_class=Store)
