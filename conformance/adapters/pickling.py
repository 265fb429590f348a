"""Adapters around plain picklers: stdlib ``pickle`` (one per protocol) and ``cloudpickle``."""

from __future__ import annotations

import pickle
import struct
from typing import Any, Callable, List

from conformance.adapters.frames import FrameError, PickleFrame, read_frame
from conformance.api import Implementation

__all__ = ["PicklerSerializer", "cloudpickle_implementation", "pickle_implementation"]

#: What stdlib ``pickle.loads`` may raise for corrupt input (its documentation lists these and more).
PICKLE_LOAD_ERRORS = (pickle.UnpicklingError, FrameError, ValueError, EOFError, TypeError, IndexError,
                      KeyError, AttributeError, ImportError, struct.error, OverflowError, MemoryError,
                      UnicodeDecodeError, RecursionError)
#: What stdlib ``pickle.dumps`` raises for an unpicklable value.
PICKLE_DUMP_ERRORS = (pickle.PicklingError, TypeError, AttributeError)


class PicklerSerializer:
    """The contract's serializer over a ``dumps(obj, protocol=, buffer_callback=)`` function.

    At protocol 5 buffers go out-of-band (unless ``out_of_band`` is false); ``deserialize`` is
    ``pickle.loads(inband, buffers=views)`` with views of the frame, so arrays share the frame's memory.
    """

    def __init__(self, dumps: Callable[..., bytes], *, out_of_band: bool = True) -> None:
        self._dumps = dumps
        self._oob = out_of_band

    def serialize(self, obj: Any, *, protocol: int) -> PickleFrame:
        buffers: List[Any] = []
        if protocol >= 5 and self._oob:
            inband = self._dumps(obj, protocol=protocol, buffer_callback=buffers.append)
        else:
            inband = self._dumps(obj, protocol=protocol)
        return PickleFrame(inband, [b.raw() for b in buffers])

    def deserialize(self, frame: Any) -> Any:
        inband, buffers = read_frame(frame)
        return pickle.loads(inband, buffers=buffers)


_PICKLE_CAPS = frozenset({"numpy", "recursive"})
_OOB_CAPS = frozenset({"out_of_band", "zero_copy", "read_only"})


def pickle_implementation(protocol: int) -> Implementation:
    """The stdlib ``pickle`` module at one protocol: no functions or classes by value, no store."""
    return Implementation(
        name=f"pickle{protocol}",
        serializer=PicklerSerializer(pickle.dumps),
        protocols=(protocol,),
        capabilities=_PICKLE_CAPS | (_OOB_CAPS if protocol >= 5 else frozenset()),
        serialization_error=PICKLE_DUMP_ERRORS,
        deserialization_error=PICKLE_LOAD_ERRORS,
        description=f"stdlib pickle, protocol {protocol}",
    )


def cloudpickle_implementation() -> Implementation:
    """``cloudpickle.dumps`` with stdlib ``pickle.loads``: functions and classes by value, no store."""
    import cloudpickle

    return Implementation(
        name="cloudpickle",
        serializer=PicklerSerializer(cloudpickle.dumps),
        protocols=(3, 4, 5),
        capabilities=_PICKLE_CAPS | _OOB_CAPS | {"by_value_functions", "dynamic_classes"},
        serialization_error=PICKLE_DUMP_ERRORS,
        deserialization_error=PICKLE_LOAD_ERRORS,
        description=f"cloudpickle {cloudpickle.__version__} (pickle.loads to read)",
    )
