"""Exact comparison of a value with its round-tripped copy: types, bits and identity structure.

``==`` is not enough for a serializer: ``nan != nan``, ``0.0 == -0.0``, ``1 == True``, ``b"" == bytearray()``
and two equal lists may be one list or two. :func:`assert_same` checks all of that and says where the two
values first differ, as a Python expression from the root (``value[2]['a']``).
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Dict

__all__ = ["Mismatch", "assert_same", "same"]


class Mismatch(AssertionError):
    """Two values differ; the message names the path and what differs."""


def _float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _same_float(a: float, b: float) -> bool:
    # Bit for bit, nan included: pickle writes a float's 8 bytes as they are (BINFLOAT), so a nan keeps its
    # sign and payload; a serializer that writes every nan as the canonical one loses data (issue 21).
    return _float_bits(a) == _float_bits(b)


class _Comparer:
    def __init__(self, check_identity: bool, check_byte_order: bool = False) -> None:
        self.check_identity = check_identity
        self.check_byte_order = check_byte_order
        # id(expected node) -> actual node, and the reverse, for mutable nodes: a bijection means the
        # identity structure (shared references, cycles) came back unchanged.
        self.forward: Dict[int, Any] = {}
        self.backward: Dict[int, Any] = {}
        self.pairs: set = set()
        self.keep: list = []

    def fail(self, path: str, why: str) -> None:
        raise Mismatch(f"at {path}: {why}")

    def compare(self, a: Any, b: Any, path: str) -> None:
        ta, tb = type(a), type(b)
        if ta is not tb:
            self.fail(path, f"type {tb.__module__}.{tb.__qualname__} came back for "
                            f"{ta.__module__}.{ta.__qualname__} ({a!r:.80} -> {b!r:.80})")
        if not self.check_identity and (ta in (list, dict, set, bytearray) or _is_array(a)):
            pair = (id(a), id(b))
            if pair in self.pairs:
                return  # compared already (or being compared: a cycle)
            self.pairs.add(pair)
            self.keep.append((a, b))
        elif ta in (list, dict, set, bytearray) or _is_array(a):
            seen = self.forward.get(id(a))
            if seen is not None:
                if seen is not b:
                    self.fail(path, "a shared reference came back as two distinct objects")
                return
            if id(b) in self.backward and self.backward[id(b)] is not a:
                self.fail(path, "two distinct objects came back as one shared object")
            self.forward[id(a)] = b
            self.backward[id(b)] = a
            self.keep.append((a, b))
        if ta is float:
            if not _same_float(a, b):
                self.fail(path, f"{b!r} came back for {a!r}")
        elif ta is complex:
            if not (_same_float(a.real, b.real) and _same_float(a.imag, b.imag)):
                self.fail(path, f"{b!r} came back for {a!r}")
        elif ta in (list, tuple):
            if len(a) != len(b):
                self.fail(path, f"length {len(b)} came back for {len(a)}")
            for i, (x, y) in enumerate(zip(a, b)):
                self.compare(x, y, f"{path}[{i}]")
        elif ta is dict:
            if len(a) != len(b):
                self.fail(path, f"{len(b)} keys came back for {len(a)}")
            for (ka, va), (kb, vb) in zip(a.items(), b.items()):
                self.compare(ka, kb, f"list({path})[...]")
                self.compare(va, vb, f"{path}[{ka!r}]")
        elif ta in (set, frozenset):
            if len(a) != len(b):
                self.fail(path, f"{len(b)} elements came back for {len(a)}")
            rest = list(b)
            for x in a:
                for j, y in enumerate(rest):
                    if same(x, y, check_identity=False):
                        del rest[j]
                        break
                else:
                    self.fail(path, f"element {x!r:.80} is missing")
        elif _is_array(a):
            _compare_arrays(self, a, b, path)
        elif _is_numpy_scalar(a):
            _compare_numpy_scalars(self, a, b, path)
        elif ta in (int, bool, str, bytes, bytearray, type(None)):
            if a != b:
                self.fail(path, f"{b!r:.200} came back for {a!r:.200}")
        else:
            try:
                equal = a == b
            except Exception as exc:  # noqa: BLE001 - a value whose == raises is compared as unequal
                self.fail(path, f"comparing raised {exc!r}")
            if not (equal is True or (hasattr(equal, "all") and bool(equal.all()))):
                self.fail(path, f"{b!r:.200} came back for {a!r:.200}")


def _is_array(x: Any) -> bool:
    """An ``ndarray`` or an instance of a subclass (a masked array, a record array); the caller has already
    checked that both sides have the same type."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.ndarray)


def _is_numpy_scalar(x: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.generic)


def _compare_numpy_scalars(cmp: _Comparer, a: Any, b: Any, path: str) -> None:
    # A numpy scalar is its dtype and its bytes (np.float32(nan) != itself, and == would hide a payload).
    if a.dtype != b.dtype or _dtype_extras(a.dtype) != _dtype_extras(b.dtype):
        cmp.fail(path, f"a scalar of dtype {_describe_dtype(b.dtype)} came back for {_describe_dtype(a.dtype)}")
    if a.tobytes() != b.tobytes():
        cmp.fail(path, f"{b!r:.80} came back for {a!r:.80} (compared bit for bit)")


def _dtype_extras(dtype: Any) -> Any:
    """What ``dtype ==`` ignores: metadata and the aligned-struct flag, of the dtype and of its fields and
    sub-array base, as nested plain data."""
    fields = dtype.fields or {}
    return (dict(dtype.metadata or {}), bool(dtype.isalignedstruct),
            tuple((name, _dtype_extras(fields[name][0])) for name in (dtype.names or ())),
            _dtype_extras(dtype.subdtype[0]) if dtype.subdtype else None)


def _native(dtype: Any) -> Any:
    return dtype.newbyteorder("=")


def _describe_dtype(dtype: Any) -> str:
    return str(dtype.descr) if dtype.fields else dtype.str


def _compare_arrays(cmp: _Comparer, a: Any, b: Any, path: str) -> None:
    # Byte order is compared up to numpy's own behaviour: numpy (2.x) unpickles an in-band array of a
    # non-native dtype as native order, values intact. So dtypes must match up to byte order (offsets and
    # itemsize included: ``==`` compares them), metadata and the aligned flag too, and the values bit for
    # bit once both are in native order.
    if _native(a.dtype) != _native(b.dtype) or a.dtype.names != b.dtype.names or (
            cmp.check_byte_order and a.dtype.descr != b.dtype.descr):
        cmp.fail(path, f"dtype {_describe_dtype(b.dtype)} came back for {_describe_dtype(a.dtype)}")
    if _dtype_extras(a.dtype) != _dtype_extras(b.dtype):
        cmp.fail(path, f"dtype metadata or aligned flag {_dtype_extras(b.dtype)} came back for "
                       f"{_dtype_extras(a.dtype)}")
    if a.shape != b.shape:
        cmp.fail(path, f"shape {b.shape} came back for {a.shape}")
    np = sys.modules["numpy"]
    if isinstance(a, np.ma.MaskedArray):
        _compare_masked(cmp, a, b, path)
        return
    if a.dtype.hasobject:
        for i, (x, y) in enumerate(zip(a.ravel(order="K").tolist() if a.ndim else [a.item()],
                                       b.ravel(order="K").tolist() if b.ndim else [b.item()])):
            cmp.compare(x, y, f"{path}.flat[{i}]")
    else:
        _compare_values(cmp, a, b, path)


def _compare_values(cmp: _Comparer, a: Any, b: Any, path: str) -> None:
    """The items of two arrays of one dtype up to byte order, bit for bit: field by field for a structured
    dtype (the bytes between fields are not values, and numpy does not keep them when it copies)."""
    if a.dtype.names:
        for name in a.dtype.names:
            _compare_values(cmp, a[name], b[name], f"{path}[{name!r}]")
    elif a.dtype == b.dtype:
        if a.tobytes() != b.tobytes():
            cmp.fail(path, "the array's values differ (compared bit for bit)")
    elif a.astype(_native(a.dtype)).tobytes() != b.astype(_native(b.dtype)).tobytes():
        cmp.fail(path, "the array's values differ (compared bit for bit in native byte order)")


def _compare_masked(cmp: _Comparer, a: Any, b: Any, path: str) -> None:
    np = sys.modules["numpy"]
    cmp.compare(np.ma.getdata(a), np.ma.getdata(b), f"{path}.data")
    if not np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b)):
        cmp.fail(path, f"mask {np.ma.getmaskarray(b).tolist()!r:.80} came back for "
                       f"{np.ma.getmaskarray(a).tolist()!r:.80}")
    # numpy stores a fill value in the array's dtype once pickled (int8's default 999999 comes back as 63):
    # compare both as that dtype.
    with np.errstate(all="ignore"):
        fills = [np.asarray(m.fill_value).astype(_native(a.dtype)).tobytes() for m in (a, b)]
    if fills[0] != fills[1]:
        cmp.fail(path, f"fill value {b.fill_value!r} came back for {a.fill_value!r}")


def assert_same(expected: Any, actual: Any, *, path: str = "value", check_identity: bool = True,
                check_byte_order: bool = False) -> None:
    """Raise :class:`Mismatch` unless ``actual`` is an exact copy of ``expected``.

    Exact means: the same types throughout (``bool`` is not ``int``, ``bytes`` is not ``bytearray``, a masked
    array is not an ``ndarray``, ``np.float32`` is not ``float``), floats equal bit for bit (``-0.0`` is not
    ``0.0``; a nan's sign and payload count), numpy scalars of the same dtype and bytes, numpy arrays of the
    same dtype (field names, offsets, itemsize, metadata and the aligned flag included; byte order as numpy's
    pickling keeps it, or exactly with ``check_byte_order``), shape and bits (a masked array's mask and fill
    value too; numpy's pickling drops the hard-mask flag), and, when
    ``check_identity``, the same identity structure: two references to one mutable object come back as two
    references to one object, distinct objects stay distinct, and cycles stay cycles. Other objects compare
    with ``==``.
    """
    _Comparer(check_identity, check_byte_order).compare(expected, actual, path)


def same(expected: Any, actual: Any, *, check_identity: bool = True, check_byte_order: bool = False) -> bool:
    """True when :func:`assert_same` would not raise."""
    try:
        assert_same(expected, actual, check_identity=check_identity, check_byte_order=check_byte_order)
    except Mismatch:
        return False
    return True


