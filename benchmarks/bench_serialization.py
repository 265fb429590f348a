"""Serialization: the reference serializer beside stdlib pickle and cloudpickle, protocols 3, 4 and 5.

Each class crosses every payload of ``common.PAYLOADS`` with every library and protocol of
``common.LIBRARIES`` x ``common.PROTOCOLS``; ``setup`` builds the payload (and, for loads, the blob), so
the timed call is the (de)serialization alone. ``peakmem_`` twins report the process's peak RSS, payload
included: ``ci/bench-summary`` divides the growth over the smallest payload's by the payload's size.
"""

from __future__ import annotations

import warnings

from reference import NonContiguousCopyWarning

from .common import LIBRARIES, PROTOCOLS, cached, codec, payload, payload_labels


class _Base:
    params = [payload_labels(), LIBRARIES, PROTOCOLS]
    param_names = ["payload", "library", "protocol"]
    # 256 MiB at protocol 3 copies the data twice per call; 10 samples and the setup take a few seconds.
    timeout = 300

    def setup(self, payload_label: str, library: str, protocol: str) -> None:
        self.codec = codec(library, protocol, payload_label)
        self.value = payload(payload_label)
        # The reference serializer warns (once) when a large non-contiguous array is copied in-band.
        warnings.filterwarnings("ignore", category=NonContiguousCopyWarning)


class Dumps(_Base):
    """Serialize a payload: ``dumps(value)``."""

    def time_dumps(self, payload_label: str, library: str, protocol: str) -> None:
        self.codec.dumps(self.value)

    def peakmem_dumps(self, payload_label: str, library: str, protocol: str) -> None:
        self.codec.dumps(self.value)


class Loads(_Base):
    """Deserialize a payload: ``loads(blob)``, the blob made in setup."""

    def setup(self, payload_label: str, library: str, protocol: str) -> None:
        super().setup(payload_label, library, protocol)
        key = ("blob", (payload_label, library, protocol))
        self.blob = cached(key, lambda: self.codec.dumps(self.value))

    def time_loads(self, payload_label: str, library: str, protocol: str) -> None:
        self.codec.loads(self.blob)

    def peakmem_loads(self, payload_label: str, library: str, protocol: str) -> None:
        self.codec.loads(self.blob)
