"""Every error the reference implementation raises.

One base, :class:`ObjectStoreError`, so a caller can catch everything that is ours in one clause. The
serializer's errors are also the stdlib's pickle errors (and the builtin ``TypeError``/``ValueError`` that
the pickle module itself raises for the same faults), so code written against ``pickle`` keeps working.
The store's errors, below them, subclass the base too.
"""

from __future__ import annotations

import pickle
from typing import Any, Dict, Iterable, Optional, Tuple, Type, TypeVar

__all__ = [
    "DeserializationError",
    "ObjectStoreError",
    "SerializationError",
    "error_of_both",
]

_E = TypeVar("_E", bound=BaseException)


class ObjectStoreError(Exception):
    """Base of every error raised by ``reference`` (serializer and store alike)."""


class SerializationError(ObjectStoreError, pickle.PicklingError, TypeError):
    """A value (or something inside it) cannot be serialized.

    The message names the type of each culprit and its path from the top object, written as a Python
    expression (``value['model'].cache._lock``). ``culprits`` holds the :class:`reference.inspect.Failure`
    records found, empty when none could be singled out.
    """

    def __init__(self, message: str, culprits: Iterable[Any] = ()) -> None:
        super().__init__(message)
        self.culprits = tuple(culprits)


class DeserializationError(ObjectStoreError, pickle.UnpicklingError, ValueError):
    """A frame is corrupt, truncated, foreign or of an unsupported version, or its pickle fails to load.

    The message says which check failed (bad magic, unsupported version, a buffer table that points past
    the end, ...); the underlying exception, if any, is chained as ``__cause__``.
    """


def error_of_both(declared: Type[_E], original: BaseException, message: str, *args: Any) -> _E:
    """``declared(message, *args)``, made also an instance of ``type(original)``: the error to raise from
    ``original``, so that both ``except declared`` and the caller's ``except`` of the original type catch it.

    A ``ValueError`` raised by a value's ``__reduce__`` becomes a :class:`SerializationError` that is also a
    ``ValueError`` (cloudpickle's tests catch it so), an ``ImportError`` while loading a
    :class:`DeserializationError` that is also an ``ImportError``. The class of both has ``declared``'s
    name and pickles. Where no such class can exist or be built (an original type whose layout or
    ``__init__`` cannot be shared), the error is ``declared`` alone.
    """
    cls = _class_of_both(declared, type(original))
    if cls is not None:
        try:
            return cls(message, *args)
        except Exception:  # noqa: BLE001 - the original type's __init__ wants other arguments
            _BOTH[id(declared), id(type(original))] = (declared, type(original), None)
    return declared(message, *args)


#: (id(declared), id(original type)) -> (declared, original type, their class or None): by id, because an
#: exception class's metaclass may make it unhashable; the classes are kept, so the ids stay theirs.
_BOTH: Dict[Tuple[int, int], Tuple[type, type, Optional[type]]] = {}


def _class_of_both(declared: Type[_E], original: type) -> Optional[Type[_E]]:
    if issubclass(declared, original):
        return declared
    key = (id(declared), id(original))
    known = _BOTH.get(key)
    if known is not None and known[0] is declared and known[1] is original:
        return known[2]
    if len(_BOTH) >= 256:  # original types made at run time, one after another: forget the old ones
        _BOTH.clear()
    try:
        both: Optional[type] = type(declared.__name__, (declared, original), {
            "__module__": declared.__module__, "__qualname__": declared.__qualname__,
            "__doc__": declared.__doc__, "__reduce__": _reduce_both})
    except TypeError:  # a final class, or instance layouts that cannot be combined
        both = None
    _BOTH[key] = (declared, original, both)
    return both


def _reduce_both(self: BaseException) -> Any:
    declared, original = type(self).__bases__
    return _rebuild_both, (declared, original, self.args), self.__dict__


def _rebuild_both(declared: Type[BaseException], original: type, args: Tuple[Any, ...]) -> BaseException:
    cls = _class_of_both(declared, original) or declared
    error: BaseException = cls.__new__(cls)
    error.args = args
    return error


# ---------------------------------------------------------------------------------------------------------
# The object store's errors (reference.store, reference.node).

class InvalidObjectIDError(ObjectStoreError, ValueError):
    """An object ID is not 20 bytes (or 40 hex digits): no such ID can name an object in any store."""


class ObjectExistsError(ObjectStoreError):
    """An object with this ID is already in the store (sealed, or being created): objects are immutable."""


class ObjectNotFoundError(ObjectStoreError, KeyError):
    """No sealed object with this ID is in the store (never put, deleted, evicted, or not sealed yet)."""

    def __str__(self) -> str:  # KeyError would quote the message; show it as written
        return str(self.args[0]) if self.args else ""


class ObjectNotSealedError(ObjectStoreError):
    """``seal``/``abort`` of an object that this process is not creating (already sealed, or another's)."""


class ObjectStoreFullError(ObjectStoreError, MemoryError):
    """An object does not fit even after evicting every sealed object that no reader holds.

    The message names the object's id and size and what holds the space (pinned and unsealed bytes).
    The store is unchanged and stays usable.
    """


class GetTimeoutError(ObjectStoreError, TimeoutError):
    """``get`` waited ``timeout`` seconds and the object was still not sealed in the store."""


class StoreNotFoundError(ObjectStoreError, FileNotFoundError):
    """No store of this name exists on this machine (never created, or destroyed)."""


class StoreExistsError(ObjectStoreError, FileExistsError):
    """A store of this name already exists: attach to it, or destroy it first."""


class StoreClosedError(ObjectStoreError, ValueError):
    """An operation on a store handle after ``close()``."""


class TransferError(ObjectStoreError, ConnectionError):
    """Pulling an object from another node failed (refused, dropped, or the peer reported an error)."""


class AuthenticationError(TransferError):
    """A peer refused the connection because the authentication keys differ."""


__all__ += [
    "AuthenticationError",
    "GetTimeoutError",
    "InvalidObjectIDError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectNotSealedError",
    "ObjectStoreFullError",
    "StoreClosedError",
    "StoreExistsError",
    "StoreNotFoundError",
    "TransferError",
]
