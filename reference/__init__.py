"""The reference implementation: a pickle-5 serializer and an immutable shared-memory object store.

Everything public is importable from here; see ``reference.serializer`` and ``reference.inspect``.
"""

from __future__ import annotations

from reference.errors import DeserializationError, ObjectStoreError, SerializationError
from reference.inspect import Failure, inspect_serializability
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

__all__ = [
    "DeserializationError",
    "Failure",
    "NonContiguousCopyWarning",
    "ObjectStoreError",
    "SerializationError",
    "SerializedObject",
    "Serializer",
    "default_serializer",
    "deregister_serializer",
    "deserialize",
    "dumps",
    "inspect_serializability",
    "loads",
    "register_serializer",
    "serialize",
]
