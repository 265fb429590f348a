"""Serializer clauses ``serializer.numpy.*``: numpy arrays round-trip bit for bit, byte order included
when claimed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import numpy_strategies, strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce, roundtrip


def _array_repr(a):

    return f"np.array({a.tolist()!r}, dtype={a.dtype.descr if a.dtype.fields else a.dtype.str!r})" + (
        "  # plus the layout in the falsifying example" if a.ndim > 1 else "") if a.size < 50 else repr(a)


@clause("serializer.numpy.roundtrip", "numpy")
@pytest.mark.parametrize("kind", strategies.DTYPE_KINDS)
@given(data=st.data())
def test_serializer_numpy_roundtrip(impl, kind, data):
    """Clause serializer.numpy.roundtrip: arrays of every dtype (datetime, structured, big-endian and object
    too), shape (0-d, empty), order (C, F) and stride pattern come back with the same dtype (byte order
    aside: numpy's pickling makes in-band arrays native; see serializer.numpy.byte_order), shape and
    values bit for bit, at the highest protocol."""
    array = data.draw(strategies.numpy_arrays(kinds=[kind]), label="array")
    protocol = max(impl.protocols)
    reproduce(impl, "import numpy as np", f"array = {_array_repr(array)}",
              f"out = roundtrip(impl, array, protocol={protocol})")
    assert_same(array, roundtrip(impl, array, protocol=protocol))


@clause("serializer.numpy.byte_order", "numpy", "numpy_byte_order")
@given(array=strategies.numpy_arrays(kinds=["int", "uint", "float", "complex", "datetime", "timedelta",
                                            "str", "structured"]).filter(
    lambda a: a.dtype.byteorder == ">" or bool(a.dtype.fields)),
       data=st.data())
def test_serializer_numpy_byte_order(impl, array, data):
    """Clause serializer.numpy.byte_order: a big-endian array (and a structured one with big-endian fields)
    comes back with exactly the same dtype, byte order included, and the same bytes, at every claimed
    protocol."""
    # Only the claimed protocols are drawn: a skip inside @given would abandon the whole clause.
    protocol = data.draw(st.sampled_from(sorted(impl.protocols)), label="protocol")
    reproduce(impl, "import numpy as np", f"array = {_array_repr(array)}",
              f"out = roundtrip(impl, array, protocol={protocol})", "out.dtype.str, out.tobytes() == array.tobytes()")
    out = roundtrip(impl, array, protocol=protocol)
    assert out.dtype == array.dtype and out.dtype.descr == array.dtype.descr, (
        f"dtype {out.dtype.descr} came back for {array.dtype.descr}")
    assert out.tobytes() == array.tobytes(), "the bytes differ"


@clause("serializer.numpy.shared_members", "numpy", "recursive")
@given(value=strategies.shared_member_arrays())
def test_serializer_numpy_shared_members(impl, value):
    """Clause serializer.numpy.shared_members: an object array (0-d too, C or Fortran order) whose elements
    share mutable members comes back with the members shared as before, also with the members or the array
    itself referenced again beside it, at the highest protocol."""
    protocol = max(impl.protocols)
    reproduce(impl, "import numpy as np",
              "shared = [1]; a = np.empty(3, dtype=object); a[:] = [shared, shared, 2]",
              "value = [a, shared]  # or the falsifying example's",
              f"out = roundtrip(impl, value, protocol={protocol})")
    assert_same(value, roundtrip(impl, value, protocol=protocol))


@clause("serializer.numpy.scalars", "numpy")
@given(data=st.data())
def test_serializer_numpy_scalars(impl, data):
    """Clause serializer.numpy.scalars: numpy scalars (``np.bool_``, every integer, float and complex size,
    nans with payloads, ``datetime64``/``timedelta64``, ``np.bytes_``, ``np.str_``, ``np.void`` of a
    structured dtype), alone or among Python scalars in a list, come back as the same numpy type with the
    same dtype and bytes (``np.float32(1.5)`` is not ``1.5``), at every claimed protocol."""
    scalar = data.draw(numpy_strategies.numpy_scalars(), label="scalar")
    value = scalar if data.draw(st.booleans(), label="alone") else [1.5, scalar, 7, scalar.item() if
                                                                     scalar.dtype.kind in "biuf" else None]
    protocol = data.draw(st.sampled_from(sorted(impl.protocols)), label="protocol")
    reproduce(impl, "import numpy as np", f"value = {value!r}", f"out = roundtrip(impl, value, protocol={protocol})",
              "type(out), out")
    assert_same(value, roundtrip(impl, value, protocol=protocol), check_identity=False)


@clause("serializer.numpy.dtypes", "numpy")
@given(data=st.data())
def test_serializer_numpy_dtypes(impl, data):
    """Clause serializer.numpy.dtypes: arrays of structured dtypes laid out with gaps (explicit field offsets,
    an itemsize larger than the fields, ``align=True``), nested, and of dtypes carrying ``metadata`` (the
    dtype's and its fields'), come back with the same dtype: offsets, itemsize, aligned flag and metadata
    included, not rebuilt packed or plain, with the same field values bit for bit, at every claimed
    protocol."""
    array = data.draw(numpy_strategies.layout_arrays(), label="array")
    protocol = data.draw(st.sampled_from(sorted(impl.protocols)), label="protocol")
    reproduce(impl, "import numpy as np", f"dtype = {_dtype_repr(array.dtype)}",
              f"array = np.zeros({array.shape}, dtype=dtype)  # the example's bytes aside",
              f"out = roundtrip(impl, array, protocol={protocol})", "out.dtype, out.dtype.metadata")
    assert_same(array, roundtrip(impl, array, protocol=protocol))


@clause("serializer.numpy.subclasses", "numpy")
@given(data=st.data())
def test_serializer_numpy_subclasses(impl, data):
    """Clause serializer.numpy.subclasses: instances of numpy's ndarray subclasses (masked arrays with their
    mask and fill value, record arrays) come back as the same subclass, not as a plain ``ndarray``, with
    the same dtype, shape and bits, at every claimed protocol."""
    array = data.draw(numpy_strategies.ndarray_subclasses(), label="array")
    protocol = data.draw(st.sampled_from(sorted(impl.protocols)), label="protocol")
    reproduce(impl, "import numpy as np", f"array = {array!r}  # (see the falsifying example)",
              f"out = roundtrip(impl, array, protocol={protocol})", "type(out)")
    assert_same(array, roundtrip(impl, array, protocol=protocol))


def _dtype_repr(dtype):
    """A Python expression for ``dtype`` that keeps offsets, itemsize, the aligned flag and metadata (numpy's
    repr shows no metadata)."""
    if dtype.names is None:
        body = repr(dtype.str)
    else:
        formats = ", ".join(_dtype_repr(dtype.fields[n][0]) for n in dtype.names)
        body = (f"{{'names': {list(dtype.names)!r}, 'formats': [{formats}], "
                f"'offsets': {[dtype.fields[n][1] for n in dtype.names]!r}, 'itemsize': {dtype.itemsize}}}")
        if dtype.isalignedstruct:
            body += ", align=True"
    if dtype.metadata:
        body += f", metadata={dict(dtype.metadata)!r}"
    return f"np.dtype({body})"
