"""Hypothesis strategies for values a pickle-5 serializer must carry: public, typed, reusable.

Each returns a ``SearchStrategy``; options are keyword-only and checked up front: a bad one raises
Hypothesis' ``InvalidArgument`` naming it, as ``hypothesis.extra.numpy`` does. Examples shrink towards
small, flat values (``None``, ``0``, empty containers, 0-d arrays of ``bool``), so a failure is reported
on the simplest value that shows it. The importable classes some of them draw instances of are in
:mod:`conformance.specimens`.

One module of about 560 lines on purpose: it is the public namespace a user imports, as
``hypothesis.extra.numpy`` is; each strategy is a validated, documented wrapper over a private composite.
"""

from __future__ import annotations

import functools
import operator
import struct
import threading
from typing import Any, List, Sequence, Tuple, Type

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from conformance.specimens import (
    BUILTIN_SUBCLASSES,
    HOSTILE_CLASSES,
    OWN_ERRORS,
    Access,
    Colour,
    Holder,
    Level,
    RaisesWhilePickled,
    SlottedHolder,
)

__all__ = [
    "CULPRIT_KINDS",
    "DTYPE_KINDS",
    "PLAIN_KINDS",
    "array_dtypes",
    "builtin_subclass_values",
    "close_drawn_resources",
    "deep_values",
    "enum_values",
    "failing_values",
    "hashable_values",
    "hostile_objects",
    "mixed_values",
    "nan_floats",
    "native_values",
    "numpy_arrays",
    "plant_nans",
    "scalar_values",
    "shared_member_arrays",
    "shared_structures",
    "unserializable_nestings",
]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"{name}={value!r} must be a positive integer; pass {name}=1 or more")


def _check_flag(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True or False")


def _texts() -> SearchStrategy[str]:
    # Lone surrogates are legal in a Python str and pickle must carry them (it encodes with surrogatepass).
    surrogate = st.integers(0xD800, 0xDFFF).map(chr)
    return st.lists(st.one_of(st.characters(), surrogate), max_size=12).map("".join)


#: Bits of a float of each width: (exponent bits, mantissa bits).
_FLOAT_BITS = {2: (5, 10), 4: (8, 23), 8: (11, 52)}


def _nan_bits(draw: Any, width: int) -> int:
    """A nan of ``width`` bytes as an unsigned integer: a drawn sign, and a drawn non-zero mantissa (quiet
    or signalling, with a payload), rarely the canonical one."""
    exponent_bits, mantissa_bits = _FLOAT_BITS[width]
    mantissa = draw(st.integers(1, 2 ** mantissa_bits - 1))
    sign = draw(st.integers(0, 1))
    return (sign << (exponent_bits + mantissa_bits)) | (((1 << exponent_bits) - 1) << mantissa_bits) | mantissa


@st.composite
def _nan_float(draw: Any) -> float:
    bits = _nan_bits(draw, 8)
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def nan_floats() -> SearchStrategy[float]:
    """Returns a strategy for generating Python float nans with a drawn sign and payload (quiet and
    signalling): pickle keeps a float's 8 bytes, so each must come back bit for bit. Shrinks towards the nan
    with the smallest payload (a signalling one)."""
    return _nan_float()


def plant_nans(draw: Any, array: Any) -> Any:
    """A C-contiguous copy of ``array`` (a float or complex array of any byte order) in which some drawn
    elements (or components) are nans with drawn payloads; ``array`` itself when it has no such elements.
    For use inside ``@st.composite``."""
    import numpy as np

    if array.dtype.kind not in "fc" or array.size == 0 or array.dtype.itemsize // (
            2 if array.dtype.kind == "c" else 1) not in _FLOAT_BITS:
        return array
    width = array.dtype.itemsize // (2 if array.dtype.kind == "c" else 1)
    flat = np.array(array, order="C").reshape(-1)
    order = "<" if array.dtype.byteorder == "<" or (array.dtype.byteorder in "=|" and np.little_endian) else ">"
    bits = flat.view(np.dtype(f"{order}u{width}"))
    for index in draw(st.lists(st.integers(0, bits.size - 1), min_size=1, max_size=3)):
        bits[index] = _nan_bits(draw, width)
    return flat.reshape(array.shape)



def scalar_values(*, allow_nan: bool = True, include_bytearray: bool = True,
                  max_int_bits: int = 300) -> SearchStrategy[Any]:
    """Returns a strategy for generating native scalars: ``None``, bool, int (huge too: up to
    ``max_int_bits`` bits), float (-0.0, inf, nan: with drawn signs and payloads too), complex, str (lone
    surrogates too), bytes and bytearray.

    ``allow_nan=False`` leaves nan out (for set elements and dict keys, where nan is never equal to itself);
    ``include_bytearray=False`` leaves the one mutable, unhashable scalar out. Shrinks towards ``None``.
    """
    _check_flag("allow_nan", allow_nan)
    _check_flag("include_bytearray", include_bytearray)
    _check_positive("max_int_bits", max_int_bits)
    huge = st.integers(min_value=-(2 ** max_int_bits), max_value=2 ** max_int_bits)
    floats = st.floats(allow_nan=allow_nan, allow_infinity=True)
    nans = [nan_floats(), st.builds(complex, nan_floats(), st.floats())] if allow_nan else []
    return st.one_of(
        st.none(), st.booleans(), st.integers(), huge,
        floats, st.sampled_from([0.0, -0.0, float("inf"), float("-inf")]), *nans,
        st.complex_numbers(allow_nan=allow_nan, allow_infinity=True),
        _texts(), st.binary(max_size=24),
        *([st.binary(max_size=24).map(bytearray)] if include_bytearray else []),
    )


def hashable_values(*, max_leaves: int = 6) -> SearchStrategy[Any]:
    """Returns a strategy for generating hashable native values without nan: scalars (bytearray aside),
    tuples and frozensets of them. Shrinks towards ``None``."""
    _check_positive("max_leaves", max_leaves)
    leaves = scalar_values(allow_nan=False, include_bytearray=False)
    return st.recursive(leaves, lambda inner: st.one_of(st.tuples(inner, inner),
                                                        st.frozensets(inner, max_size=3)),
                        max_leaves=max_leaves)


def native_values(*, max_leaves: int = 20, max_int_bits: int = 300) -> SearchStrategy[Any]:
    """Returns a strategy for generating nested native values: :func:`scalar_values` (ints up to
    ``max_int_bits`` bits) in tuples, lists, dicts (hashable keys), sets and frozensets, nested up to
    ``max_leaves`` leaves.

    >>> native_values().example()  # doctest: +SKIP
    [{(-0.0, ''): frozenset({b'\\x00'})}, nan, bytearray(b'')]

    Shrinks towards ``None`` and flat, short containers.
    """
    _check_positive("max_leaves", max_leaves)
    _check_positive("max_int_bits", max_int_bits)
    keys = hashable_values(max_leaves=3)

    def extend(inner: SearchStrategy[Any]) -> SearchStrategy[Any]:
        return st.one_of(
            st.lists(inner, max_size=5),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(keys, inner, max_size=4),
            st.sets(keys, max_size=4),
            st.frozensets(keys, max_size=4),
        )

    return st.recursive(scalar_values(max_int_bits=max_int_bits), extend, max_leaves=max_leaves)


@st.composite
def _shared(draw: Any, max_nodes: int, cycles: bool) -> Any:
    n = draw(st.integers(1, max_nodes))
    kinds = draw(st.lists(st.sampled_from(["list", "dict"]), min_size=n, max_size=n))
    nodes: List[Any] = [[] if k == "list" else {} for k in kinds]
    # Edges i -> j; without cycles only to later nodes (a DAG), so sharing still happens.
    for i, node in enumerate(nodes):
        targets = range(n) if cycles else range(i + 1, n)
        picks = draw(st.lists(st.sampled_from(list(targets)), max_size=4)) if len(targets) else []
        for k, j in enumerate(picks):
            child = nodes[j]
            if draw(st.booleans()):
                child = (child, draw(st.integers(0, 3)))  # a tuple on the way: still shared
            if isinstance(node, list):
                node.append(child)
            else:
                node[f"k{k}"] = child
        if draw(st.booleans()):
            leaf = draw(scalar_values())
            if isinstance(node, list):
                node.append(leaf)
            else:
                node["leaf"] = leaf
    return nodes[0] if draw(st.booleans()) else nodes


def shared_structures(*, max_nodes: int = 6, cycles: bool = True) -> SearchStrategy[Any]:
    """Returns a strategy for generating lists and dicts that share children and, with ``cycles``, contain
    themselves (directly or through others): identity structure a serializer must keep.

    Shrinks towards one empty list.
    """
    _check_positive("max_nodes", max_nodes)
    _check_flag("cycles", cycles)
    return _shared(max_nodes, cycles)


#: The dtype kinds :func:`array_dtypes` can be limited to.
DTYPE_KINDS = ("bool", "int", "uint", "float", "complex", "datetime", "timedelta", "bytes", "str",
               "structured", "object")
#: Every kind but ``object``: arrays whose bytes are their values (``numpy_arrays(kinds=PLAIN_KINDS)``).
PLAIN_KINDS = tuple(k for k in DTYPE_KINDS if k != "object")


def array_dtypes(*, kinds: Sequence[str] = DTYPE_KINDS) -> SearchStrategy[Any]:
    """Returns a strategy for generating numpy dtypes of the given ``kinds`` (default: all of
    :data:`DTYPE_KINDS`): every scalar kind in both byte orders, datetime64 and timedelta64 in every unit,
    fixed-width bytes and str, structured (nested too) and object.

    >>> array_dtypes(kinds=["datetime"]).example()  # doctest: +SKIP
    dtype('>M8[ms]')

    Shrinks towards the first kind listed (``bool``).
    """
    import numpy as np
    from hypothesis.extra import numpy as hnp

    unknown = [k for k in kinds if k not in DTYPE_KINDS]
    if isinstance(kinds, str) or unknown or not kinds:
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty list of names from {DTYPE_KINDS}")
    table = {
        "bool": hnp.boolean_dtypes(),
        "int": hnp.integer_dtypes(endianness="?"),
        "uint": hnp.unsigned_integer_dtypes(endianness="?"),
        "float": hnp.floating_dtypes(endianness="?"),
        "complex": hnp.complex_number_dtypes(endianness="?"),
        "datetime": hnp.datetime64_dtypes(endianness="?"),
        "timedelta": hnp.timedelta64_dtypes(endianness="?"),
        "bytes": hnp.byte_string_dtypes(endianness="?", max_len=6),
        "str": hnp.unicode_string_dtypes(endianness="?", max_len=6),
        "object": st.just(np.dtype(object)),
    }
    scalar = st.one_of(*(table[k] for k in DTYPE_KINDS if k not in ("structured", "object")))
    table["structured"] = hnp.array_dtypes(subtype_strategy=scalar, max_size=3) | hnp.nested_dtypes(
        subtype_strategy=scalar, max_leaves=4, max_itemsize=64).filter(lambda d: d.fields is not None)
    return st.one_of(*(table[k] for k in kinds))


@st.composite
def _arrays(draw: Any, max_side: int, kinds: Sequence[str]) -> Any:
    import numpy as np
    from hypothesis.extra import numpy as hnp

    dtype = draw(array_dtypes(kinds=kinds))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=max_side))
    if dtype.hasobject:
        elements = scalar_values()
        a = np.empty(shape, dtype=object)
        for idx in np.ndindex(*shape):
            a[idx] = draw(elements)
    else:
        a = draw(hnp.arrays(dtype, shape))
        if a.dtype.kind in "fc" and draw(st.booleans()):
            a = plant_nans(draw, a)  # nans with payloads: each must come back bit for bit
    layout = draw(st.sampled_from(["C", "F", "strided", "transposed", "reversed"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        a = a[tuple(slice(None, None, 2) for _ in range(a.ndim))]
    elif layout == "transposed":
        a = a.T
    elif layout == "reversed" and a.ndim:
        a = a[::-1]
    return a


def numpy_arrays(*, max_side: int = 5, kinds: Sequence[str] = DTYPE_KINDS) -> SearchStrategy[Any]:
    """Returns a strategy for generating numpy arrays of the dtype ``kinds`` (see :func:`array_dtypes`), 0 to 3
    dimensions (0-d and empty included) with sides up to ``max_side``, C or Fortran order, or a strided,
    transposed or reversed view; float and complex arrays often hold nans with drawn payloads. Shrinks towards
    a 0-d ``bool`` array in C order."""
    _check_positive("max_side", max_side)
    array_dtypes(kinds=kinds)  # validates kinds now, not at the first draw
    return _arrays(max_side, tuple(kinds))


#: The kinds of unserializable object :func:`unserializable_nestings` draws.
CULPRIT_KINDS = ("Lock", "RLock", "generator", "socket", "binary file", "text file for writing")


#: Sockets and files drawn and not closed yet (an example Hypothesis discards never reaches a clause's own
#: clean-up): :func:`close_drawn_resources` closes them.
_OPEN_RESOURCES: List[Any] = []


def close_drawn_resources() -> None:
    """Close every socket and file :func:`unserializable_nestings` (or :func:`hostile_objects`) has drawn so
    far; a clause calls it when its check is done."""
    while _OPEN_RESOURCES:
        _OPEN_RESOURCES.pop().close()


def _culprit(kind: str) -> Any:
    import os
    import socket

    def gen() -> Any:
        yield 1

    if kind == "Lock":
        return threading.Lock()
    if kind == "RLock":
        return threading.RLock()
    if kind == "generator":
        return gen()
    if kind == "socket":
        resource: Any = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # never bound or connected
    else:
        # cloudpickle saves a text file open for reading by its contents; these two it refuses, as pickle does.
        resource = open(os.devnull, "rb") if kind == "binary file" else open(os.devnull, "w")  # noqa: SIM115
    _OPEN_RESOURCES.append(resource)
    return resource


def _culprits() -> SearchStrategy[Any]:
    return st.sampled_from(CULPRIT_KINDS).map(_culprit)


@st.composite
def _nestings(draw: Any, max_culprits: int) -> Tuple[Any, List[Any]]:
    n = draw(st.integers(1, max_culprits))
    culprits = [draw(_culprits()) for _ in range(n)]
    fillers = draw(st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=3))
    items: List[Any] = draw(st.permutations(culprits + fillers))

    def wrap(group: List[Any]) -> Any:
        kind = draw(st.sampled_from(["list", "tuple", "dict", "holder", "slotted"]))
        if kind == "list":
            return list(group)
        if kind == "tuple":
            return tuple(group)
        if kind == "dict":
            return {f"k{i}": v for i, v in enumerate(group)}
        if kind == "holder":
            return Holder(**{f"a{i}": v for i, v in enumerate(group)})
        boxes = [SlottedHolder(*group[i:i + 2]) for i in range(0, len(group), 2)]
        return boxes[0] if len(boxes) == 1 else boxes

    # Merge groups until one value remains (each round shrinks the list), then maybe wrap it again.
    while len(items) > 1:
        k = draw(st.integers(2, min(3, len(items))))
        start = draw(st.integers(0, len(items) - k))
        items[start:start + k] = [wrap(items[start:start + k])]
    for _ in range(draw(st.integers(0, 2))):
        items = [wrap(items)]
    return items[0], culprits


def unserializable_nestings(*, max_culprits: int = 3) -> SearchStrategy[Tuple[Any, List[Any]]]:
    """Returns a strategy for generating ``(value, culprits)``: ``value`` nests lists, tuples, dicts and
    attribute holders (``__dict__`` and ``__slots__``) around serializable scalars and 1 to
    ``max_culprits`` distinct unserializable objects (:data:`CULPRIT_KINDS`: locks, re-entrant locks,
    generators, sockets, a binary file and a text file open for writing, each on ``os.devnull``), which are
    listed in ``culprits``. The caller closes the sockets and files (:func:`close_drawn_resources`). Shrinks
    towards one lock at the top."""
    _check_positive("max_culprits", max_culprits)
    return _nestings(max_culprits)


# -- objects that make an error path work hard -------------------------------------------------------------

@st.composite
def _hostile(draw: Any, max_culprits: int) -> Tuple[Any, List[Any]]:
    held, culprits = draw(_nestings(max_culprits))
    cls = draw(st.sampled_from(HOSTILE_CLASSES))
    return cls(held), culprits


def hostile_objects(*, max_culprits: int = 2) -> SearchStrategy[Tuple[Any, List[Any]]]:
    """Returns a strategy for generating ``(value, culprits)``: ``value`` is an instance of one of
    :data:`HOSTILE_CLASSES` (its attribute access raises ``RuntimeError`` or recurses without end) holding an
    :func:`unserializable_nestings` value with 1 to ``max_culprits`` culprits, listed in ``culprits``.

    Such a value cannot be serialized; describing it in an error message must not raise its own errors.
    Shrinks towards a :class:`RaisingGetattr` holding one lock.
    """
    _check_positive("max_culprits", max_culprits)
    return _hostile(max_culprits)


@st.composite
def _failing_values(draw: Any) -> Tuple[Any, Type[BaseException]]:
    hook = draw(st.sampled_from(["__reduce__", "__reduce_ex__", "__getstate__"]))
    error = draw(st.sampled_from(sorted(OWN_ERRORS)))
    core: Any = RaisesWhilePickled(hook, error, draw(st.text(max_size=8)))
    expected: Type[BaseException] = OWN_ERRORS[error]
    fillers = draw(st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=3))
    items: List[Any] = draw(st.permutations([core] + fillers))
    value: Any = items
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["list", "tuple", "dict", "holder"]))
        value = (list(value) if kind == "list" else tuple(value) if kind == "tuple"
                 else {f"k{i}": v for i, v in enumerate(value)} if kind == "dict"
                 else Holder(**{f"a{i}": v for i, v in enumerate(value)}))
        value = [value]
    return (value[0] if len(value) == 1 else value), expected


def failing_values() -> SearchStrategy[Tuple[Any, Type[BaseException]]]:
    """Returns a strategy for generating ``(value, error type)``: pickling ``value`` raises an exception of
    ``error type`` that is not pickle refusing the value: an error of the value's own
    (:data:`conformance.specimens.OWN_ERRORS`: a plain ``Exception``, a ``RuntimeError`` and an ``OSError``
    subclass) raised by a :class:`conformance.specimens.RaisesWhilePickled` inside it from
    ``__reduce_ex__``, ``__reduce__`` or ``__getstate__``, nested in lists, tuples, dicts and :class:`Holder`
    objects. Every pickler meets the error (a dict changed while pickled is no such trigger: CPython's
    pure-Python pickler takes a dict's items in batches and never notices).

    Shrinks towards a ``RaisesWhilePickled`` raising from ``__reduce__`` at the top.
    """
    return _failing_values()


# -- builtin subclasses, enums, deep nesting, every kind in every container -------------------------------

def enum_values() -> SearchStrategy[Any]:
    """Returns a strategy for generating members of importable enums with custom values
    (:class:`Colour`: tuple, str, float and frozenset values; :class:`Level`, an ``IntEnum`` with a huge
    member; :class:`Access`, a ``Flag``, combined members included). Shrinks towards ``Colour.RED``."""
    flags = st.lists(st.sampled_from(list(Access)), min_size=1, max_size=3).map(
        lambda members: functools.reduce(operator.or_, members))
    return st.one_of(st.sampled_from(list(Colour)), st.sampled_from(list(Level)), flags)


def _with_attribute(draw: Any, obj: Any) -> Any:
    if draw(st.booleans()):
        obj.tag = draw(st.one_of(st.none(), st.integers(), _texts()))
    return obj


@st.composite
def _subclass_values(draw: Any, inner: SearchStrategy[Any]) -> Any:
    keys = hashable_values(max_leaves=3)
    kind = draw(st.sampled_from(list(BUILTIN_SUBCLASSES)))
    cls = BUILTIN_SUBCLASSES[kind]
    if kind is int:
        return _with_attribute(draw, cls(draw(st.integers(-(2 ** 80), 2 ** 80))))
    if kind is str:
        return _with_attribute(draw, cls(draw(_texts())))
    if kind is bytes:
        return _with_attribute(draw, cls(draw(st.binary(max_size=12))))
    if kind is tuple:
        return _with_attribute(draw, cls(draw(st.lists(inner, max_size=3))))
    if kind is list:
        return _with_attribute(draw, cls(draw(st.lists(inner, max_size=3))))
    if kind is dict:
        return _with_attribute(draw, cls(draw(st.dictionaries(keys, inner, max_size=3))))
    return _with_attribute(draw, cls(draw(st.sets(keys, max_size=3))))


def builtin_subclass_values(*, max_leaves: int = 8) -> SearchStrategy[Any]:
    """Returns a strategy for generating instances of importable subclasses of ``int``, ``str``, ``bytes``,
    ``tuple``, ``list``, ``dict`` and ``set`` (:data:`BUILTIN_SUBCLASSES`), some with an instance attribute,
    the containers holding native values, enum members and further subclass instances (up to
    ``max_leaves`` leaves). They compare equal only to an instance of the same subclass with the same
    contents, compared exactly. Shrinks towards ``IntSubclass(0)``."""
    _check_positive("max_leaves", max_leaves)
    leaves = st.one_of(scalar_values(), enum_values())
    return st.recursive(leaves, _subclass_values, max_leaves=max_leaves).filter(
        lambda v: type(v) in BUILTIN_SUBCLASSES.values())


def _container_kinds(inner: SearchStrategy[Any]) -> SearchStrategy[Any]:
    keys = st.one_of(hashable_values(max_leaves=3), enum_values())
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=3),
        st.sets(keys, max_size=3),
        st.frozensets(keys, max_size=3),
        _subclass_values(inner),
    )


def mixed_values(*, numpy: bool = False, max_leaves: int = 20) -> SearchStrategy[Any]:
    """Returns a strategy for generating every kind of value inside every kind of container: scalars
    (:func:`scalar_values`), enum members (:func:`enum_values`), builtin-subclass instances and, with
    ``numpy``, arrays (:func:`numpy_arrays`, every dtype kind and layout), nested in lists, tuples, dicts
    (enum keys too), sets, frozensets and the builtin subclasses, up to ``max_leaves`` leaves.

    ``numpy=False`` draws no array, for implementations that do not claim ``numpy``. Shrinks towards
    ``None``.
    """
    _check_flag("numpy", numpy)
    _check_positive("max_leaves", max_leaves)
    leaves = [scalar_values(), enum_values()]
    if numpy:
        leaves.append(numpy_arrays(max_side=3))
    return st.recursive(st.one_of(*leaves), _container_kinds, max_leaves=max_leaves)


@st.composite
def _deep(draw: Any, min_depth: int, max_depth: int) -> Tuple[Any, int]:
    depth = draw(st.integers(min_depth, max_depth))
    value: Any = draw(scalar_values())
    kinds = draw(st.lists(st.sampled_from(["list", "tuple", "dict"]), min_size=1, max_size=4))
    for level in range(depth):
        kind = kinds[level % len(kinds)]
        value = [value] if kind == "list" else (value,) if kind == "tuple" else {"k": value}
    return value, depth


def deep_values(*, min_depth: int = 50, max_depth: int = 200) -> SearchStrategy[Tuple[Any, int]]:
    """Returns a strategy for generating ``(value, depth)``: a scalar nested ``depth`` levels deep
    (``min_depth`` to ``max_depth``) in lists, tuples and dicts, in a drawn repeating pattern. Deep, yet
    well within what pickle and CPython's default recursion limit allow.

    Shrinks towards ``min_depth`` levels of lists around ``None``.
    """
    _check_positive("min_depth", min_depth)
    _check_positive("max_depth", max_depth)
    if min_depth > max_depth or max_depth > 300:
        raise InvalidArgument(f"need min_depth <= max_depth <= 300 (deeper nesting is not legal everywhere: "
                         f"CPython's default recursion limit is 1000), got {min_depth!r} and {max_depth!r}")
    return _deep(min_depth, max_depth)


@st.composite
def _shared_member_arrays(draw: Any) -> Any:
    import numpy as np

    shared = [draw(st.sampled_from(["list", "dict", "bytearray"])) for _ in range(draw(st.integers(1, 3)))]
    members: List[Any] = [[draw(scalar_values())] if k == "list" else {"v": draw(scalar_values())}
                          if k == "dict" else bytearray(draw(st.binary(max_size=4))) for k in shared]
    shape = draw(st.sampled_from([(), (3,), (2, 2), (2, 3)]))
    a = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        a[idx] = draw(st.one_of(st.sampled_from(members), scalar_values()))
    if a.ndim and draw(st.booleans()):
        a = np.asfortranarray(a)
    outer = draw(st.sampled_from(["alone", "with a member", "twice"]))
    if outer == "alone":
        return a
    if outer == "with a member":
        return [a, members[0]]
    return {"a": a, "again": a, "member": members[-1]}


def shared_member_arrays() -> SearchStrategy[Any]:
    """Returns a strategy for generating object arrays (0-d too, C or Fortran order) whose elements share
    mutable members (a list, dict or bytearray held by several elements), alone or beside one of those
    members or a second reference to the array in a container: identity a serializer must keep across
    numpy's object-array pickling. Shrinks towards a 0-d array holding one list."""
    return _shared_member_arrays()
