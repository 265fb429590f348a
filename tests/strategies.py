"""Hypothesis strategies shared by the project's own tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2 ** 4000), max_value=2 ** 4000),  # huge ints
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, float("nan"), float("inf"), float("-inf")]),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),  # lone surrogates
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
)
_hashables = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.binary(max_size=8),
                       st.floats(allow_nan=False))


def native_values() -> st.SearchStrategy[Any]:
    """Returns a strategy for generating nested native values: every scalar type pickle knows, in lists,
    tuples, dicts, sets and frozensets. Shrinks towards ``None`` and flat values."""
    return st.recursive(
        _scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(_hashables, children, max_size=4),
            st.frozensets(_hashables, max_size=4),
            st.sets(_hashables, max_size=4),
        ),
        max_leaves=20,
    )


def same_value(a: Any, b: Any) -> bool:
    """Equality that also holds for nan, tells -0.0 from 0.0 and compares types exactly."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same_value(a.real, b.real) and same_value(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same_value(ka, kb) and same_value(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, (set, frozenset)):
        # nan is not equal to itself, so sets holding it are compared by their printed forms
        return a == b or sorted(map(repr, a)) == sorted(map(repr, b))
    return a == b


_dtypes = st.one_of(
    npst.boolean_dtypes(),
    npst.integer_dtypes(endianness="="),
    npst.integer_dtypes(endianness=">"),
    npst.unsigned_integer_dtypes(endianness="<"),
    npst.floating_dtypes(endianness="="),
    npst.floating_dtypes(endianness=">"),
    npst.complex_number_dtypes(),
    npst.datetime64_dtypes(),
    npst.timedelta64_dtypes(),
    npst.byte_string_dtypes(max_len=5),
    npst.unicode_string_dtypes(max_len=5),
    npst.array_dtypes(max_size=3),  # structured
)


@st.composite
def arrays(draw: st.DrawFn, *, with_object: bool = True) -> np.ndarray:
    """Returns a strategy for generating numpy arrays of every dtype (object too), 0-d and empty shapes,
    C or Fortran order and strided (sliced, transposed) views."""
    if with_object and draw(st.integers(0, 9)) == 0:
        items = draw(st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=6))
        base = np.empty(len(items), dtype=object)
        base[:] = items
        return base
    dtype = draw(_dtypes)
    shape = draw(npst.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    base = draw(npst.arrays(dtype, shape))
    layout = draw(st.sampled_from(["C", "F", "strided", "transposed"]))
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "transposed":
        return base.T
    if layout == "strided" and base.ndim:
        step = draw(st.integers(1, 3))
        return base[(slice(None, None, step),) * base.ndim]
    return base


def assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit for bit: dtype (byte order included), shape, and every element's bytes."""
    assert b.dtype == a.dtype and b.dtype.str == a.dtype.str, (a.dtype, b.dtype)
    assert b.shape == a.shape
    if a.dtype.hasobject:
        assert a.tolist() == b.tolist()
    else:
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
