"""Exact comparison of a value with its round-tripped copy: types, bits and identity structure.

``==`` is not enough for a serializer: ``nan != nan``, ``0.0 == -0.0``, ``1 == True``, ``b"" == bytearray()``
and two equal lists may be one list or two. :func:`assert_same` checks all of that and says where the two
values first differ, as a Python expression from the root (``value[2]['a']``).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Dict

__all__ = ["Mismatch", "assert_same", "same"]


class Mismatch(AssertionError):
    """Two values differ; the message names the path and what differs."""


def _float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a):
        return math.isnan(b)  # the payload of a nan is not a promise pickle makes
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
    t = type(x)
    return t.__module__ == "numpy" and t.__name__ == "ndarray"


def _native(dtype: Any) -> Any:
    return dtype.newbyteorder("=")


def _describe_dtype(dtype: Any) -> str:
    return str(dtype.descr) if dtype.fields else dtype.str


def _compare_arrays(cmp: _Comparer, a: Any, b: Any, path: str) -> None:
    # Byte order is compared up to numpy's own behaviour: numpy (2.x) unpickles an in-band array of a
    # non-native dtype as native order, values intact. So dtypes must match up to byte order, and the
    # values bit for bit once both are in native order.
    if _native(a.dtype) != _native(b.dtype) or a.dtype.names != b.dtype.names or (
            cmp.check_byte_order and a.dtype.descr != b.dtype.descr):
        cmp.fail(path, f"dtype {_describe_dtype(b.dtype)} came back for {_describe_dtype(a.dtype)}")
    if a.shape != b.shape:
        cmp.fail(path, f"shape {b.shape} came back for {a.shape}")
    if a.dtype.hasobject:
        for i, (x, y) in enumerate(zip(a.ravel(order="K").tolist() if a.ndim else [a.item()],
                                       b.ravel(order="K").tolist() if b.ndim else [b.item()])):
            cmp.compare(x, y, f"{path}.flat[{i}]")
    elif a.astype(_native(a.dtype)).tobytes() != b.astype(_native(b.dtype)).tobytes():
        cmp.fail(path, "the array's values differ (compared bit for bit in native byte order)")


def assert_same(expected: Any, actual: Any, *, path: str = "value", check_identity: bool = True,
                check_byte_order: bool = False) -> None:
    """Raise :class:`Mismatch` unless ``actual`` is an exact copy of ``expected``.

    Exact means: the same types throughout (``bool`` is not ``int``, ``bytes`` is not ``bytearray``), floats
    equal bit for bit (``-0.0`` is not ``0.0``; any nan matches any nan), numpy arrays of the same dtype
    (field names included; byte order as numpy's pickling keeps it, or exactly with ``check_byte_order``),
    shape and bits, and, when
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


