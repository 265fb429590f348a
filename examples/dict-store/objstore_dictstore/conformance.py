"""The adapter that lets objstore-conformance test this store.

    pytest --pyargs conformance --impl objstore_dictstore.conformance:implementation \
        --xfails-file conformance-xfails.txt
"""

from __future__ import annotations

from conformance.api import Implementation
from objstore_dictstore import DictStoreFactory, ObjectExists, PickleSerializer, StoreError, StoreFull

#: The spec by which the suite finds this factory; the implementation carries it as its name, because some
#: clauses load the implementation again, by name, in a fresh interpreter.
SPEC = "objstore_dictstore.conformance:implementation"


def implementation() -> Implementation:
    """The dict store as the suite sees it. Not claimed: ``multiprocess`` (the store lives in one process),
    ``eviction`` (a full store refuses), ``nodes``, and the serializer's by-value functions and classes."""
    return Implementation(
        name=SPEC,
        serializer=PickleSerializer(),
        protocols=(5,),
        capabilities=frozenset({"numpy", "recursive", "out_of_band", "zero_copy", "read_only", "store",
                                "store_zero_copy", "store_read_only", "timeouts"}),
        store_factory=DictStoreFactory(),
        serialization_error=(StoreError,),
        deserialization_error=(StoreError,),
        object_exists_error=(ObjectExists,),
        store_full_error=(StoreFull,),
        timeout_error=(TimeoutError,),
        not_found_error=(KeyError,),
        description="a dict-backed store in one process (example)",
    )
