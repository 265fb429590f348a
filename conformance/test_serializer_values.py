"""Serializer clauses: native values round-trip exactly; identity structure survives."""

from __future__ import annotations

from hypothesis import given

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import reproduce, roundtrip
from conformance.compare import assert_same


@clause("serializer.native.roundtrip")
@given(value=strategies.native_values())
def test_native_roundtrip(impl, value):
    """Clause serializer.native.roundtrip: every generated native value (None, bool, int of any size,
    float with nan, -0.0 and inf, complex, str with lone surrogates, bytes, bytearray, tuple, list, dict,
    set, frozenset, nested) comes back with the same types and the same bits, at the highest protocol."""
    protocol = max(impl.protocols)
    reproduce(impl, f"value = {value!r}", f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)


@clause("serializer.identity.shared", "recursive")
@given(value=strategies.shared_structures(cycles=False))
def test_shared_references(impl, value):
    """Clause serializer.identity.shared: two references to one mutable object come back as two references
    to one object, and distinct objects stay distinct."""
    protocol = max(impl.protocols)
    reproduce(impl, "# value: lists and dicts sharing children (see the falsifying example)",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol))


@clause("serializer.identity.recursive", "recursive")
@given(value=strategies.shared_structures(cycles=True))
def test_recursive_objects(impl, value):
    """Clause serializer.identity.recursive: lists and dicts that contain themselves, directly or through
    others, come back with the same cycles."""
    protocol = max(impl.protocols)
    reproduce(impl, "value = []; value.append(value)  # or the falsifying example's structure",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol))
