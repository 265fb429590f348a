"""The reference store beside the peers our users run: Ray's object store and Apache Arrow's Plasma.

Every store gets the same float64 array, in the same process and run:

* ``reference``: ``reference.store.ObjectStore`` ``put`` / ``get``;
* ``ray``: ``ray.put`` / ``ray.get`` on a local Ray started once per benchmark process (bounded object
  store, no dashboard, one CPU; ``conformance.adapters.ray_runtime.ensure_ray``), shut down at exit;
* ``plasma``: a ``plasma-store-server`` of pyarrow 11.0.0, values as reference pickle-5 frames written into
  Plasma's buffers (``conformance.adapters.plasma``), the way this project's Plasma adapter stores them.

A store that is not installed (or, for ``reference``, not built yet) is skipped by ``NotImplementedError``
in ``setup``. Each store is opened once per benchmark process (Ray takes seconds to start) and closed at
exit. Each ``time_put`` sample is one put into a warm store where the previous object was freed in
``teardown`` (``number = 1``; Ray frees an object asynchronously when its last reference goes), so the
put is measured alone, for every store alike. ``benchmarks.summary`` prints the reference/peer ratios.
"""

from __future__ import annotations

import atexit
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .common import MiB, array_of, destroy_store, new_store, sizes, skip

#: The stores compared; "reference" first, the ratios' numerator.
STORES = ["reference", "ray", "plasma"]
#: Array sizes. Ray's object store is bounded at 200 MiB here, so 256 MiB is left out.
ALL_PEER_SIZES = ["1KiB", "1MiB", "64MiB"]
#: The sizes run: :data:`ALL_PEER_SIZES`, less 64 MiB with ``OBJSTORE_BENCH_QUICK`` set.
PEER_SIZES = sizes(*ALL_PEER_SIZES)
#: Room in each store: the largest array twice, plus headers.
CAPACITY = 2 * 64 * MiB + 4 * MiB


class _ContractStore:
    """A store with the contract's put / get / delete (the reference's, this project's Plasma adapter)."""

    store: Any

    def put(self, value: Any) -> Any:
        return self.store.put(value)

    def get(self, handle: Any) -> Any:
        return self.store.get(handle)

    def free(self, handle: Any) -> None:
        self.store.delete(handle)


class _Reference(_ContractStore):
    def __init__(self) -> None:
        self.store = new_store(CAPACITY)  # NotImplementedError (skip) until reference.store exists

    def close(self) -> None:
        destroy_store(self.store)


class _Ray:
    def __init__(self) -> None:
        try:
            from conformance.adapters.ray_runtime import ensure_ray

            self.ray = ensure_ray()
        except ImportError as exc:
            raise skip(f"Ray is not installed: {exc}") from exc

    def put(self, value: Any) -> Any:
        return self.ray.put(value)

    def get(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def free(self, handle: Any) -> None:
        del handle  # the caller drops the last reference: Ray frees the object

    def close(self) -> None:
        pass  # Ray lives for the whole benchmark process (start-up takes seconds); shut down at exit


class _Plasma(_ContractStore):
    def __init__(self) -> None:
        try:
            from conformance.adapters.plasma import PlasmaStore, start_plasma_store

            self.proc = start_plasma_store(CAPACITY)
        except (ImportError, FileNotFoundError) as exc:
            raise skip(f"Plasma (pyarrow 11.0.0) is not installed: {exc}") from exc
        self.socket: str = self.proc.socket  # type: ignore[attr-defined]  # set by start_plasma_store
        self.store = PlasmaStore(self.socket)

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=10)
            try:
                os.unlink(self.socket)
                os.rmdir(os.path.dirname(self.socket))
            except OSError:
                pass


_PEERS: Dict[str, Callable[[], Any]] = {"reference": _Reference, "ray": _Ray, "plasma": _Plasma}
_open: Dict[str, Any] = {}


def open_store(name: str) -> Any:
    """The store called ``name`` (one of :data:`STORES`), opened once per process and closed at exit, as
    Ray must be (it takes seconds to start); ``NotImplementedError`` (asv: skip) if it is missing."""
    if name not in _PEERS:
        raise ValueError(f"unknown store {name!r}: choose one of {STORES}")
    if name not in _open:
        _open[name] = _PEERS[name]()
        atexit.register(_open[name].close)
    return _open[name]


class PeerPut:
    """``put`` of a float64 array into each store: one put per sample, freed before the next.

    Every store is warm: it lives for the whole process (Ray's must) and setup puts and frees the same
    array once, so the timed put writes into memory that is already mapped, for every store alike.
    """

    params = [STORES, PEER_SIZES]
    param_names = ["store", "size"]
    timeout = 300
    number = 1
    repeat = (5, 50, 10.0)
    warmup_time = 0  # warm-up calls would run without the teardown between them and fill the store

    def setup(self, store: str, size: str) -> None:
        self.value = array_of(size)
        self.store = open_store(store)
        self.store.free(self.store.put(self.value))  # warm: map and touch the memory the put will use
        self.handles: List[Any] = []

    def teardown(self, store: str, size: str) -> None:
        handles = getattr(self, "handles", ())  # absent when setup skipped (a peer not installed)
        while handles:
            self.store.free(handles.pop())

    def time_put(self, store: str, size: str) -> None:
        self.handles.append(self.store.put(self.value))

    def peakmem_put(self, store: str, size: str) -> None:
        self.handles.append(self.store.put(self.value))


class PeerGet:
    """``get`` of a float64 array from each store: every store returns a read-only zero-copy view."""

    params = [STORES, PEER_SIZES]
    param_names = ["store", "size"]
    timeout = 300
    repeat = (20, 200, 5.0)

    def setup(self, store: str, size: str) -> None:
        self.store = open_store(store)
        self.handle = self.store.put(array_of(size))
        self.store.get(self.handle)  # first-call caches out of the timing

    handle: Any = None  # stays None when setup skips (a peer not installed): teardown has nothing to free

    def teardown(self, store: str, size: str) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            self.store.free(handle)

    def time_get(self, store: str, size: str) -> None:
        self.store.get(self.handle)

    def peakmem_get(self, store: str, size: str) -> None:
        self.store.get(self.handle)


# ---------------------------------------------------------------------------------------------------------
# The summary's section (benchmarks.summary calls this; not a benchmark).

def holds_peer(res: Any, peer: str) -> bool:
    """Whether results ``res`` hold the reference and ``peer`` side by side, for some benchmark and size."""
    return any(None not in side_by_side(res, name, peer, size)
               for name in PEER_BENCHMARKS.values() for size in ALL_PEER_SIZES)


def side_by_side(res: Any, name: str, peer: str, *params: str) -> Tuple[Optional[float], Optional[float]]:
    """The reference's and ``peer``'s figures of benchmark ``name`` (``params`` after the store) from the
    one results file ``res`` (``None``: no file, both ``None``): a reference/peer ratio is only ever taken
    between two figures of the same run, never across environments."""
    if res is None:
        return None, None
    return res.get(name, STORES[0], *params), res.get(name, peer, *params)


#: The timed operation of each peer benchmark, as the summary shows it.
PEER_BENCHMARKS = {"put": "bench_peers.PeerPut.time_put", "get": "bench_peers.PeerGet.time_get"}


def peer_ratios(res: Any, fmt_time: Callable[[Optional[float]], str],
                ratio: Callable[[Optional[float], Optional[float]], str],
                table: Callable[[Sequence[str], Sequence[Sequence[str]]], str], *,
                sources: Optional[Mapping[str, Any]] = None, envs: Optional[Mapping[str, str]] = None) -> str:
    """The reference store vs Ray and vs Plasma, put and get by size.

    Each peer's columns come from its results file in ``sources`` (peer -> results, as
    ``benchmarks.summary.peer_sources`` picks them; default ``res`` for every peer): the reference's figure
    beside the peer's is the one of that file, so each ratio is within one run and one environment.
    ``envs`` (peer -> text) says which environment each file came from; a peer without a file prints n/a.
    """
    peers = STORES[1:]
    if sources is None:
        sources = {peer: res for peer in peers}
    envs = envs or {}
    rows = []
    for op, name in PEER_BENCHMARKS.items():
        for size in ALL_PEER_SIZES:  # a quick run's results print n/a at 64 MiB
            row = [op, size]
            for peer in peers:
                ref, other = side_by_side(sources.get(peer), name, peer, size)
                row += [fmt_time(ref), fmt_time(other), ratio(ref, other)]
            rows.append(row)
    header = ["op", "size"]
    for peer in peers:
        header += [f"reference ({peer} env)", peer, f"ref/{peer}"]
    notes = []
    for peer in peers:
        if sources.get(peer) is None:
            where = (f"n/a: no results file holds {peer} beside the reference (not installed, or the run "
                     f"skipped it: ci/bench-summary runs it in .venv-bench-{peer} unless --no-peers)")
        else:
            where = envs.get(peer, "the same results file as the sections above")
        notes.append(f"  {peer}: {where}")
    return ("\n6. the reference store vs the peers, same array, each peer beside the reference in one run of "
            "its own environment: put (one per sample, store emptied between) and get (zero-copy everywhere); "
            "a ratio < 1 means the reference is faster\n"
            + table(header, rows) + "\n" + "\n".join(notes))
