"""Seeded payload builders and helpers shared by the benchmark modules.

Only ever append here: a builder that changes changes every result recorded with it, and asv would report
the change as a regression of the code under test.

Every builder is deterministic (a fixed seed or no randomness at all), and :func:`payload` caches the last
few it built, because asv re-runs a benchmark's ``setup`` before every timed call: a 256 MiB array is built
and page-faulted once per process, not once per sample.

Set ``OBJSTORE_BENCH_QUICK=1`` to drop the 64 MiB and 256 MiB parameters (for a quick look while
developing; results taken that way have fewer parameters and must not be compared with full runs).
"""

from __future__ import annotations

import atexit
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple

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


def skip(reason: str) -> "NotImplementedError":
    """The exception that skips a parameter combination, raised by a ``setup`` or by a benchmark's first
    call (asv reports it as skipped): asv_runner's ``SkipNotImplemented`` where it is installed (the only
    kind a benchmark body may raise), else a plain ``NotImplementedError``."""
    try:
        from asv_runner.benchmarks.mark import SkipNotImplemented  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return NotImplementedError(reason)
    return SkipNotImplemented(reason)


# ---------------------------------------------------------------------------------------------------------
# Codecs: one (dumps, loads) pair per library and protocol, so every serialization benchmark calls the same
# two functions whatever it measures.

#: The libraries compared. "reference" is reference.dumps/loads (one self-describing frame); "pickle" is the
#: stdlib; "cloudpickle" is cloudpickle.dumps with pickle.loads.
LIBRARIES = ["reference", "pickle", "cloudpickle"]

#: Protocols. "5-inband" is protocol 5 without a buffer_callback (buffers are copied into the pickle
#: stream); "5-oob" is protocol 5 with out-of-band buffers. For stdlib pickle and cloudpickle "5-oob"
#: dumps returns the in-band bytes plus the list of PickleBuffers (no copy of the data at all), the zero-copy
#: bound; reference.dumps at protocol 5 copies each buffer once into its frame.
PROTOCOLS = ["3", "4", "5-inband", "5-oob"]


class Codec:
    """``dumps(obj) -> blob`` and ``loads(blob) -> obj`` for one library at one protocol."""

    def __init__(self, library: str, protocol: str) -> None:
        import pickle

        import cloudpickle

        self.library = library
        self.protocol = protocol
        number = int(protocol[0])
        oob = protocol == "5-oob"
        if library == "reference":
            import reference

            if protocol == "5-inband":
                raise skip("the reference serializer always sends buffers out-of-band at protocol 5")
            self.dumps: Callable[[Any], Any] = lambda obj: reference.dumps(obj, protocol=number)
            self.loads: Callable[[Any], Any] = reference.loads
            return
        if library == "pickle":
            dump = pickle.dumps
        elif library == "cloudpickle":
            dump = cloudpickle.dumps
        else:
            raise ValueError(f"unknown library {library!r}: choose one of {LIBRARIES}")
        def dumps_oob(obj: Any) -> Tuple[bytes, List[Any]]:
            buffers: List[Any] = []
            return dump(obj, protocol=5, buffer_callback=buffers.append), buffers

        def loads_oob(blob: Tuple[bytes, List[Any]]) -> Any:
            return pickle.loads(blob[0], buffers=blob[1])

        def dumps_inband(obj: Any) -> bytes:
            return dump(obj, protocol=number)

        self.dumps = dumps_oob if oob else dumps_inband
        self.loads = loads_oob if oob else pickle.loads


def codec(library: str, protocol: str, payload_label: str) -> Codec:
    """The codec for a benchmark's parameters; raises ``NotImplementedError`` (asv: skip) if it cannot work."""
    if library == "pickle" and payload_label in BY_VALUE_ONLY:
        raise skip(f"stdlib pickle cannot serialize a {payload_label} by value")
    return Codec(library, protocol)


# ---------------------------------------------------------------------------------------------------------
# The deliberately leaky Pickler of the leak benchmarks (bpo-39492).

def leaky_pickler_class() -> type:
    """A subclass of the reference Pickler that recreates bpo-39492's reference cycle.

    CPython 3.8.0 and 3.8.1 kept the bound ``reducer_override`` of a Pickler on the Pickler itself: a cycle
    (pickler -> bound method -> pickler) that only the cyclic GC can break, so with gc disabled every
    Pickler, and through its memo every object it pickled, stayed alive (fixed in 3.8.2). This subclass
    stores its bound ``reducer_override`` on itself, so it leaks the same way on any interpreter: the leak
    benchmarks must jump when it is swapped in (``tests/test_benchmarks.py`` checks they do).
    """
    from reference import serializer

    class LeakyPickler(serializer.Pickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._bound_reducer_override = self.reducer_override  # the cycle

    return LeakyPickler


class use_pickler:
    """Context manager: make the reference serializer (and so the store) pickle with ``pickler_class``.

    ``None`` leaves the reference Pickler in place. Swaps ``reference.serializer.Pickler``, which
    ``Serializer._pickle`` looks up at every call; restores it on exit.
    """

    def __init__(self, pickler_class: Any) -> None:
        self.pickler_class = pickler_class
        self.saved: Any = None

    def __enter__(self) -> "use_pickler":
        from reference import serializer

        self.saved = serializer.Pickler
        if self.pickler_class is not None:
            setattr(serializer, "Pickler", self.pickler_class)  # noqa: B010 - a class attribute mypy would refuse
        return self

    def __exit__(self, *exc: Any) -> None:
        from reference import serializer

        setattr(serializer, "Pickler", self.saved)  # noqa: B010 - as in __enter__


# ---------------------------------------------------------------------------------------------------------
# The store under test.

_store_serial = 0


def store_class() -> Any:
    """``reference.store.ObjectStore``; ``NotImplementedError`` (asv: skip) while it does not exist."""
    try:
        from reference.store import ObjectStore
    except ImportError as exc:
        raise skip(f"reference.store is not available in this build: {exc}") from exc
    return ObjectStore


#: Every store a benchmark makes is named with this prefix and its process id (see :func:`reap_stores`).
STORE_PREFIX = "objstore-bench-"


def new_store(capacity: int) -> Any:
    """A new store with room for ``capacity`` bytes, named for this process; free it with :func:`destroy_store`."""
    global _store_serial
    _store_serial += 1
    reap_stores()
    name = f"{STORE_PREFIX}{os.getpid()}-{_store_serial}"
    return store_class().create(name, capacity=capacity)


_shared_stores: Dict[Any, Any] = {}


def shared_store(key: Any, capacity: int) -> Any:
    """A store kept for the life of this process, one per ``key``: for latency benchmarks.

    asv re-runs ``setup`` before every timed call. A store made there each time would put every timed
    call on pages touched for the first time (the object's table slot, the allocator's metadata), which
    times page faults rather than the steady state. These stores are destroyed at exit;
    :func:`reap_stores` removes those of a process that was killed.
    """
    store = _shared_stores.get(key)
    if store is None:
        if not _shared_stores:
            atexit.register(_destroy_shared_stores)
        store = _shared_stores[key] = new_store(capacity)
    return store


def _destroy_shared_stores() -> None:
    while _shared_stores:
        _key, store = _shared_stores.popitem()
        try:
            destroy_store(store)
        except Exception:  # noqa: BLE001 - exiting: remove what can be removed
            pass


def destroy_store(store: Any) -> None:
    """Remove ``store`` from the machine and close the handle (the store's ``destroy``)."""
    store.destroy()


def reap_stores(directory: str = "/dev/shm") -> int:
    """Remove the store files of benchmark processes that died without their teardown (killed at a
    timeout, say), so that they do not hold memory for ever. Returns how many it removed."""
    from reference.arena import pid_alive

    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for filename in names:
        _, sep, rest = filename.partition(STORE_PREFIX)
        if not sep:
            continue
        pid = rest.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, filename))
            removed += 1
        except OSError:
            pass
    return removed


def store_capacity(nbytes: int) -> int:
    """Room for one object of ``nbytes`` of data: the frame's header and alignment fit in the slack."""
    return nbytes + (1 << 20)
