"""Serializer clauses ``serializer.native.*``: native values round-trip exactly."""

from __future__ import annotations

from hypothesis import given

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce, roundtrip


@clause("serializer.native.roundtrip")
@given(value=strategies.native_values())
def test_serializer_native_roundtrip(impl, value):
    """Clause serializer.native.roundtrip: every generated native value (None, bool, int of any size,
    float with nan, -0.0 and inf, complex, str with lone surrogates, bytes, bytearray, tuple, list, dict,
    set, frozenset, nested) comes back with the same types and the same bits, at the highest protocol."""
    protocol = max(impl.protocols)
    reproduce(impl, f"value = {value!r}", f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)
