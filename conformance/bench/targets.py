"""The implementations a benchmark process measures, loaded through the suite's registry, and their stores.

``objstore-conformance bench --impl SPEC`` exports :data:`IMPL_ENV` (``OBJSTORE_BENCH_IMPL``) for asv's
benchmark processes; the suite's modules read it when asv imports them, so every benchmark class is
parametrized by implementation: the reference first, always, then each spec named there (comma-separated).
A spec is anything ``--impl`` takes (a shipped adapter, an entry point, ``package.module:factory``), and it
is loaded by :func:`conformance.registry.load_implementation`, the very function the suite uses: the adapter
that conformance validates is the one that is timed.

Stores are made once per benchmark process and implementation (Ray's takes seconds to start), through the
adapter's ``store_factory``, and destroyed at exit.
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from conformance.api import Implementation

__all__ = ["IMPL_ENV", "REFERENCE", "get_in_child", "implementation", "median_get_seconds", "median_seconds", "specs",
           "store"]

#: The environment variable naming the implementations to measure (comma-separated ``--impl`` specs).
IMPL_ENV = "OBJSTORE_BENCH_IMPL"
#: The implementation every run measures beside the others.
REFERENCE = "reference"


def specs() -> List[str]:
    """The implementations of this run: :data:`REFERENCE`, then each spec of :data:`IMPL_ENV` once."""
    named = [s.strip() for s in os.environ.get(IMPL_ENV, "").split(",") if s.strip()]
    out = [REFERENCE]
    for spec in named:
        if spec not in out:
            out.append(spec)
    return out


_loaded: Dict[str, Implementation] = {}


def implementation(spec: str) -> Implementation:
    """The implementation ``spec`` names, loaded once per process by the suite's registry (its
    ``ImplementationError`` propagates: asv records the benchmark as failed, with the message)."""
    impl = _loaded.get(spec)
    if impl is None:
        from conformance.registry import load_implementation

        impl = _loaded[spec] = load_implementation(spec)
    return impl


_stores: Dict[Tuple[str, Any], Tuple[Any, Any]] = {}


def store(spec: str, key: Any, capacity: int) -> Any:
    """A store of ``spec``'s factory with room for ``capacity`` bytes, one per ``(spec, key)`` for the life of
    this process (made on first use, destroyed at exit)."""
    entry = _stores.get((spec, key))
    if entry is None:
        factory = implementation(spec).store_factory
        if not _stores:
            atexit.register(_destroy_all)
        entry = _stores[(spec, key)] = (factory, factory.create(capacity=capacity))  # type: ignore[union-attr]
    return entry[1]


def median_seconds(call: Callable[[], Any], rounds: int, after: Optional[Callable[[Any], None]] = None) -> float:
    """The median time of ``rounds`` calls of ``call`` (of an even count, the upper middle one); ``after``
    gets each call's result, outside the timing (to delete what a put made, say)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        if after is not None:
            after(result)
    times.sort()
    return times[len(times) // 2]


def median_get_seconds(store: Any, oid: Any, rounds: int) -> float:
    """The median time of ``rounds`` calls ``store.get(oid)``, after one untimed call (attach-time work and
    first-call caches stay out of the timing)."""
    store.get(oid)
    return median_seconds(lambda: store.get(oid), rounds)


def get_in_child(spec: str, name: str, oid: bytes, rounds: int, conn: Any) -> None:
    """In another process (``bench_store.GetOtherProcess``; here, in an importable module, because a spawned
    child imports its target by module name): attach to the store ``name`` through ``spec``'s factory, time
    ``rounds`` gets of ``oid`` and send the median over ``conn`` (or the error, as text)."""
    try:
        attached = implementation(spec).store_factory.attach(name)  # type: ignore[union-attr]
        try:
            conn.send(median_get_seconds(attached, oid, rounds))
        finally:
            attached.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _destroy_all() -> None:
    while _stores:
        _key, (factory, made) = _stores.popitem()
        try:
            factory.destroy(made)
        except Exception:  # noqa: BLE001 - exiting: free what can be freed
            pass
