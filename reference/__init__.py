"""The reference implementation: a pickle-5 serializer and an immutable shared-memory object store.

Everything public is importable from here; see ``reference.serializer`` (with ``reference.frame``, the frame
format, and ``reference.pickler``, the Pickler), ``reference.inspect``, ``reference.store`` and
``reference.node``.

Only the exceptions are loaded with the package. Every other name is imported from its module on first
use (PEP 562), so that a user of one part does not load the others: the frame format alone
(``reference.frame``, which the neutral baselines of ``conformance.adapters`` share) loads neither the
serializer's cloudpickle nor the store, its nodes or their transfers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from reference.errors import (
    AuthenticationError,
    DeserializationError,
    GetTimeoutError,
    InvalidObjectIDError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectStoreError,
    ObjectStoreFullError,
    SerializationError,
    StoreClosedError,
    StoreExistsError,
    StoreNotFoundError,
    TransferError,
)

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from reference.inspect import Failure, inspect_serializability
    from reference.node import Node, NodeProcess, ObjectRef
    from reference.objectid import ObjectID
    from reference.serializer import (
        NonContiguousCopyWarning,
        SerializedObject,
        Serializer,
        default_serializer,
        deregister_serializer,
        deserialize,
        dumps,
        loads,
        register_serializer,
        serialize,
    )
    from reference.store import ObjectInfo, ObjectStore, StoreStats

#: Each lazily imported name, and the module that defines it.
_LAZY: Dict[str, str] = {
    "Failure": "reference.inspect",
    "inspect_serializability": "reference.inspect",
    "Node": "reference.node",
    "NodeProcess": "reference.node",
    "ObjectRef": "reference.node",
    "ObjectID": "reference.objectid",
    "NonContiguousCopyWarning": "reference.serializer",
    "SerializedObject": "reference.serializer",
    "Serializer": "reference.serializer",
    "default_serializer": "reference.serializer",
    "deregister_serializer": "reference.serializer",
    "deserialize": "reference.serializer",
    "dumps": "reference.serializer",
    "loads": "reference.serializer",
    "register_serializer": "reference.serializer",
    "serialize": "reference.serializer",
    "ObjectInfo": "reference.store",
    "ObjectStore": "reference.store",
    "StoreStats": "reference.store",
}

__all__ = [
    "AuthenticationError",
    "DeserializationError",
    "Failure",
    "GetTimeoutError",
    "InvalidObjectIDError",
    "Node",
    "NodeProcess",
    "NonContiguousCopyWarning",
    "ObjectExistsError",
    "ObjectID",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectNotSealedError",
    "ObjectRef",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectStoreFullError",
    "SerializationError",
    "SerializedObject",
    "Serializer",
    "StoreClosedError",
    "StoreExistsError",
    "StoreNotFoundError",
    "StoreStats",
    "TransferError",
    "default_serializer",
    "deregister_serializer",
    "deserialize",
    "dumps",
    "inspect_serializability",
    "loads",
    "register_serializer",
    "serialize",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use, and keep the name here from then on."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reference' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
