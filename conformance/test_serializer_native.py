"""Serializer clauses ``serializer.native.*``: native values round-trip exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

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


@clause("serializer.native.subclasses")
@given(value=strategies.builtin_subclass_values())
def test_serializer_native_subclasses(impl, value):
    """Clause serializer.native.subclasses: instances of importable subclasses of ``int``, ``str``,
    ``bytes``, ``tuple``, ``list``, ``dict`` and ``set`` (an instance attribute too), and members of
    importable enums with custom values (``Enum``, ``IntEnum``, ``Flag``), nested in one another, come back
    as instances of the same subclass or the same member, with the same contents, at the highest
    protocol."""
    protocol = max(impl.protocols)
    reproduce(impl, "from conformance.specimens import *  # the subclasses and enums", f"value = {value!r}",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)


@clause("serializer.native.mixed")
@given(data=st.data())
def test_serializer_native_mixed(impl, data):
    """Clause serializer.native.mixed: every kind of value (scalars, enum members, builtin-subclass
    instances and, when ``numpy`` is claimed, arrays of every dtype and layout) inside every kind of
    container (list, tuple, dict with enum keys too, set, frozenset, builtin subclasses), nested, comes back
    with the same types and bits at the highest protocol."""
    value = data.draw(strategies.mixed_values(numpy=impl.claims("numpy")), label="value")
    protocol = max(impl.protocols)
    reproduce(impl, "import numpy as np", "from conformance.specimens import *  # the subclasses and enums",
              f"value = {value!r}", f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)


@clause("serializer.native.deep")
@given(case=strategies.deep_values())
def test_serializer_native_deep(impl, case):
    """Clause serializer.native.deep: a value nested 50 to 200 levels deep in lists, tuples and dicts (legal:
    well within pickle's and CPython's default recursion limits) serializes and comes back the same, at the
    highest protocol."""
    value, depth = case
    protocol = max(impl.protocols)
    reproduce(impl, f"value = None\nfor _ in range({depth}):\n    value = [value]  # or the drawn mix of "
                    f"lists, tuples and dicts", f"out = roundtrip(impl, value, protocol={protocol})")
    try:
        out = roundtrip(impl, value, protocol=protocol)
    except Exception as exc:  # noqa: BLE001 - any failure on a legal value fails the clause
        raise AssertionError(f"a value nested {depth} levels deep failed to round-trip: "
                             f"{type(exc).__name__}: {exc}") from exc
    assert_same(value, out, check_identity=False)
