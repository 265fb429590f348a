"""Correct but narrower implementations: the reference, claiming less than it can.

Each factory here returns the reference implementation with one claim taken away (a protocol, a
capability). They exist to prove a property of the suite, not of the reference: a clause an implementation
*claims* always runs and passes, whatever else it does not claim (``tests/test_conformance_narrow.py``). A
clause that drew an unclaimed protocol inside ``@given`` and skipped would be reported "not claimed" for
the whole clause; these implementations make that mistake visible.

Each is loadable by its own name, ``conformance.adapters.narrow:<factory>``, which is also its
``Implementation.name`` (clauses load an implementation again, by name, in fresh interpreters).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, FrozenSet, Tuple

from conformance.api import Implementation

__all__ = ["NARROW", "inband_serializer", "no_eviction", "no_multiprocess", "no_raw_buffers", "protocol5_only"]


def _narrowed(factory: str, *, drop: FrozenSet[str] = frozenset(), protocols: Tuple[int, ...] = ()) -> Implementation:
    from conformance.adapters.reference import reference_implementation

    base = reference_implementation()
    return dataclasses.replace(
        base, name=f"{__name__}:{factory}", capabilities=base.capabilities - drop,
        protocols=protocols or base.protocols,
        description=f"the reference, narrowed: {factory.replace('_', ' ')}")


def protocol5_only() -> Implementation:
    """The reference claiming pickle protocol 5 only (every capability kept)."""
    return _narrowed("protocol5_only", protocols=(5,))


def no_eviction() -> Implementation:
    """The reference claiming a store without eviction."""
    return _narrowed("no_eviction", drop=frozenset({"eviction"}))


def no_multiprocess() -> Implementation:
    """The reference claiming a store that is not shared between processes (no ``multiprocess``)."""
    return _narrowed("no_multiprocess", drop=frozenset({"multiprocess"}))


def no_raw_buffers() -> Implementation:
    """The reference claiming a store without raw create/seal/abort/get_buffer (``store`` alone)."""
    return _narrowed("no_raw_buffers", drop=frozenset({"raw_buffers"}))


def inband_serializer() -> Implementation:
    """The reference store paired with stdlib pickle kept in-band (the kit's serializer, ``out_of_band=False``):
    a zero-copy, read-only store claims ``store_zero_copy`` and ``store_read_only`` without the serializer's
    ``out_of_band``, ``zero_copy`` and ``read_only``. Not in :data:`NARROW` (the suite's other claims are the
    reference's); ``tests/test_capability_split.py`` runs its zero-copy clauses."""
    import pickle

    from conformance.adapters.reference import reference_implementation
    from conformance.kit import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS, PickleLikeSerializer

    base = reference_implementation()
    return dataclasses.replace(
        base, name=f"{__name__}:inband_serializer", serializer=PickleLikeSerializer(pickle.dumps, out_of_band=False),
        capabilities=base.capabilities - {"out_of_band", "zero_copy", "read_only", "custom_serializers", "inspect",
                                          "numpy_byte_order", "by_value_functions", "dynamic_classes"},
        serialization_error=PICKLE_DUMP_ERRORS, deserialization_error=PICKLE_LOAD_ERRORS,
        description="the reference store with stdlib pickle kept in-band")


#: Every narrow implementation, by the name it loads under.
NARROW: Dict[str, Callable[[], Implementation]] = {
    f"{__name__}:{f.__name__}": f for f in (protocol5_only, no_eviction, no_multiprocess, no_raw_buffers)
}
