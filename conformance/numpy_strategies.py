"""Hypothesis strategies for the numpy values a serializer gets wrong quietly: numpy scalars, structured
dtypes laid out with gaps, dtype metadata, and ndarray subclasses. Public and typed, like
:mod:`conformance.strategies` (whose float strategies and arrays draw nans with payloads).

numpy itself pickles all of these exactly (a nan's payload, ``np.float32``, offsets and itemsize, metadata,
a masked array's mask and fill value), so a serializer that loses one has a defect of its own: a fast path
that turns a numpy scalar into a Python one, an array rebuilt from ``descr`` (which packs the fields), a
by-hand dtype encoding that drops metadata, ``np.asarray`` on the way in.
"""

from __future__ import annotations

from typing import Any, Dict, List

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from conformance.strategies import _check_positive, array_dtypes, numpy_arrays, plant_nans

__all__ = [
    "dtype_layouts",
    "layout_arrays",
    "ndarray_subclasses",
    "numpy_scalars",
]

_SCALAR_KINDS = ("bool", "int", "uint", "float", "complex", "datetime", "timedelta", "bytes", "str",
                 "structured")


@st.composite
def _numpy_scalar(draw: Any) -> Any:
    from hypothesis.extra import numpy as hnp

    kind = draw(st.sampled_from(_SCALAR_KINDS))
    dtype = draw(array_dtypes(kinds=[kind]) if kind != "structured" else dtype_layouts())
    zero_d = draw(hnp.arrays(dtype, ()))
    if kind in ("float", "complex") and draw(st.booleans()):
        zero_d = plant_nans(draw, zero_d)
    return zero_d[()]


def numpy_scalars() -> SearchStrategy[Any]:
    """Returns a strategy for generating numpy scalars: ``np.bool_``, every integer, float and complex size
    (nans with payloads too), ``datetime64`` and ``timedelta64`` in every unit, ``np.bytes_``, ``np.str_``
    and ``np.void`` of a structured dtype (laid out as :func:`dtype_layouts` draws). Each must come back as
    the same numpy type with the same dtype and bytes, not as a Python scalar. Shrinks towards
    ``np.False_``."""
    return _numpy_scalar()


def _metadata() -> SearchStrategy[Dict[str, Any]]:
    return st.dictionaries(st.sampled_from(["unit", "source", "scale"]),
                           st.one_of(st.integers(-9, 9), st.text(max_size=4)), min_size=1, max_size=2)


@st.composite
def _field_dtype(draw: Any, depth: int) -> Any:
    import numpy as np
    from hypothesis.extra import numpy as hnp

    if depth > 0 and draw(st.integers(0, 4)) == 0:
        dtype = draw(_layout(depth - 1))
    else:
        dtype = draw(st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="?"),
                               hnp.floating_dtypes(endianness="?"), hnp.complex_number_dtypes(endianness="?"),
                               hnp.byte_string_dtypes(endianness="?", max_len=5),
                               hnp.datetime64_dtypes(endianness="?")))
    if draw(st.integers(0, 3)) == 0:
        dtype = np.dtype(dtype, metadata=draw(_metadata()))
    return dtype


@st.composite
def _layout(draw: Any, depth: int) -> Any:
    import numpy as np

    n = draw(st.integers(1, 4))
    names = [f"f{i}" for i in range(n)]
    formats = [draw(_field_dtype(depth)) for _ in range(n)]
    how = draw(st.sampled_from(["offsets", "aligned", "itemsize"]))
    if how == "aligned":
        dtype = np.dtype(list(zip(names, formats)), align=True)
    else:
        offsets: List[int] = []
        end = 0
        for fmt in formats:
            end += draw(st.integers(0, 8)) if how == "offsets" else 0
            offsets.append(end)
            end += fmt.itemsize
        extra = draw(st.integers(1 if how == "itemsize" or end == sum(f.itemsize for f in formats) else 0, 16))
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": end + extra})
    if draw(st.integers(0, 3)) == 0:
        dtype = np.dtype(dtype, metadata=draw(_metadata()))
    return dtype


def dtype_layouts(*, max_depth: int = 1) -> SearchStrategy[Any]:
    """Returns a strategy for generating structured dtypes whose layout is not the packed one: explicit
    field offsets with gaps, an itemsize larger than the fields need, or ``align=True`` (C struct padding
    and the aligned flag), fields of any byte order, nested up to ``max_depth`` levels, with ``metadata`` on
    some field dtypes and on the dtype itself. ``==`` of dtypes compares offsets and itemsize but not
    metadata or the aligned flag: :func:`conformance.compare.assert_same` checks all four. Shrinks towards
    one ``bool`` field at offset 0 in a two-byte record."""
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 0:
        raise InvalidArgument(f"max_depth={max_depth!r} must be a non-negative integer; pass max_depth=0 or more")
    return _layout(max_depth)


@st.composite
def _layout_array(draw: Any, max_side: int) -> Any:
    import numpy as np
    from hypothesis.extra import numpy as hnp

    if draw(st.booleans()):
        dtype = draw(dtype_layouts())
    else:  # a plain dtype with metadata
        dtype = np.dtype(draw(st.one_of(hnp.integer_dtypes(endianness="?"), hnp.floating_dtypes(endianness="?"),
                                        hnp.datetime64_dtypes(endianness="?"))), metadata=draw(_metadata()))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=max_side))
    count = int(np.prod(shape))
    # Random bytes, padding included: numpy pickles an array's items whole, gaps and all.
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if array.ndim and draw(st.booleans()):
        array = array[::-1]
    return array


def layout_arrays(*, max_side: int = 4) -> SearchStrategy[Any]:
    """Returns a strategy for generating arrays of :func:`dtype_layouts` dtypes, or of plain dtypes with
    ``metadata``, 0 to 2 dimensions with sides up to ``max_side``, filled with random bytes (a structured
    dtype's padding too), C-contiguous or reversed. Shrinks towards a 0-d array of zero bytes."""
    _check_positive("max_side", max_side)
    return _layout_array(max_side)


@st.composite
def _subclass_array(draw: Any, max_side: int) -> Any:
    import numpy as np
    from hypothesis.extra import numpy as hnp

    kind = draw(st.sampled_from(["masked", "record"]))
    if kind == "record":
        base = draw(st.one_of(numpy_arrays(max_side=max_side, kinds=["structured"]), layout_arrays(max_side=max_side)
                              .filter(lambda a: a.dtype.names is not None)))
        return base.view(np.recarray)
    data = draw(numpy_arrays(max_side=max_side, kinds=["bool", "int", "uint", "float", "complex"]))
    mask = draw(hnp.arrays(np.bool_, data.shape))
    masked = np.ma.masked_array(data, mask=mask)
    # Always a fill value of the array's own dtype: numpy's default (1e20, 999999) overflows small dtypes
    # when a masked array is unpickled, with a RuntimeWarning.
    masked.fill_value = draw(hnp.arrays(data.dtype.newbyteorder("="), ()))[()]
    return masked


def ndarray_subclasses(*, max_side: int = 4) -> SearchStrategy[Any]:
    """Returns a strategy for generating instances of numpy's own ndarray subclasses: masked arrays (a drawn
    mask and fill value; bool, int, float and complex of either byte order, every layout of
    :func:`conformance.strategies.numpy_arrays`) and record arrays (``np.recarray`` over structured arrays,
    laid out with gaps too). Each must come back as the same subclass, not as a plain ``ndarray``. Shrinks
    towards a 0-d masked ``bool`` array."""
    _check_positive("max_side", max_side)
    return _subclass_array(max_side)
