"""Adapters around plain picklers: stdlib ``pickle`` (one per protocol) and ``cloudpickle``."""

from __future__ import annotations

import pickle
from typing import Any, Callable

from conformance.api import Implementation
from conformance.kit import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS, PickleLikeSerializer

__all__ = ["PICKLE_DUMP_ERRORS", "PICKLE_LOAD_ERRORS", "PicklerSerializer", "cloudpickle_implementation",
           "pickle_implementation"]


class PicklerSerializer(PickleLikeSerializer):
    """The contract's serializer over a ``dumps(obj, protocol=, buffer_callback=)`` function, read back with
    the stdlib's ``pickle.loads`` (the kit's :class:`~conformance.kit.PickleLikeSerializer`).

    At protocol 5 buffers go out-of-band (unless ``out_of_band`` is false); ``deserialize`` is
    ``pickle.loads(inband, buffers=views)`` with views of the frame, so arrays share the frame's memory.
    """

    def __init__(self, dumps: Callable[..., Any], *, out_of_band: bool = True) -> None:
        super().__init__(dumps, pickle.loads, out_of_band=out_of_band)


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
