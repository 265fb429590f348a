"""Serializer clauses: unserializable values fail with the declared error, inspection finds every culprit,
corrupt frames fail with the declared error, custom serializers register and deregister."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import frame_buffer, reproduce


@clause("serializer.errors.unserializable")
@given(case=strategies.unserializable_nestings())
def test_unserializable_raises(impl, case):
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


@clause("serializer.inspect.culprits", "inspect")
@given(case=strategies.unserializable_nestings())
def test_inspect_finds_every_culprit(impl, case):
    """Clause serializer.inspect.culprits: ``inspect(value, name="value")`` says the value does not serialize
    and reports each unserializable object inside it exactly once, with a path that evaluates to it."""
    value, culprits = case
    reproduce(impl, f"value = {value!r}", "ok, failures = impl.serializer.inspect(value, name='value')",
              "[(f.path, f.obj) for f in failures]")
    ok, failures = impl.serializer.inspect(value, name="value")
    assert not ok, "inspect says a value holding a lock serializes"
    found = {}
    for f in failures:
        target = eval(f.path, {"value": value})  # noqa: S307 - paths are the contract under test
        assert target is f.obj, f"path {f.path!r} evaluates to {target!r}, not to the culprit {f.obj!r}"
        found[id(f.obj)] = f.path
    expected = {id(c) for c in culprits}
    missing = [c for c in culprits if id(c) not in found]
    assert not missing, f"inspect missed {missing!r}; it found {sorted(found.values())}"
    extra = [p for i, p in found.items() if i not in expected]
    assert not extra, f"inspect blamed objects that serialize: {extra}"
    assert len(failures) == len(found), "inspect reported a culprit more than once"


def _corruptions(frame_bytes):
    n = len(frame_bytes)
    return st.one_of(
        st.integers(0, n - 1).map(lambda k: frame_bytes[:k]),                     # truncated
        st.binary(min_size=0, max_size=64),                                        # foreign bytes
        st.tuples(st.integers(0, min(n, 64) - 1), st.integers(1, 255)).map(        # a header byte flipped
            lambda t: frame_bytes[:t[0]] + bytes([frame_bytes[t[0]] ^ t[1]]) + frame_bytes[t[0] + 1:]),
    )


@clause("serializer.errors.corrupt")
@given(data=st.data())
def test_corrupt_frames_raise(impl, data):
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


class Point:
    """An importable class for the custom serializer clauses."""

    def __init__(self, x, via=None):
        self.x = x
        self.via = via


def _to_payload(p):
    return ("point", p.x)


def _from_payload(payload):
    return Point(payload[1], via="custom")


@clause("serializer.custom.register", "custom_serializers")
def test_custom_serializer_register(impl):
    """Clause serializer.custom.register: after ``register_serializer(cls, serializer=s, deserializer=d)`` an
    instance of ``cls`` comes back as ``d(s(obj))``, and a lock inside it no longer matters when ``s`` drops
    it."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_errors import Point, _to_payload, _from_payload",
              "impl.serializer.register_serializer(Point, serializer=_to_payload, deserializer=_from_payload)",
              "roundtrip(impl, [Point(3)], protocol=5)[0].via  # 'custom'")
    ser.register_serializer(Point, serializer=_to_payload, deserializer=_from_payload)
    try:
        p = Point(3)
        p.lock = threading.Lock()
        out = roundtrip(impl, [p, p], protocol=max(impl.protocols))
        assert type(out[0]) is Point and out[0].x == 3, f"got {out!r}"
        assert out[0].via == "custom", "the registered serializer was not used"
    finally:
        ser.deregister_serializer(Point)


@clause("serializer.custom.deregister", "custom_serializers")
def test_custom_serializer_deregister(impl):
    """Clause serializer.custom.deregister: after ``deregister_serializer(cls)`` instances of ``cls`` are
    serialized the ordinary way again."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_errors import Point, _to_payload, _from_payload",
              "impl.serializer.register_serializer(Point, serializer=_to_payload, deserializer=_from_payload)",
              "impl.serializer.deregister_serializer(Point)",
              "roundtrip(impl, Point(3), protocol=5).via  # None")
    ser.register_serializer(Point, serializer=_to_payload, deserializer=_from_payload)
    ser.deregister_serializer(Point)
    out = roundtrip(impl, Point(3), protocol=max(impl.protocols))
    assert type(out) is Point and out.x == 3
    assert out.via is None, "the deregistered serializer was still used"
