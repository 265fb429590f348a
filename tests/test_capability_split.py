"""The store's zero copy is claimed apart from the serializer's: a zero-copy store paired with an in-band
serializer runs (and passes) the store's zero-copy clauses while the serializer's are not claimed."""

from __future__ import annotations

import pickle

import pytest

from conformance.api import Implementation
from conformance.report import run_implementation

SPEC = "conformance.adapters.narrow:inband_serializer"
STORE_CLAUSES = ("store.zero_copy.local", "store.immutability.read_only", "store.multiprocess.zero_copy")
SERIALIZER_CLAUSES = ("serializer.out_of_band.zero_copy", "serializer.out_of_band.read_only",
                      "serializer.out_of_band.inband_size")


@pytest.mark.parametrize("capability", ["store_zero_copy", "store_read_only"])
def test_a_store_capability_needs_store(capability):
    with pytest.raises(ValueError, match=f"claims '{capability}' but not 'store'"):
        Implementation(name="x", serializer=object(), capabilities=frozenset({capability}),
                       serialization_error=(pickle.PicklingError,), deserialization_error=(ValueError,))


def test_zero_copy_store_with_in_band_serializer_claims_the_store_clauses_alone():
    result = run_implementation(SPEC, clauses=STORE_CLAUSES + SERIALIZER_CLAUSES, max_examples=5)
    statuses = {c: result.clauses[c].status for c in STORE_CLAUSES + SERIALIZER_CLAUSES}
    assert all(statuses[c] == "pass" for c in STORE_CLAUSES), statuses
    assert all(statuses[c] == "not claimed" for c in SERIALIZER_CLAUSES), statuses
