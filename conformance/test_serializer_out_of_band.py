"""Serializer clauses ``serializer.out_of_band.*``: at protocol 5 buffers leave the in-band pickle, are
read back zero-copy, and read-only frames give read-only arrays.
"""

from __future__ import annotations

import pickle

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


#: Where :func:`test_serializer_out_of_band_zero_copy` puts its array: alone, or among hundreds of small
#: values in a list, tuple or dict (longer than any fast path that looks at a container's first items).
PLACES = ("alone", "long list", "long tuple", "long dict")


def place(array, where, fillers, position):
    """``(value, get)``: ``array`` placed ``where`` (see :data:`PLACES`) among ``fillers`` at ``position``,
    and a function that takes it back out of a value of that shape."""
    if where == "alone":
        return array, lambda v: v
    items = [*fillers[:position], array, *fillers[position:]]
    if where == "long dict":
        return {f"k{i}": v for i, v in enumerate(items)}, lambda v: v[f"k{position}"]
    return (items if where == "long list" else tuple(items)), lambda v: v[position]


@clause("serializer.out_of_band.zero_copy", "zero_copy")
@pytest.mark.protocol(5)
@given(dtype=st.sampled_from(["u1", "<f8", ">i4", "c8", "?"]), n=st.integers(1, 5000),
       order=st.sampled_from("CF"), readonly=st.booleans(), where=st.sampled_from(PLACES),
       pool=st.lists(st.one_of(st.integers(), st.none(), st.text(max_size=3), st.floats()), min_size=1,
                     max_size=3), length=st.integers(100, 400), data=st.data())
def test_serializer_out_of_band_zero_copy(impl, dtype, n, order, readonly, where, pool, length, data):
    """Clause serializer.out_of_band.zero_copy: at protocol 5 a numeric array (bool, int, float, complex, any
    byte order) deserialized from a frame shares memory with the frame (no copy), for writable and
    read-only frames alike, alone or among hundreds of small values in a list, tuple or dict. (numpy
    itself pickles datetime and object arrays in-band.)"""
    import numpy as np

    array = np.ones((n, 3), dtype=dtype, order=order)
    position = data.draw(st.integers(0, length), label="position")
    fillers = [pool[i % len(pool)] for i in range(length)]
    value, get = place(array, where, fillers, position)
    reproduce(impl, "import numpy as np", "from conformance.test_serializer_out_of_band import place",
              f"array = np.ones(({n}, 3), dtype={dtype!r}, order={order!r})",
              f"value, get = place(array, {where!r}, [{pool!r}[i % {len(pool)}] for i in range({length})], "
              f"{position})",
              f"view, backing = frame_buffer(impl.serializer.serialize(value, protocol=5), readonly={readonly})",
              "out = get(impl.serializer.deserialize(view))", "np.shares_memory(out, backing)")
    view, backing = frame_buffer(impl.serializer.serialize(value, protocol=5), readonly=readonly)
    out = get(impl.serializer.deserialize(view))
    assert_same(array, out)
    assert shares_memory(out, backing), f"the deserialized array ({where}) is a copy, not a view of the frame"


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


#: Sizes of the drawn buffers: equal sizes are common, so buffers given back in the wrong order show.
BUFFER_SIZES = (512, 1024, 4096)


@st.composite
def _buffer_items(draw, memoryviews):
    import numpy as np

    kinds = ["bytearray", "bytes", "array buffer", "array"] + (["memoryview"] if memoryviews else [])
    items = []
    for index in range(draw(st.integers(2, 4), label="count")):
        kind = draw(st.sampled_from(kinds))
        size = draw(st.sampled_from(BUFFER_SIZES))
        # Distinct per item (its index leads each 16-byte block), cheap to draw.
        raw = (bytes([index + 1]) + draw(st.binary(min_size=15, max_size=15))) * (size // 16)
        if kind == "bytearray":
            items.append(pickle.PickleBuffer(bytearray(raw)))
        elif kind == "bytes":
            items.append(pickle.PickleBuffer(raw))
        elif kind == "array buffer":
            items.append(pickle.PickleBuffer(np.frombuffer(bytearray(raw), dtype="u1")))
        elif kind == "array":
            items.append(np.frombuffer(bytearray(raw), dtype=draw(st.sampled_from(["<u4", ">f8", "u1"]))))
        else:
            shape = draw(st.sampled_from([(size,), (size // 8, 8), (4, size // 4)]))
            items.append(memoryview(bytearray(raw)).cast("B", shape))
    return items


def _payload(item):
    """The bytes an item carries, whatever form it comes back in."""
    if isinstance(item, pickle.PickleBuffer):
        return bytes(item.raw())
    return bytes(memoryview(item).cast("B")) if isinstance(item, memoryview) else bytes(memoryview(item))


@clause("serializer.out_of_band.buffers", "out_of_band")
@pytest.mark.protocol(5)
@given(data=st.data())
def test_serializer_out_of_band_buffers(impl, data):
    """Clause serializer.out_of_band.buffers: at protocol 5 a value holding several ``pickle.PickleBuffer``
    objects (over a bytearray, bytes or an array), arrays and, where ``memoryview`` is claimed, memoryviews
    (1-d and shaped) sends every one out-of-band (none of their bytes in the in-band pickle), lists the
    frame's buffers in the order the pickle refers to them (stdlib ``pickle.loads(inband, buffers=buffers)``
    gives each its own bytes back), and deserializes each in its place with its own bytes: a memoryview as a
    memoryview of the same format and shape, shared with the frame where ``zero_copy`` is claimed."""
    import numpy as np

    items = data.draw(_buffer_items(impl.claims("memoryview")), label="items")
    reproduce(impl, "import pickle, numpy as np",
              "items = [pickle.PickleBuffer(bytearray(512)), np.arange(128, dtype='<u4')]  # or the example's",
              "frame = impl.serializer.serialize(items, protocol=5)",
              "[bytes(memoryview(b)) for b in frame.buffers], len(frame.inband)",
              "out = impl.serializer.deserialize(frame_buffer(frame)[0])")
    frame = impl.serializer.serialize(items, protocol=5)
    inband = bytes(frame.inband)
    for i, item in enumerate(items):
        assert _payload(item) not in inband, (
            f"item {i} ({type(item).__name__} of {len(_payload(item))} bytes) went in-band")
    loaded = pickle.loads(inband, buffers=list(frame.buffers))
    view, backing = frame_buffer(frame, readonly=True)
    out = impl.serializer.deserialize(view)
    for name, result in (("stdlib pickle.loads(inband, buffers=frame.buffers)", loaded), ("deserialize", out)):
        assert len(result) == len(items), f"{name}: {len(result)} items came back for {len(items)}"
        for i, (item, back) in enumerate(zip(items, result)):
            assert _payload(back) == _payload(item), (
                f"{name}: item {i} came back with another item's bytes or none (buffers out of order?)")
    for i, (item, back) in enumerate(zip(items, out)):
        if isinstance(item, np.ndarray):
            assert_same(item, back, path=f"value[{i}]")
        elif isinstance(item, memoryview):
            assert type(back) is memoryview and (back.format, back.shape) == (item.format, item.shape), (
                f"item {i}: a memoryview of format {item.format!r}, shape {item.shape} came back as "
                f"{type(back).__name__} {getattr(back, 'format', '')!r} {getattr(back, 'shape', '')}")
        if impl.claims("zero_copy"):
            assert shares_memory(np.frombuffer(back, dtype="u1") if not isinstance(back, np.ndarray) else back,
                                 backing), f"item {i} ({type(item).__name__}) is a copy, not a view of the frame"
