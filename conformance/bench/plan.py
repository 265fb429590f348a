"""What an implementation's claims let the benchmarks measure, and why the rest is skipped.

One function, :func:`skip_reason`, decides for every benchmark of the shipped suite: the suite's ``setup``
raises :func:`skip` with its reason (asv records the benchmark as skipped), and ``objstore-conformance
bench`` prints the same reasons before it runs, from :func:`skipped`. Nothing is measured that the adapter
does not claim: a serializer is timed at the protocols in ``Implementation.protocols`` and on the payload
families its capabilities cover; a store only with ``store``, a get from another process only with
``multiprocess``.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from conformance.api import Implementation
from conformance.bench.payloads import PAYLOAD_NEEDS

__all__ = ["SERIALIZER_BENCHMARKS", "STORE_BENCHMARKS", "skip", "skip_reason", "skipped"]

#: The serializer benchmarks (``bench_serializer.<Class>``): params (impl, protocol, payload).
SERIALIZER_BENCHMARKS = ("Dumps", "Loads")
#: The store benchmarks (``bench_store.<Class>``) and the capability each needs beyond ``store``.
STORE_BENCHMARKS = {"Put": None, "Get": None, "FirstGet": None, "GetOtherProcess": "multiprocess",
                    "PutMemory": None}
#: Store payloads that are not arrays: any store takes them.
SMALL_VALUES = ("int", "dict-10")


def skip(reason: str) -> NotImplementedError:
    """The exception that skips a parameter combination, raised by a ``setup`` or by a benchmark's first
    call (asv reports it as skipped): asv_runner's ``SkipNotImplemented`` where it is installed (the only
    kind a benchmark body may raise), else a plain ``NotImplementedError``."""
    try:
        from asv_runner.benchmarks.mark import SkipNotImplemented  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return NotImplementedError(reason)
    return SkipNotImplemented(reason)  # type: ignore[no-any-return, unused-ignore]


def skip_reason(impl: Implementation, benchmark: str, *, protocol: Optional[str] = None,
                payload: Optional[str] = None) -> Optional[str]:
    """Why ``impl`` is not measured by ``benchmark`` (``"Dumps"``, ``"Put"``, ...) with these parameters, or
    ``None`` when it is. ``protocol`` is a pickle protocol as text (serializer benchmarks); ``payload`` a
    payload label of :data:`conformance.bench.payloads.PAYLOADS` or a store value (``"int"``, ``"1MiB"``).
    Raises ``ValueError`` for a benchmark name this module does not know."""
    caps = impl.capabilities
    if benchmark in SERIALIZER_BENCHMARKS:
        if protocol is not None and int(protocol) not in impl.protocols:
            return f"protocol {protocol} not claimed (protocols {', '.join(map(str, impl.protocols))})"
        need = PAYLOAD_NEEDS.get(payload or "")
        if need is not None and need not in caps:
            return f"payload {payload} needs capability {need!r}, not claimed"
        return None
    if benchmark not in STORE_BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}: the suite's are "
                         f"{', '.join(SERIALIZER_BENCHMARKS + tuple(STORE_BENCHMARKS))}")
    if "store" not in caps:
        return "no store: capability 'store' not claimed"
    need = STORE_BENCHMARKS[benchmark]
    if need is not None and need not in caps:
        return f"capability {need!r} not claimed"
    if payload is not None and payload not in SMALL_VALUES and "numpy" not in caps:
        return f"a {payload} float64 array needs capability 'numpy', not claimed"
    return None


def skipped(impl: Implementation, combos: Sequence[Tuple[str, Dict[str, Optional[str]]]]) -> List[Tuple[str, str]]:
    """``(what, reason)`` for each of ``combos`` (benchmark, keyword parameters) that ``impl`` skips, with
    one line per benchmark and reason (the parameters that share it are listed together)."""
    grouped: Dict[Tuple[str, str], List[str]] = {}
    for benchmark, params in combos:
        reason = skip_reason(impl, benchmark, **params)
        if reason is not None:
            label = "/".join(str(v) for v in params.values() if v is not None)
            grouped.setdefault((benchmark, reason), []).append(label)
    return [(f"{benchmark} [{', '.join(labels)}]" if any(labels) else benchmark, reason)
            for (benchmark, reason), labels in grouped.items()]
