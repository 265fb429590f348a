"""Serializer clauses ``serializer.protocols.*``: every claimed pickle protocol round-trips, and the
stdlib loads what the implementation writes.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce, roundtrip

#: One item per protocol; the plugin skips ("not claimed") the item of a protocol the implementation does
#: not claim, before the test runs (never inside ``@given``).
PROTOCOLS = [pytest.param(p, id=f"protocol{p}", marks=pytest.mark.protocol(p)) for p in (3, 4, 5)]


@clause("serializer.protocols.roundtrip")
@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(value=strategies.native_values(max_leaves=10))
def test_serializer_protocols_roundtrip(impl, protocol, value):
    """Clause serializer.protocols.roundtrip: at each claimed protocol (3, 4, 5) the in-band part is a pickle
    of that protocol (it opens with PROTO n) and native values round-trip exactly."""
    reproduce(impl, f"value = {value!r}", f"frame = impl.serializer.serialize(value, protocol={protocol})",
              "frame.inband[:2]", f"roundtrip(impl, value, protocol={protocol})")
    frame = impl.serializer.serialize(value, protocol=protocol)
    head = bytes(frame.inband[:2])
    assert head == bytes([0x80, protocol]), (
        f"asked for protocol {protocol}, the in-band pickle opens with {head!r}")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)


@clause("serializer.protocols.stdlib_loads")
@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(value=strategies.native_values(max_leaves=10))
def test_serializer_protocols_stdlib_loads(impl, protocol, value):
    """Clause serializer.protocols.stdlib_loads: the in-band part and buffers load with the stdlib's
    ``pickle.loads(inband, buffers=buffers)`` and give the value back."""
    reproduce(impl, f"value = {value!r}", f"frame = impl.serializer.serialize(value, protocol={protocol})",
              "import pickle; pickle.loads(frame.inband, buffers=frame.buffers)")
    frame = impl.serializer.serialize(value, protocol=protocol)
    kwargs = {"buffers": list(frame.buffers)} if protocol >= 5 else {}
    assert_same(value, pickle.loads(bytes(frame.inband), **kwargs), check_identity=False)
