"""Serialization: the reference serializer beside stdlib pickle and cloudpickle, protocols 3, 4 and 5.

Each class crosses every payload of ``common.PAYLOADS`` with every library and protocol of
``common.LIBRARIES`` x ``common.PROTOCOLS``; ``setup`` builds the payload (and, for loads, the blob), so
the timed call is the (de)serialization alone. ``peakmem_`` twins report the process's peak RSS, payload
included: ``ci/bench-summary`` divides the growth over the smallest payload's by the payload's size.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Tuple

from reference import NonContiguousCopyWarning

from .common import LIBRARIES, PROTOCOLS, cached, codec, payload, payload_labels

# The reference serializer warns (once) when a large non-contiguous array is copied in-band.
warnings.filterwarnings("ignore", category=NonContiguousCopyWarning)


class _Base:
    """No ``setup``: asv_runner 0.3 and later time one call per sample in a class that has one (asv#966),
    which for a call of a few microseconds times a cold call and the timer. Each class builds its codec,
    payload and blob on its first call instead (once per process and parameters), so asv batches calls."""

    params = [payload_labels(), LIBRARIES, PROTOCOLS]
    param_names = ["payload", "library", "protocol"]
    # 256 MiB at protocol 3 copies the data twice per call; 10 samples and the setup take a few seconds.
    timeout = 300
    _state: Dict[Tuple[str, str, str], Tuple[Callable[[Any], Any], Any]] = {}

    def _build(self, payload_label: str, library: str, protocol: str) -> Tuple[Callable[[Any], Any], Any]:
        raise NotImplementedError

    def _s(self, payload_label: str, library: str, protocol: str) -> Tuple[Callable[[Any], Any], Any]:
        key = (payload_label, library, protocol)
        state = self._state.get(key)
        if state is None:
            warnings.filterwarnings("ignore", category=NonContiguousCopyWarning)  # again: pytest resets filters
            state = self._state[key] = self._build(*key)  # codec() raises skip() for a pair that cannot run
        return state


class Dumps(_Base):
    """Serialize a payload: ``dumps(value)``."""

    _state: Dict[Tuple[str, str, str], Tuple[Callable[[Any], Any], Any]] = {}

    def _build(self, payload_label: str, library: str, protocol: str) -> Tuple[Callable[[Any], Any], Any]:
        return codec(library, protocol, payload_label).dumps, payload(payload_label)

    def time_dumps(self, payload_label: str, library: str, protocol: str) -> None:
        dumps, value = self._s(payload_label, library, protocol)
        dumps(value)

    def peakmem_dumps(self, payload_label: str, library: str, protocol: str) -> None:
        dumps, value = self._s(payload_label, library, protocol)
        dumps(value)


class Loads(_Base):
    """Deserialize a payload: ``loads(blob)``, the blob made on the first call."""

    _state: Dict[Tuple[str, str, str], Tuple[Callable[[Any], Any], Any]] = {}

    def _build(self, payload_label: str, library: str, protocol: str) -> Tuple[Callable[[Any], Any], Any]:
        c = codec(library, protocol, payload_label)
        return c.loads, cached(("blob", (payload_label, library, protocol)),
                               lambda: c.dumps(payload(payload_label)))

    def time_loads(self, payload_label: str, library: str, protocol: str) -> None:
        loads, blob = self._s(payload_label, library, protocol)
        loads(blob)

    def peakmem_loads(self, payload_label: str, library: str, protocol: str) -> None:
        loads, blob = self._s(payload_label, library, protocol)
        loads(blob)
