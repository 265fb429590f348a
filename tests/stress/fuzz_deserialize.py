"""Coverage-guided fuzzing of ``reference.deserialize`` with atheris: only ``DeserializationError`` may escape.

Run: ``python tests/stress/fuzz_deserialize.py -runs=1000000`` (libFuzzer flags; ``-help=1`` lists them).
Inputs are raw bytes or mutations of valid frames (the first input byte chooses); a mutated frame keeps its
old checksum, so this fuzzes the frame parser and its checks (pickle never sees a damaged frame), except in
the mode that edits only the header and buffer table and recomputes the CRC (``reference.frame.fix_checksum``):
there the checks behind the checksum, and the unpickler with intact pickles but damaged buffers, are fuzzed
too. Unpickling can call any importable global, so while fuzzing the frame's pickle may name only the
reconstructors that real frames use (numpy's, ours, builtins'): the frame parser and pickle's own parser are
fuzzed in full, and random input cannot reach ``os.system``. libFuzzer's closing line ``Done N runs in S
second(s)`` counts the inputs.
"""

from __future__ import annotations

import io
import pickle
import sys
import types

import atheris
import numpy as np  # imported first so that only our modules are instrumented

with atheris.instrument_imports(include=["reference"]):
    import reference.frame as fmt
    import reference.serializer as ser
    from reference.errors import DeserializationError

_ALLOWED = {
    ("builtins", n) for n in ("set", "frozenset", "bytearray", "complex", "slice", "range", "getattr")
} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("copyreg", "_reconstructor"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("reference.pickler", "_make_memoryview"), ("reference.pickler", "_view_as"), ("reference.pickler", "_make_array"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed while fuzzing")
        return super().find_class(module, name)


def _safe_loads(data, *, buffers=None):
    return _SafeUnpickler(io.BytesIO(data), buffers=buffers).load()


# The serializer module calls pickle.loads; while fuzzing it gets the restricted one.
ser.pickle = types.SimpleNamespace(loads=_safe_loads, PickleBuffer=pickle.PickleBuffer)

SEEDS = [
    ser.dumps(value, protocol=protocol)
    for protocol in (3, 4, 5)
    for value in (None, [1, "a", b"b", 2.5], {"k": (1, 2)}, np.arange(6, dtype=">i4").reshape(2, 3),
                  [np.ones(3), memoryview(b"xyz")], np.zeros((2, 2), order="F"))
]


def one_input(data: bytes) -> None:
    if data and data[0] & 4 and len(data) > 3:
        # edit the header or buffer table of a valid frame and recompute the CRC, so that the edit reaches
        # the checks behind the checksum; the in-band pickle is left intact (a damaged pickle must never
        # reach pickle: numpy can crash on it, which is what the CRC is for)
        seed = bytearray(SEEDS[data[1] % len(SEEDS)])
        inband_off = fmt.read_header(seed).inband_offset
        pos = data[2] % inband_off
        payload = data[3:3 + inband_off - pos]
        seed[pos:pos + len(payload)] = payload
        fmt.fix_checksum(seed)
        frame = bytes(seed)
    elif data and data[0] & 1 and len(data) > 3:
        # mutate a valid frame: overwrite a few bytes at a chosen position, or cut it
        seed = bytearray(SEEDS[data[1] % len(SEEDS)])
        pos = data[2] * 7 % len(seed)
        payload = data[3:]
        if data[0] & 2:
            seed[pos:pos + len(payload)] = payload
            frame = bytes(seed)
        else:
            frame = bytes(seed[:pos]) + payload
    else:
        frame = data
    try:
        ser.deserialize(frame)
    except DeserializationError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
