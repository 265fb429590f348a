"""``--impl dask-serialize``: Dask distributed's ``serialize``/``deserialize`` (``distributed.protocol``), the
path values take between Dask workers: a header and a list of frames, with Dask's own serializer families
(``dask`` first: numpy arrays as raw frames; ``pickle`` for the rest).

The contract's frame holds the header as its in-band part (a pickle of the header dict, not of the value)
and Dask's frames as its out-of-band buffers, so ``deserialize`` hands Dask views of the frame. Where this
differs from a pickle serializer, by Dask's design, ``conformance/xfails/dask-serialize.txt`` says so and
cites the upstream issue.
"""

from __future__ import annotations

import pickle
from typing import Any

from conformance.api import Implementation
from conformance.kit import PICKLE_LOAD_ERRORS, PickleFrame, read_frame

__all__ = ["DaskSerializer", "dask_serialize_implementation"]


class DaskSerializer:
    """``distributed.protocol.serialize(value, on_error="raise")`` into a frame, and ``deserialize`` back."""

    def __init__(self) -> None:
        from distributed.protocol import deserialize, serialize

        self._serialize = serialize
        self._deserialize = deserialize

    def serialize(self, obj: Any, *, protocol: int) -> PickleFrame:
        header, frames = self._serialize(obj, on_error="raise")
        return PickleFrame(pickle.dumps(header, protocol=protocol), frames)

    def deserialize(self, frame: Any) -> Any:
        inband, buffers = read_frame(frame)
        return self._deserialize(pickle.loads(inband), buffers)


def dask_serialize_implementation() -> Implementation:
    """Dask's serialize path: protocol 5 only (Dask picks its own), numpy and by-value functions and classes
    (through cloudpickle); Dask re-raises a value's serialization error as ``TypeError``."""
    import distributed

    return Implementation(
        name="dask-serialize",
        serializer=DaskSerializer(),
        protocols=(5,),
        capabilities=frozenset({"numpy", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
                                "zero_copy", "read_only"}),
        serialization_error=(TypeError,),
        deserialization_error=PICKLE_LOAD_ERRORS,
        description=f"distributed {distributed.__version__} (distributed.protocol.serialize)",
    )
