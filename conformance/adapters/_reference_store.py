"""The reference store (``reference.store.ObjectStore``) as the contract's store, once it exists.

Translations: ids are ``ObjectID`` there and ``bytes`` here; ``list()`` there also shows the objects this
process is still creating, here only sealed ones; ``create`` on a handle makes an object.
"""

from __future__ import annotations

import secrets
from typing import Any, Dict, FrozenSet, List, Optional

__all__ = ["ReferenceStore", "ReferenceStoreFactory"]


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
    """Creates reference stores with unique names, attaches by name, destroys."""

    def __init__(self, object_store: Any, errors: Dict[str, Any], capabilities: FrozenSet[str]) -> None:
        self._cls = object_store
        self.errors = errors
        self.capabilities = capabilities

    @classmethod
    def available(cls) -> Optional["ReferenceStoreFactory"]:
        """A factory if ``reference.store`` is importable, else ``None``."""
        try:
            from reference import errors
            from reference.store import ObjectStore
        except ImportError:
            return None
        caps = {"store", "multiprocess", "eviction", "timeouts"}
        return cls(ObjectStore, {
            "object_exists_error": (errors.ObjectExistsError,),
            "store_full_error": (errors.ObjectStoreFullError,),
            "timeout_error": (errors.GetTimeoutError,),
            "not_found_error": (errors.ObjectNotFoundError,),
        }, frozenset(caps))

    def create(self, *, capacity: int) -> ReferenceStore:
        make = getattr(self._cls, "create_store", None) or self._cls.create
        return ReferenceStore(make(f"conformance-{secrets.token_hex(6)}", capacity=capacity))

    def attach(self, name: str) -> ReferenceStore:
        return ReferenceStore(self._cls.attach(name))

    def destroy(self, store: Any) -> None:
        handle = store._s
        try:
            handle.destroy()
        finally:
            handle.close()
