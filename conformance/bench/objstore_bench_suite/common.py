"""Parameters and timing attributes shared by the suite's modules (no benchmarks here)."""

from __future__ import annotations

from typing import Any, Dict, List

from conformance.bench.payloads import QUICK, array_of
from conformance.bench.plan import SMALL_VALUES, skip, skip_reason
from conformance.bench.targets import implementation, specs

#: The implementations of this run, the reference first (an asv parameter of every class that takes one).
IMPLS: List[str] = specs()


def _preload() -> None:
    """Load every implementation now, at import: asv forks each benchmark process from one that imported the
    suite, so the adapters (and what they import) are loaded once, not once per parameter combination. One
    that fails to load is left for its benchmarks to report (asv records them as failed, with the error)."""
    for spec in IMPLS:
        try:
            implementation(spec)
        except Exception:  # noqa: BLE001 - reported by each benchmark that needs it
            pass


_preload()
#: Whether this is a quick run (``OBJSTORE_BENCH_QUICK``).
QUICK_MODE = QUICK
#: Every protocol a serializer may claim and be timed at.
PROTOCOLS = ["3", "4", "5"]


def parameters(quick: bool) -> Dict[str, List[str]]:
    """The parameter values of a full or a quick run: ``payloads`` (serializer payloads: the quick mode
    keeps one per family and no big array), ``values`` (store values: small ones, then float64 arrays of
    1 KiB to 64 MiB, 1 MiB at most when quick) and ``arrays`` (the arrays alone)."""
    arrays = ["1KiB", "1MiB"] + ([] if quick else ["64MiB"])
    payloads = (["float64-1MiB", "dict-100", "closure", "dynamic-instance", "recursive"]
                if quick else
                ["float64-1KiB", "float64-1MiB", "float64-64MiB", "noncontig-1MiB", "dict-100", "list-10k-ints",
                 "list-1000-dicts", "lambda", "closure", "dynamic-class", "dynamic-instance", "recursive"])
    return {"payloads": payloads, "values": list(SMALL_VALUES) + arrays, "arrays": arrays}


_PARAMS = parameters(QUICK)
SERIALIZER_PAYLOADS: List[str] = _PARAMS["payloads"]
STORE_VALUES: List[str] = _PARAMS["values"]
STORE_ARRAYS: List[str] = _PARAMS["arrays"]

#: asv's ``repeat`` (min samples, max samples, max seconds) of the timed benchmarks, and ``rounds`` (processes
#: per benchmark, interleaved with the other benchmarks'). The quick mode takes one round of fewer samples.
REPEAT = (7, 20, 0.5) if QUICK else (10, 50, 5.0)
ROUNDS = 1 if QUICK else 2
#: A put is the gate's main figure (``--compare``): more samples, cheap ones, so its median holds still.
PUT_REPEAT = (31, 61, 1.5) if QUICK else (20, 100, 10.0)
#: asv's warm-up before the samples of a batched benchmark (the quick mode's shorter).
WARMUP = 0.05 if QUICK else 0.3


def store_value(label: str) -> Any:
    """The value a store benchmark puts: ``"int"``, ``"dict-10"``, or a float64 array of the size named."""
    if label == "int":
        return 12345
    if label == "dict-10":
        return {f"k{i}": i for i in range(10)}
    return array_of(label)


def capacity_for(label: str) -> int:
    """Room for two objects of ``label`` plus headers (a put and the one before it not yet freed)."""
    nbytes = 0 if label in SMALL_VALUES else array_of(label).nbytes
    return 2 * nbytes + (8 << 20)


def check_claims(impl_spec: str, benchmark: str, **params: Any) -> None:
    """Raise the asv skip, with the reason, when ``impl_spec`` does not claim what ``benchmark`` needs."""
    reason = skip_reason(implementation(impl_spec), benchmark, **params)
    if reason is not None:
        raise skip(f"{impl_spec}: {reason}")
