"""Where the time of Ray's store row goes: bare ``ray.put``/``ray.get`` beside the ``ray`` adapter's put and
get, and the directory round trip that sets them apart, in one process on one Ray.

    python -m benchmarks.ray_adapter_cost [--rounds N] [--calls N] [--sizes 1KiB 1MiB 64MiB]   (needs Ray)

The contract names objects by 20-byte ids the caller chooses; Ray names them by the ``ObjectRef`` it returns.
The adapter (:mod:`conformance.adapters.ray_store`) keeps the mapping in a directory actor, so its ``put`` is
one call to that actor (which calls ``ray.put`` and owns the object) and its ``get`` is one call to it (the
lookup) followed by the caller's own ``ray.get``. ``objstore-conformance bench --impl ray`` times the adapter,
as it times every implementation; this script shows how much of that is Ray's and how much the directory's.

Each figure is the median of ``--calls`` calls; the operations take turns, ``--rounds`` times, and the
median over rounds is printed with the spread (lowest and highest round). Sizes are float64 arrays of 1 KiB,
1 MiB and 64 MiB. A put is followed by dropping the ref (bare) or deleting the id (adapter), outside the
timed call. The Ray is started the adapter's way (``ensure_ray``: 127.0.0.1 only) and stopped at exit.

Not a benchmark module: asv imports it while discovering benchmarks and finds nothing to run.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from typing import Any, Dict, List, Optional, Sequence

from conformance.bench.targets import median_seconds

SIZES = {"1KiB": 2**10, "1MiB": 2**20, "64MiB": 64 * 2**20}


def measure(rounds: int, calls: int, sizes: Sequence[str] = tuple(SIZES)) -> Dict[str, List[float]]:
    """Every operation's per-round medians (seconds), keyed ``"<op> <size>"``, for ``sizes`` (keys of
    :data:`SIZES`). One size at a time: its puts are timed first, then the objects whose gets are timed are
    put, and deleted before the next size, so Ray's store (200 MiB when ``ensure_ray`` starts it) never holds
    more than two objects of a size and the put in flight."""
    import numpy as np

    from conformance.adapters.ray_runtime import ensure_ray
    from conformance.adapters.ray_store import RayStoreFactory

    ray = ensure_ray()
    factory = RayStoreFactory()
    store = factory.create(capacity=2**30)
    figures: Dict[str, List[float]] = {}
    try:
        probe = store.put(b"probe")

        def lookup(oid: bytes) -> Any:
            return ray.get(store._actor.lookup.remote(oid, 0))

        for _ in range(rounds):
            ops: Dict[str, float] = {
                "directory round trip (lookup of an id)": median_seconds(partial(lookup, probe), calls),
            }
            for size in sizes:
                value = np.ones(SIZES[size] // 8)
                n = calls if size != "64MiB" else max(5, calls // 10)
                ops[f"bare ray.put {size}"] = median_seconds(partial(ray.put, value), n)
                ops[f"adapter put {size}"] = median_seconds(partial(store.put, value), n, store.delete)
                ref, oid = ray.put(value), store.put(value)
                ops[f"bare ray.get {size}"] = median_seconds(partial(ray.get, ref), calls)
                ops[f"adapter get {size}"] = median_seconds(partial(store.get, oid), calls)
                store.delete(oid)
                del ref
            for op, seconds in ops.items():
                figures.setdefault(op, []).append(seconds)
    finally:
        factory.destroy(store)
    return figures


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every operation (default 3)")
    parser.add_argument("--calls", type=int, default=100, help="calls per figure (64 MiB puts: a tenth)")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES),
                        help="array sizes (default: all)")
    args = parser.parse_args(argv)
    figures = measure(args.rounds, args.calls, args.sizes)
    width = max(map(len, figures))
    print(f"{'operation':<{width}}  median      spread over {args.rounds} rounds")
    for op, per_round in sorted(figures.items(), key=lambda item: (item[0].split()[-1], item[0])):
        print(f"{op:<{width}}  {_us(statistics.median(per_round)):>10}  "
              f"{_us(min(per_round))} - {_us(max(per_round))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
