"""Serializer clauses ``serializer.identity.*``: shared references and cycles keep their identity
structure.
"""

from __future__ import annotations

from hypothesis import given

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce, roundtrip


@clause("serializer.identity.shared", "recursive")
@given(value=strategies.shared_structures(cycles=False))
def test_serializer_identity_shared(impl, value):
    """Clause serializer.identity.shared: two references to one mutable object come back as two references
    to one object, and distinct objects stay distinct."""
    protocol = max(impl.protocols)
    reproduce(impl, "# value: lists and dicts sharing children (see the falsifying example)",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol))


@clause("serializer.identity.recursive", "recursive")
@given(value=strategies.shared_structures(cycles=True))
def test_serializer_identity_recursive(impl, value):
    """Clause serializer.identity.recursive: lists and dicts that contain themselves, directly or through
    others, come back with the same cycles."""
    protocol = max(impl.protocols)
    reproduce(impl, "value = []; value.append(value)  # or the falsifying example's structure",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol))
