"""Serializer clauses ``serializer.errors.*``: unserializable values and corrupt frames fail with the
declared errors.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import frame_buffer, reproduce


def _corruptions(frame_bytes):
    n = len(frame_bytes)
    return st.one_of(
        st.integers(0, n - 1).map(lambda k: frame_bytes[:k]),                     # truncated
        st.binary(min_size=0, max_size=64),                                        # foreign bytes
        st.tuples(st.integers(0, min(n, 64) - 1), st.integers(1, 255)).map(        # a header byte flipped
            lambda t: frame_bytes[:t[0]] + bytes([frame_bytes[t[0]] ^ t[1]]) + frame_bytes[t[0] + 1:]),
    )


@clause("serializer.errors.unserializable")
@given(case=strategies.unserializable_nestings())
def test_serializer_errors_unserializable(impl, case):
    """Clause serializer.errors.unserializable: a value holding a lock, a re-entrant lock or a generator,
    however nested, fails to serialize with the implementation's declared serialization error."""
    value, culprits = case
    protocol = max(impl.protocols)
    reproduce(impl, f"value = {value!r}", f"impl.serializer.serialize(value, protocol={protocol})")
    try:
        frame = impl.serializer.serialize(value, protocol=protocol)
    except impl.serialization_error:
        return
    except Exception as exc:  # noqa: BLE001 - the wrong type is the failure
        raise AssertionError(f"serialize raised {type(exc).__name__}, not one of the declared "
                             f"{[t.__name__ for t in impl.serialization_error]}: {exc}") from exc
    raise AssertionError(f"serialize accepted a value holding {len(culprits)} unserializable object(s) "
                         f"(frame of {frame.frame_size} bytes)")


@clause("serializer.errors.corrupt")
@given(data=st.data())
def test_serializer_errors_corrupt(impl, data):
    """Clause serializer.errors.corrupt: deserializing a truncated frame, foreign bytes, or a frame with a
    header byte changed either gives a value back or raises the declared deserialization error; it never
    raises anything else, and a truncated frame or foreign bytes never load."""
    import numpy as np

    protocol = max(impl.protocols)
    value = {"a": [1, 2.5, "x"], "b": np.arange(7, dtype="<i8")}
    frame_bytes = bytes(frame_buffer(impl.serializer.serialize(value, protocol=protocol))[0])
    corrupt = data.draw(_corruptions(frame_bytes), label="corrupt")
    reproduce(impl, "import numpy as np", f"value = {value!r}",
              f"corrupt = {corrupt!r}", "impl.serializer.deserialize(corrupt)")
    truncated = frame_bytes.startswith(corrupt) and len(corrupt) < len(frame_bytes)
    try:
        impl.serializer.deserialize(corrupt)
    except impl.deserialization_error:
        return
    except Exception as exc:  # noqa: BLE001 - the wrong type is the failure
        raise AssertionError(f"deserialize raised {type(exc).__name__}, not one of the declared "
                             f"{[t.__name__ for t in impl.deserialization_error]}: {exc}") from exc
    assert not truncated, f"a frame truncated to {len(corrupt)} of {len(frame_bytes)} bytes loaded"
