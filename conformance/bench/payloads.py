"""Seeded payload builders and size labels shared by the benchmarks (the shipped suite's and the repo's).

Only ever append here: a builder that changes changes every result recorded with it, and asv would report
the change as a regression of the code under test.

Every builder is deterministic (a fixed seed or no randomness at all), and :func:`payload` caches the last
few it built, because asv re-runs a benchmark's ``setup`` before every timed call: a 256 MiB array is built
and page-faulted once per process, not once per sample.

Set ``OBJSTORE_BENCH_QUICK=1`` to drop the parameters over 1 MiB (``objstore-conformance bench --quick``
does; results taken that way have fewer parameters and are compared only with other quick runs).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

KiB = 1 << 10
MiB = 1 << 20

#: The seed of every random payload.
SEED = 20240574

QUICK = os.environ.get("OBJSTORE_BENCH_QUICK", "") not in ("", "0")


def sizes(*names: str) -> List[str]:
    """The size labels given, less those over 1 MiB when ``OBJSTORE_BENCH_QUICK`` is set."""
    if QUICK:
        return [n for n in names if size_bytes(n) <= MiB]
    return list(names)


def size_bytes(label: str) -> int:
    """``"64MiB"`` -> 67108864."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", KiB), ("B", 1)):
        if label.endswith(unit):
            return int(label[: -len(unit)]) * factor
    raise ValueError(f"not a size label: {label!r} (expected e.g. '1KiB', '64MiB')")


# ---------------------------------------------------------------------------------------------------------
# Payload builders. Each returns a fresh object; module-level so cloudpickle pickles the *values* they build
# (lambdas, closures, classes made at run time) by value, as a user's would be.

def float64_array(nbytes: int, seed: int = SEED) -> np.ndarray:
    """A C-contiguous float64 array of ``nbytes`` bytes, random, every page written (so faulted in)."""
    return np.random.default_rng(seed).random(nbytes // 8)


def noncontiguous_array(nbytes: int, seed: int = SEED) -> np.ndarray:
    """A float64 view of ``nbytes`` bytes that is neither C- nor F-contiguous (every other element)."""
    return float64_array(2 * nbytes, seed)[::2]


def dict_of_100() -> Dict[str, Any]:
    """A dict of 100 string keys to ints, floats and short strings."""
    return {f"key{i:03d}": (i, i * 0.5, f"value{i}")[i % 3] for i in range(100)}


def list_of_ints(n: int = 10_000) -> List[int]:
    """``n`` ints, small and large (so some are shared singletons and most are not)."""
    return [i * 7919 for i in range(n)]


def list_of_small_dicts(n: int = 1000) -> List[Dict[str, Any]]:
    """``n`` records such as a row-oriented table holds."""
    return [{"id": i, "name": f"row{i}", "score": i / 7.0, "ok": i % 2 == 0} for i in range(n)]


def a_lambda() -> Callable[[Any], Any]:
    """A lambda: stdlib pickle refuses it, cloudpickle sends it by value."""
    return lambda x: x * 2 + 1


def a_closure() -> Callable[[Any], Any]:
    """A nested function closing over a list and a dict: by value, with its cells."""
    scale = [1.5, 2.5]
    table = {"offset": 3}

    def scaled(x: Any) -> Any:
        return x * scale[0] + table["offset"]

    return scaled


def a_dynamic_class() -> type:
    """A class made at run time (not importable by name): cloudpickle sends its definition by value."""
    def norm(self: Any) -> float:
        return (self.x ** 2 + self.y ** 2) ** 0.5

    return type("DynamicPoint", (), {"__init__": _point_init, "norm": norm, "dims": 2})


def _point_init(self: Any, x: float, y: float) -> None:
    self.x = x
    self.y = y


def a_dynamic_instance() -> Any:
    """An instance of :func:`a_dynamic_class`: its class travels with it."""
    return a_dynamic_class()(3.0, 4.0)


def a_recursive_structure() -> List[Any]:
    """A list that contains itself and a dict that points back to it (the memo must resolve both)."""
    outer: List[Any] = [1, "two", 3.0]
    outer.append({"parent": outer, "values": list(range(10))})
    outer.append(outer)
    return outer


#: Payload label -> builder. The labels are asv parameter values: never rename one.
PAYLOADS: "OrderedDict[str, Callable[[], Any]]" = OrderedDict([
    ("float64-1KiB", lambda: float64_array(KiB)),
    ("float64-1MiB", lambda: float64_array(MiB)),
    ("float64-64MiB", lambda: float64_array(64 * MiB)),
    ("float64-256MiB", lambda: float64_array(256 * MiB)),
    ("noncontig-1MiB", lambda: noncontiguous_array(MiB)),
    ("dict-100", dict_of_100),
    ("list-10k-ints", list_of_ints),
    ("list-1000-dicts", list_of_small_dicts),
    ("lambda", a_lambda),
    ("closure", a_closure),
    ("dynamic-class", a_dynamic_class),
    ("dynamic-instance", a_dynamic_instance),
    ("recursive", a_recursive_structure),
])

#: Payloads that only a by-value pickler (cloudpickle, the reference serializer) can serialize.
BY_VALUE_ONLY = frozenset({"lambda", "closure", "dynamic-class", "dynamic-instance"})


def payload_labels() -> List[str]:
    """The payload labels, less the big arrays when ``OBJSTORE_BENCH_QUICK`` is set."""
    big = {"float64-64MiB", "float64-256MiB"}
    return [p for p in PAYLOADS if not (QUICK and p in big)]


_cache: "OrderedDict[Tuple[str, Any], Any]" = OrderedDict()
_CACHE_SIZE = 2


def cached(key: Tuple[str, Any], build: Callable[[], Any]) -> Any:
    """``build()``, memoized under ``key``; only the last two values are kept (they can be 256 MiB each)."""
    try:
        _cache.move_to_end(key)
        return _cache[key]
    except KeyError:
        pass
    while len(_cache) >= _CACHE_SIZE:
        _cache.popitem(last=False)
    value = _cache[key] = build()
    return value


def payload(label: str) -> Any:
    """The payload called ``label``, built once per process (see :data:`PAYLOADS`)."""
    return cached(("payload", label), PAYLOADS[label])


def array_of(label: str) -> np.ndarray:
    """A cached float64 array of the size ``label`` names (``"64MiB"``)."""
    return cached(("array", label), lambda: float64_array(size_bytes(label)))


def rss_bytes() -> int:
    """The resident set size of this process now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


#: The capability a payload needs of a serializer (``conformance.api.CAPABILITIES``); ``None``: any
#: pickle-compatible serializer handles it.
PAYLOAD_NEEDS: Dict[str, Optional[str]] = {
    "float64-1KiB": "numpy", "float64-1MiB": "numpy", "float64-64MiB": "numpy", "float64-256MiB": "numpy",
    "noncontig-1MiB": "numpy", "dict-100": None, "list-10k-ints": None, "list-1000-dicts": None,
    "lambda": "by_value_functions", "closure": "by_value_functions", "dynamic-class": "dynamic_classes",
    "dynamic-instance": "dynamic_classes", "recursive": "recursive",
}


def param_bytes(label: str) -> int:
    """The size a parameter label names: ``"64MiB"`` or ``"float64-64MiB"`` -> 67108864 (the last
    ``-``-separated part); ``ValueError`` for a label that names no size."""
    return size_bytes(label.rsplit("-", 1)[-1])
