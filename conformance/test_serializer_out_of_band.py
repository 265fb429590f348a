"""Serializer clauses ``serializer.out_of_band.*``: at protocol 5 buffers leave the in-band pickle, are
read back zero-copy, and read-only frames give read-only arrays.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import frame_buffer, reproduce, shares_memory


@clause("serializer.out_of_band.inband_size", "out_of_band")
@pytest.mark.protocol(5)
@given(dtype=st.sampled_from(["u1", "<f8", ">i4", "c8"]), order=st.sampled_from("CF"))
def test_serializer_out_of_band_inband_size(impl, dtype, order):
    """Clause serializer.out_of_band.inband_size: at protocol 5 the in-band size of a contiguous array (C or
    F order) does not grow with the array: a 4 MiB array's in-band part is no larger than a 4 KiB one's."""
    import numpy as np

    small = np.zeros((32, 4096 // 32 // np.dtype(dtype).itemsize), dtype=dtype, order=order)
    big = np.zeros((32, (4 << 20) // 32 // np.dtype(dtype).itemsize), dtype=dtype, order=order)
    reproduce(impl, "import numpy as np",
              f"small = np.zeros({small.shape}, dtype={dtype!r}, order={order!r})",
              f"big = np.zeros({big.shape}, dtype={dtype!r}, order={order!r})",
              "[len(impl.serializer.serialize(a, protocol=5).inband) for a in (small, big)]")
    n_small = len(impl.serializer.serialize(small, protocol=5).inband)
    n_big = len(impl.serializer.serialize(big, protocol=5).inband)
    assert n_big <= n_small + 16, (
        f"the in-band part grew from {n_small} bytes (4 KiB array) to {n_big} bytes (4 MiB array): "
        f"the buffer did not go out-of-band")


@clause("serializer.out_of_band.zero_copy", "zero_copy")
@pytest.mark.protocol(5)
@given(dtype=st.sampled_from(["u1", "<f8", ">i4", "c8", "?"]), n=st.integers(1, 5000),
       order=st.sampled_from("CF"), readonly=st.booleans())
def test_serializer_out_of_band_zero_copy(impl, dtype, n, order, readonly):
    """Clause serializer.out_of_band.zero_copy: at protocol 5 a numeric array (bool, int, float, complex, any
    byte order) deserialized from a frame shares memory with the frame (no copy), for writable and
    read-only frames alike. (numpy itself pickles datetime and object arrays in-band.)"""
    import numpy as np

    array = np.ones((n, 3), dtype=dtype, order=order)
    reproduce(impl, "import numpy as np", f"array = np.ones(({n}, 3), dtype={dtype!r}, order={order!r})",
              f"view, backing = frame_buffer(impl.serializer.serialize(array, protocol=5), readonly={readonly})",
              "out = impl.serializer.deserialize(view)", "np.shares_memory(out, backing)")
    view, backing = frame_buffer(impl.serializer.serialize(array, protocol=5), readonly=readonly)
    out = impl.serializer.deserialize(view)
    assert_same(array, out)
    assert shares_memory(out, backing), "the deserialized array is a copy, not a view of the frame"


@clause("serializer.out_of_band.read_only", "read_only")
@pytest.mark.protocol(5)
@given(dtype=st.sampled_from(["u1", "<f8", ">i4", "c8"]), n=st.integers(1, 5000), order=st.sampled_from("CF"))
def test_serializer_out_of_band_read_only(impl, dtype, n, order):
    """Clause serializer.out_of_band.read_only: at protocol 5 a read-only frame gives a read-only array, and
    writing to it raises (ValueError) instead of changing the frame."""
    import numpy as np

    array = np.ones((n, 3), dtype=dtype, order=order)
    reproduce(impl, "import numpy as np", f"array = np.ones(({n}, 3), dtype={dtype!r}, order={order!r})",
              "view, backing = frame_buffer(impl.serializer.serialize(array, protocol=5), readonly=True)",
              "out = impl.serializer.deserialize(view)", "out.flags.writeable, out.__setitem__(0, 0)")
    view, backing = frame_buffer(impl.serializer.serialize(array, protocol=5), readonly=True)
    before = bytes(backing)
    out = impl.serializer.deserialize(view)
    assert not out.flags.writeable, "an array read from a read-only frame is writeable"
    with pytest.raises(ValueError):
        out[0] = 0
    assert bytes(backing) == before, "the read-only frame changed"
