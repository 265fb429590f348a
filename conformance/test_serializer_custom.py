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


class Mark:
    """A second importable class with a custom serializer: registrations are per class."""

    def __init__(self, label, via=None):
        self.label = label
        self.via = via


def mark_to_payload(m):
    """The custom serializer of :class:`Mark`."""
    return ("mark", m.label)


def mark_from_payload(payload):
    """The custom deserializer of :class:`Mark`: marks what it rebuilds with ``via="custom"``."""
    return Mark(payload[1], via="custom")


#: How many plain items come before the registered instances in the long value of the register clause.
LONG = 300


@clause("serializer.custom.register", "custom_serializers")
def test_serializer_custom_register(impl):
    """Clause serializer.custom.register: after ``register_serializer(cls, serializer=s, deserializer=d)`` an
    instance of ``cls`` comes back as ``d(s(obj))``, also after hundreds of plain items; a lock inside it no
    longer matters when ``s`` drops it; and two references to one instance come back as two references to
    one rebuilt object (``[p, p]``: sharing is kept as for any reduced object)."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_custom import Point, point_from_payload, point_to_payload",
              "impl.serializer.register_serializer(Point, serializer=point_to_payload,",
              "                                    deserializer=point_from_payload)",
              "out = roundtrip(impl, [Point(3)] * 2, protocol=5)",
              "out[0].via, out[0] is out[1]  # 'custom', True")
    ser.register_serializer(Point, serializer=point_to_payload, deserializer=point_from_payload)
    try:
        p = Point(3)
        p.lock = threading.Lock()
        for label, value, first in (("[p, p]", [p, p], 0), (f"{LONG} ints, then [p, p]", [*range(LONG), p, p], LONG)):
            out = roundtrip(impl, value, protocol=max(impl.protocols))
            got = out[first:first + 2]
            assert type(got[0]) is Point and got[0].x == 3, f"{label}: got {got!r}"
            assert got[0].via == "custom", f"{label}: the registered serializer was not used"
            assert got[1] is got[0], (f"{label}: two references to one instance came back as two objects "
                                      f"(the custom serializer's result lost its sharing)")
    finally:
        ser.deregister_serializer(Point)


@clause("serializer.custom.deregister", "custom_serializers")
def test_serializer_custom_deregister(impl):
    """Clause serializer.custom.deregister: after ``deregister_serializer(cls)`` instances of ``cls`` are
    serialized the ordinary way again, and another class's registration stays as it was."""
    from conformance.harness import roundtrip

    ser = impl.serializer
    reproduce(impl, "from conformance.test_serializer_custom import Point, point_from_payload, point_to_payload",
              "impl.serializer.register_serializer(Point, serializer=point_to_payload,",
              "                                    deserializer=point_from_payload)",
              "impl.serializer.deregister_serializer(Point)",
              "roundtrip(impl, Point(3), protocol=5).via  # None")
    ser.register_serializer(Point, serializer=point_to_payload, deserializer=point_from_payload)
    ser.register_serializer(Mark, serializer=mark_to_payload, deserializer=mark_from_payload)
    try:
        before = roundtrip(impl, Mark("m"), protocol=max(impl.protocols)).via  # (the register clause checks it)
        ser.deregister_serializer(Point)
        out = roundtrip(impl, [Point(3), Mark("m")], protocol=max(impl.protocols))
        assert type(out[0]) is Point and out[0].x == 3
        assert out[0].via is None, "the deregistered serializer was still used"
        assert type(out[1]) is Mark and out[1].via == before, (
            f"deregistering Point changed how Mark, another class, serializes (via {before!r} before, "
            f"{out[1].via!r} after): its custom serializer was dropped too")
    finally:
        ser.deregister_serializer(Mark)
