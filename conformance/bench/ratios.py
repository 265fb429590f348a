"""An implementation's figures beside the reference's and the physical limits', from one results file.

Every ratio is taken between two figures of the same run (one asv results file), never across runs:

* ``vs reference``: the implementation's median over the reference's, same benchmark and parameters;
* ``vs limit``: a store put of an array over the faster memcpy of the same array into warm memory
  (``bench_limits.Memcpy``), a serializer's dumps or loads over stdlib pickle's zero-copy bound on the same
  payload (``bench_limits.PickleBound``).

A ratio above 1 means the implementation is slower (or uses more).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from conformance.bench.payloads import param_bytes
from conformance.bench.results import Results
from conformance.bench.targets import REFERENCE

__all__ = ["Row", "format_table", "format_value", "rows"]

#: The implementation's benchmarks, in the order they are shown, with the unit of their values.
BENCHMARKS = {
    "bench_store.Put.time_put": "s", "bench_store.Get.time_get": "s", "bench_store.FirstGet.time_get": "s",
    "bench_store.GetOtherProcess.track_get": "s", "bench_store.PutMemory.track_heap": "payload",
    "bench_store.PutMemory.track_rss": "payload",
    "bench_serializer.Dumps.time_dumps": "s", "bench_serializer.Loads.time_loads": "s",
    "bench_versus.VersusReference.track_ratio": "ratio",
}
#: The interleaved ratio to the reference (``bench_versus``): what the ``--compare`` gate reads.
VERSUS = "bench_versus.VersusReference.track_ratio"
MEMCPY = "bench_limits.Memcpy.time_copy"
PICKLE_BOUND = {"bench_serializer.Dumps.time_dumps": "bench_limits.PickleBound.time_dumps",
                "bench_serializer.Loads.time_loads": "bench_limits.PickleBound.time_loads"}


@dataclass(frozen=True)
class Row:
    """One benchmark and parameter combination of the implementation, beside the reference and a limit."""

    benchmark: str
    params: List[str]
    unit: str
    value: float
    reference: Optional[float]
    vs_reference: Optional[float]
    limit_name: Optional[str]
    limit: Optional[float]
    vs_limit: Optional[float]

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None or b <= 0 else a / b


def _memcpy(res: Results, size: str) -> Optional[float]:
    copies = [res.get(MEMCPY, size, "warm", how) for how in ("np.copyto", "memoryview")]
    known = [c for c in copies if c is not None]
    return min(known) if known else None


def _limit(res: Results, benchmark: str, params: List[str]) -> "tuple[Optional[str], Optional[float]]":
    if benchmark == "bench_store.Put.time_put":
        try:
            param_bytes(params[-1])
        except ValueError:
            return None, None  # a small value: no copy to compare with
        return "memcpy (warm)", _memcpy(res, params[-1])
    bound = PICKLE_BOUND.get(benchmark)
    if bound is not None:
        return "pickle p5 zero-copy", res.get(bound, params[-1])
    return None, None


def rows(res: Results, spec: str) -> List[Row]:
    """The rows of implementation ``spec`` in ``res`` (the reference's own when ``spec`` is it)."""
    out: List[Row] = []
    for benchmark, unit in BENCHMARKS.items():
        for e in res.entries(benchmark):
            if not e.params or e.params[0] != spec:
                continue
            params = list(e.params[1:])
            if unit == "ratio":  # already the implementation over the reference, timed in alternation
                out.append(Row(benchmark, params, unit, e.value, None, e.value, None, None, None))
                continue
            reference = res.get(benchmark, REFERENCE, *params)
            limit_name, limit = _limit(res, benchmark, params)
            out.append(Row(benchmark, params, unit, e.value, reference, _ratio(e.value, reference), limit_name,
                           limit, _ratio(e.value, limit)))
    return out


def format_value(value: Optional[float], unit: str) -> str:
    """A time in s/ms/us/ns, or a plain number for another unit; ``n/a`` for ``None``."""
    if value is None:
        return "n/a"
    if unit == "ratio":
        return f"{value:.2f}x"
    if unit != "s":
        return f"{value:.3g}"
    for name, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= factor:
            return f"{value / factor:.3g} {name}"
    return f"{value / 1e-9:.3g} ns"


def _x(ratio: Optional[float]) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def short_name(benchmark: str) -> str:
    """``bench_store.Put.time_put`` -> ``store put``."""
    _module, cls, method = benchmark.split(".")
    area = "store" if "store" in _module else "serializer"  # (bench_versus: named below)
    what = {"time_put": "put", "time_get": "get", "track_get": "get", "track_heap": "heap/payload",
            "track_rss": "RSS/payload", "time_dumps": "dumps", "time_loads": "loads",
            "track_ratio": "ratio"}[method]
    if cls == "VersusReference":
        return "interleaved vs reference"
    prefix = {"FirstGet": "first ", "GetOtherProcess": "other-process ", "PutMemory": "put "}.get(cls, "")
    return f"{area} {prefix}{what}"


def format_table(table: List[Row], spec: str) -> str:
    """``table`` as aligned text columns: benchmark, parameters, value, reference, ratios."""
    header = ["benchmark", "params", spec if len(spec) < 24 else "impl", REFERENCE, "vs ref", "limit",
              "vs limit"]
    body = [[short_name(r.benchmark), "/".join(r.params), format_value(r.value, r.unit),
             format_value(r.reference, r.unit), _x(r.vs_reference),
             "" if r.limit_name is None else f"{r.limit_name} {format_value(r.limit, r.unit)}",
             _x(r.vs_limit) if r.limit_name else ""] for r in table]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
