"""Every error the reference implementation raises.

One base, :class:`ObjectStoreError`, so a caller can catch everything that is ours in one clause. The
serializer's errors are also the stdlib's pickle errors (and the builtin ``TypeError``/``ValueError`` that
the pickle module itself raises for the same faults), so code written against ``pickle`` keeps working.
The store's errors (added beside these) subclass the base too.
"""

from __future__ import annotations

import pickle

__all__ = [
    "DeserializationError",
    "ObjectStoreError",
    "SerializationError",
]


class ObjectStoreError(Exception):
    """Base of every error raised by ``reference`` (serializer and store alike)."""


class SerializationError(ObjectStoreError, pickle.PicklingError, TypeError):
    """A value (or something inside it) cannot be serialized.

    The message names the type of each culprit and its path from the top object, written as a Python
    expression (``value['model'].cache._lock``). ``culprits`` holds the :class:`reference.inspect.Failure`
    records found, empty when none could be singled out.
    """

    def __init__(self, message: str, culprits: tuple = ()) -> None:
        super().__init__(message)
        self.culprits = tuple(culprits)


class DeserializationError(ObjectStoreError, pickle.UnpicklingError, ValueError):
    """A frame is corrupt, truncated, foreign or of an unsupported version, or its pickle fails to load.

    The message says which check failed (bad magic, unsupported version, a buffer table that points past
    the end, ...); the underlying exception, if any, is chained as ``__cause__``.
    """
