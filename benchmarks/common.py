"""Helpers of the repository's own benchmark modules: the codecs compared with the reference serializer, the
leaky Pickler of the leak benchmarks, and the reference stores they make.

The seeded payload builders and size labels live in :mod:`conformance.bench.payloads`, shared with the
shipped suite of ``objstore-conformance bench``; they are re-exported here. Only ever append to either:
a builder that changes changes every result recorded with it.
"""

from __future__ import annotations

import atexit
import os
from typing import Any, Callable, Dict, List, Tuple

from conformance.bench.payloads import (  # noqa: F401 - re-exported: the benchmark modules import them here
    BY_VALUE_ONLY,
    PAYLOADS,
    QUICK,
    SEED,
    KiB,
    MiB,
    array_of,
    cached,
    float64_array,
    noncontiguous_array,
    param_bytes,
    payload,
    payload_labels,
    rss_bytes,
    size_bytes,
    sizes,
)
from conformance.bench.plan import skip  # noqa: F401 - re-exported, as above

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
    """``reference.store.ObjectStore``."""
    from reference.store import ObjectStore

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
