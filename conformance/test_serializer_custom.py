"""Serializer clauses ``serializer.custom.*``: custom serializers register and deregister."""

from __future__ import annotations

import threading

from conformance.clauses import clause
from conformance.harness import reproduce


class Point:
    """An importable class for the custom serializer clauses."""

    def __init__(self, x, via=None):
        self.x = x
        self.via = via


def point_to_payload(p):
    """The custom serializer of :class:`Point`: a plain tuple."""
    return ("point", p.x)


def point_from_payload(payload):
    """The custom deserializer of :class:`Point`: marks what it rebuilds with ``via="custom"``."""
    return Point(payload[1], via="custom")


@clause("serializer.custom.register", "custom_serializers")
def test_serializer_custom_register(impl):
    """Clause serializer.custom.register: after ``register_serializer(cls, serializer=s, deserializer=d)`` an
    instance of ``cls`` comes back as ``d(s(obj))``, and a lock inside it no longer matters when ``s`` drops
    it."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_custom import Point, point_from_payload, point_to_payload",
              "impl.serializer.register_serializer(Point, serializer=point_to_payload,",
              "                                    deserializer=point_from_payload)",
              "roundtrip(impl, [Point(3)], protocol=5)[0].via  # 'custom'")
    ser.register_serializer(Point, serializer=point_to_payload, deserializer=point_from_payload)
    try:
        p = Point(3)
        p.lock = threading.Lock()
        out = roundtrip(impl, [p, p], protocol=max(impl.protocols))
        assert type(out[0]) is Point and out[0].x == 3, f"got {out!r}"
        assert out[0].via == "custom", "the registered serializer was not used"
    finally:
        ser.deregister_serializer(Point)


@clause("serializer.custom.deregister", "custom_serializers")
def test_serializer_custom_deregister(impl):
    """Clause serializer.custom.deregister: after ``deregister_serializer(cls)`` instances of ``cls`` are
    serialized the ordinary way again."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_custom import Point, point_from_payload, point_to_payload",
              "impl.serializer.register_serializer(Point, serializer=point_to_payload,",
              "                                    deserializer=point_from_payload)",
              "impl.serializer.deregister_serializer(Point)",
              "roundtrip(impl, Point(3), protocol=5).via  # None")
    ser.register_serializer(Point, serializer=point_to_payload, deserializer=point_from_payload)
    ser.deregister_serializer(Point)
    out = roundtrip(impl, Point(3), protocol=max(impl.protocols))
    assert type(out) is Point and out.x == 3
    assert out.via is None, "the deregistered serializer was still used"
