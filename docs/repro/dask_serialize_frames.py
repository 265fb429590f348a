"""Dask's serialize path sends a header and frames, not a pickle stream: for a numpy array the header
describes the array (dtype, shape, strides) and the frame is its raw bytes, so no pickle stream holds the
value and ``pickle.loads`` cannot read what Dask sends. By Dask's design (its wire protocol); no upstream
issue found, none expected.

    python dask_serialize_frames.py   # prints "reproduced: True" while Dask sends header + frames

The xfail ``serializer.protocols.stdlib_loads`` of conformance/xfails/dask-serialize.txt (whose frame
therefore holds Dask's header as its in-band part); tests/test_xfail_repros.py runs this script.
"""
import pickle

import numpy as np
from distributed.protocol import serialize

header, frames = serialize(np.arange(3, dtype="<i8"), on_error="raise")
print(f"header: {sorted(header)}; frames: {[bytes(f) for f in frames]}")
try:
    pickle.loads(b"".join(bytes(f) for f in frames))
    loads = "loads"
except Exception as exc:  # noqa: BLE001 - any failure shows the frames are not a pickle stream
    loads = f"{type(exc).__name__}: {exc}"
print(f"pickle.loads of the frames: {loads}")
print("reproduced:", loads != "loads" and header.get("serializer") == "dask")
