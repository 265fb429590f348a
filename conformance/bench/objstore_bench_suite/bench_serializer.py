"""A serializer's dumps and loads, through its adapter: each claimed protocol and payload family.

``dumps`` is ``serialize(value, protocol=p)`` and ``write_to`` of the frame into a new buffer (a frame that
defers its work to ``write_to`` pays it here); ``loads`` is ``deserialize`` of such a frame. The reference is
timed the same way, beside, and ``bench_limits.PickleBound`` gives the zero-copy bound.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Tuple

from conformance.bench.objstore_bench_suite.common import (
    IMPLS,
    PROTOCOLS,
    REPEAT,
    ROUNDS,
    SERIALIZER_PAYLOADS,
    WARMUP,
    check_claims,
)
from conformance.bench.payloads import payload
from conformance.bench.targets import implementation


def _frame_bytes(serializer: Any, value: Any, protocol: int) -> bytearray:
    frame = serializer.serialize(value, protocol=protocol)
    out = bytearray(frame.frame_size)
    frame.write_to(out)
    return out


class _Base:
    """No ``setup``: asv_runner 0.3 and later time one call per sample in a class that has one (asv#966),
    which for a call of a few microseconds times a cold call and the timer. The serializer, payload and
    frame are built on the first call instead (once per process and parameters), so asv batches calls."""

    params = [IMPLS, PROTOCOLS, SERIALIZER_PAYLOADS]
    param_names = ["impl", "protocol", "payload"]
    timeout = 300
    repeat = REPEAT
    rounds = ROUNDS
    warmup_time = WARMUP
    benchmark = ""
    _state: Dict[Tuple[str, str, str], Tuple[Callable[[], Any], Any]] = {}

    def _build(self, impl: str, protocol: str, label: str) -> Tuple[Callable[[], Any], Any]:
        raise NotImplementedError

    def _call(self, impl: str, protocol: str, label: str) -> None:
        key = (impl, protocol, label)
        state = self._state.get(key)
        if state is None:
            check_claims(impl, self.benchmark, protocol=protocol, payload=label)
            warnings.simplefilter("ignore")  # a serializer's own warnings (a copied non-contiguous array)
            state = self._state[key] = self._build(impl, protocol, label)
        state[0]()


class Dumps(_Base):
    """``serialize`` and ``write_to``: the value turned into one frame."""

    benchmark = "Dumps"
    _state: Dict[Tuple[str, str, str], Tuple[Callable[[], Any], Any]] = {}

    def _build(self, impl: str, protocol: str, label: str) -> Tuple[Callable[[], Any], Any]:
        serializer, value, number = implementation(impl).serializer, payload(label), int(protocol)
        return (lambda: _frame_bytes(serializer, value, number)), None

    def time_dumps(self, impl: str, protocol: str, label: str) -> None:
        self._call(impl, protocol, label)


class Loads(_Base):
    """``deserialize`` of a frame written by ``write_to``."""

    benchmark = "Loads"
    _state: Dict[Tuple[str, str, str], Tuple[Callable[[], Any], Any]] = {}

    def _build(self, impl: str, protocol: str, label: str) -> Tuple[Callable[[], Any], Any]:
        serializer = implementation(impl).serializer
        frame = bytes(_frame_bytes(serializer, payload(label), int(protocol)))
        return (lambda: serializer.deserialize(frame)), frame

    def time_loads(self, impl: str, protocol: str, label: str) -> None:
        self._call(impl, protocol, label)
