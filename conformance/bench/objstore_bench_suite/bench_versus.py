"""An implementation against the reference, interleaved: the ratio that the ``--compare`` gate reads.

The timed benchmarks measure each parameter combination in a burst of about a second, one after the other,
so on a busy machine two combinations (or two runs) meet different loads and their medians move by 20-30 %
on their own. Here each operation of the implementation is timed alternately with the same operation of the
reference, call by call, in one process: both meet the same load at the same moments, and the median of
the per-pair ratios holds still where the medians themselves do not.

``VersusReference.track_ratio`` (impl, op) is that median: 1.0 when the implementation is as fast as the
reference, 1.25 when it is 25 % slower. ``op`` is ``put:<value>``, ``get:<value>``, ``dumps:<payload>`` or
``loads:<payload>`` (dumps and loads at the highest protocol both claim).
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Tuple

from conformance.bench.objstore_bench_suite.common import (
    IMPLS,
    QUICK_MODE,
    ROUNDS,
    capacity_for,
    check_claims,
    parameters,
    store_value,
)
from conformance.bench.payloads import payload
from conformance.bench.plan import skip
from conformance.bench.targets import REFERENCE, implementation, store

#: Pairs timed per operation (each pair: one call of the implementation, one of the reference).
PAIRS = 201 if QUICK_MODE else 1001


def ops(quick: bool) -> List[str]:
    """The operations compared: puts and gets of every store value, dumps and loads of every payload (quick:
    of a dict alone; asv runs each combination in a process of its own, and the import dominates)."""
    p = parameters(quick)
    payloads = ["dict-100"] if quick else p["payloads"]
    return ([f"put:{v}" for v in p["values"]] + [f"get:{v}" for v in p["values"]]
            + [f"dumps:{x}" for x in payloads] + [f"loads:{x}" for x in payloads])


#: A timed call and what to do after it (outside the timing), for one implementation.
Step = Tuple[Callable[[], Any], Callable[[Any], None]]


def _nothing(_: Any) -> None:
    return None


def _step(spec: str, op: str) -> Step:
    kind, _, label = op.partition(":")
    if kind in ("put", "get"):
        s = store(spec, ("versus", op), capacity_for(label))
        value = store_value(label)
        if kind == "put":
            s.delete(s.put(value))  # warm
            return (lambda: s.put(value)), s.delete
        oid = s.put(value)
        s.get(oid)
        return (lambda: s.get(oid)), _nothing
    serializer = implementation(spec).serializer
    protocol = max(set(implementation(spec).protocols) & set(implementation(REFERENCE).protocols))
    value = payload(label)

    def dumps() -> bytearray:
        frame = serializer.serialize(value, protocol=protocol)
        out = bytearray(frame.frame_size)
        frame.write_to(out)
        return out

    if kind == "dumps":
        return dumps, _nothing
    blob = bytes(dumps())
    return (lambda: serializer.deserialize(blob)), _nothing


def _claims(spec: str, op: str) -> None:
    kind, _, label = op.partition(":")
    if kind in ("put", "get"):
        check_claims(spec, "Put", payload=label)
    else:
        both = set(implementation(spec).protocols) & set(implementation(REFERENCE).protocols)
        if not both:
            raise skip(f"{spec}: no pickle protocol in common with the reference")
        check_claims(spec, "Dumps", protocol=str(max(both)), payload=label)


def interleaved_ratio(mine: Step, theirs: Step, pairs: int) -> float:
    """The median over ``pairs`` of (time of ``mine``'s call) / (time of ``theirs``'s), the two called
    alternately (which goes first alternates too); the ``after`` of each runs outside the timing."""
    timer = time.perf_counter
    ratios: List[float] = []
    for i in range(pairs):
        times: List[float] = [0.0, 0.0]
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            call, after = (mine, theirs)[which]
            start = timer()
            result = call()
            times[which] = timer() - start
            after(result)
        if times[1] > 0:
            ratios.append(times[0] / times[1])
    ratios.sort()
    return ratios[len(ratios) // 2]


class VersusReference:
    """The implementation's time over the reference's for one operation, timed in alternation (the median
    of the per-pair ratios); the reference itself is not compared with itself."""

    params = [IMPLS, ops(QUICK_MODE)]
    param_names = ["impl", "op"]
    timeout = 300
    rounds = ROUNDS
    _steps: Optional[Tuple[Step, Step]] = None

    def setup(self, impl: str, op: str) -> None:
        if impl == REFERENCE:
            raise skip("the reference is not compared with itself")
        _claims(impl, op)
        self._steps = (_step(impl, op), _step(REFERENCE, op))
        interleaved_ratio(*self._steps, pairs=5)  # first calls (caches, lazy imports) out of the figure

    def track_ratio(self, impl: str, op: str) -> float:
        assert self._steps is not None
        return interleaved_ratio(*self._steps, pairs=PAIRS)

    track_ratio.unit = "ratio"  # type: ignore[attr-defined]
