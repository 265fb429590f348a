"""Object IDs: 20 bytes (Plasma's size), random unless given, shown as hex.

An ID is validated when it is made, so every ID that reaches the store is exactly 20 bytes: there is no ID
that could name anything outside a store's object table.
"""

from __future__ import annotations

import binascii
import os
from typing import Any, Union

from reference.errors import InvalidObjectIDError

__all__ = ["ID_SIZE", "ObjectID", "ObjectIDLike", "as_object_id"]

ID_SIZE = 20


class ObjectID:
    """A 20-byte object ID. Immutable, hashable, ordered; ``str``/``repr`` show it as 40 hex digits.

    ``ObjectID(data)`` takes exactly 20 bytes (``bytes``, ``bytearray`` or ``memoryview``);
    :meth:`from_hex` takes 40 hex digits; :meth:`from_random` draws one from ``os.urandom``.
    Anything else raises :class:`InvalidObjectIDError` (a ``ValueError``).
    """

    __slots__ = ("_b",)
    _b: bytes

    def __init__(self, data: Any) -> None:
        if isinstance(data, ObjectID):
            data = data._b
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidObjectIDError(
                f"an object ID is {ID_SIZE} bytes; got {type(data).__name__} {data!r:.60}: pass bytes, "
                f"or ObjectID.from_hex(text) for a hex string"
            )
        b = bytes(data)
        if len(b) != ID_SIZE:
            raise InvalidObjectIDError(
                f"an object ID is exactly {ID_SIZE} bytes; got {len(b)} bytes ({b[:32]!r}"
                f"{'...' if len(b) > 32 else ''})"
            )
        object.__setattr__(self, "_b", b)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ObjectID is immutable")

    @classmethod
    def from_random(cls) -> "ObjectID":
        """A new random ID (160 bits from ``os.urandom``)."""
        oid = _new_object(cls)
        _set_bytes(oid, _urandom(ID_SIZE))  # exactly ID_SIZE bytes: nothing to validate (a hot path)
        return oid

    @classmethod
    def from_hex(cls, text: str) -> "ObjectID":
        """The ID written as ``text``: exactly 40 hex digits (either case)."""
        if not isinstance(text, str):
            raise InvalidObjectIDError(f"from_hex takes a str of {2 * ID_SIZE} hex digits, got "
                                       f"{type(text).__name__}")
        if len(text) != 2 * ID_SIZE:
            raise InvalidObjectIDError(
                f"an object ID in hex is {2 * ID_SIZE} digits; got {len(text)} ({text[:48]!r})"
            )
        try:
            return cls(binascii.unhexlify(text))
        except (binascii.Error, ValueError) as exc:
            raise InvalidObjectIDError(f"{text!r} is not a hex string") from exc

    def binary(self) -> bytes:
        """The 20 bytes."""
        return self._b

    def hex(self) -> str:
        """The 40 lowercase hex digits."""
        return self._b.hex()

    def __bytes__(self) -> bytes:
        return self._b

    def __str__(self) -> str:
        return self._b.hex()

    def __repr__(self) -> str:
        return f"ObjectID({self._b.hex()})"

    def __hash__(self) -> int:
        return hash(self._b)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ObjectID):
            return self._b == other._b
        return NotImplemented

    def __lt__(self, other: "ObjectID") -> bool:
        if isinstance(other, ObjectID):
            return self._b < other._b
        return NotImplemented

    def __reduce__(self) -> Any:
        return (ObjectID, (self._b,))


_new_object = object.__new__
_set_bytes = ObjectID.__dict__["_b"].__set__  # the slot's descriptor
_urandom = os.urandom

ObjectIDLike = Union[ObjectID, bytes, str]


def as_object_id(value: Any) -> ObjectID:
    """``value`` as an :class:`ObjectID`: an ObjectID, 20 bytes, or 40 hex digits."""
    if type(value) is ObjectID:
        return value
    if isinstance(value, str):
        return ObjectID.from_hex(value)
    return ObjectID(value)
