"""The adapter for this project's reference implementation (``reference``): every capability."""

from __future__ import annotations

import io
from typing import Any, Callable, Set, Tuple

from conformance.api import Implementation

__all__ = ["ReferenceSerializer", "reference_implementation"]


class ReferenceSerializer:
    """``reference.Serializer`` as the contract's serializer (a private instance: registrations stay local)."""

    def __init__(self) -> None:
        import reference

        self._ref = reference
        self._ser = reference.Serializer()

    def serialize(self, obj: Any, *, protocol: int) -> Any:
        return self._ser.serialize(obj, protocol=protocol)  # a SerializedObject is a conformance.api.Serialized already

    def deserialize(self, frame: Any) -> Any:
        return self._ser.deserialize(frame)

    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        self._ser.register_serializer(cls, serializer=serializer, deserializer=deserializer)

    def deregister_serializer(self, cls: type) -> None:
        self._ser.deregister_serializer(cls)

    def inspect(self, value: Any, *, name: str = "value", depth: int = 64) -> Tuple[bool, Set[Any]]:
        return self._ref.inspect_serializability(value, name=name, depth=depth, print_file=io.StringIO(),
                                                 serializer=self._ser)


def reference_implementation() -> Implementation:
    """The reference serializer and store: claims every capability they have."""
    import reference
    from conformance.adapters.reference_store import ReferenceStoreFactory

    caps = {"numpy", "numpy_byte_order", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
            "zero_copy", "read_only", "custom_serializers", "inspect", "memoryview", "error_paths"}
    factory = ReferenceStoreFactory()
    return Implementation(
        name="reference",
        serializer=ReferenceSerializer(),
        protocols=(3, 4, 5),
        capabilities=frozenset(caps | ReferenceStoreFactory.capabilities),
        store_factory=factory,
        serialization_error=(reference.SerializationError,),
        deserialization_error=(reference.DeserializationError,),
        description="this project's reference serializer and store",
        object_exists_error=(reference.ObjectExistsError,),
        store_full_error=(reference.ObjectStoreFullError,),
        timeout_error=(reference.GetTimeoutError,),
        not_found_error=(reference.ObjectNotFoundError,),
    )
