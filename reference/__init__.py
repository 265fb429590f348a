"""The reference implementation: a pickle-5 serializer and an immutable shared-memory object store.

Everything public is importable from here; see ``reference.serializer`` (with ``reference.frame``, the frame
format, and ``reference.pickler``, the Pickler), ``reference.inspect``, ``reference.store`` and
``reference.node``.
"""

from __future__ import annotations

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
from reference.inspect import Failure, inspect_serializability
from reference.node import Node, NodeProcess, ObjectRef
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
from reference.store import ObjectID, ObjectInfo, ObjectStore, StoreStats

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
