"""The adapter that lets objstore-conformance test this serializer.

    pytest --pyargs conformance --impl objstore_dill.conformance:implementation \
        --xfails-file conformance-xfails.txt
"""

from __future__ import annotations

import sys

from conformance.api import Implementation
from objstore_dill import DillSerializer, FrameError, SerializationError

#: The spec by which the suite finds this factory; the implementation carries it as its name, because some
#: clauses load the implementation again, by name, in a fresh interpreter.
SPEC = "objstore_dill.conformance:implementation"


def implementation() -> Implementation:
    """dill as the suite sees it: no store, pickle protocols 3-5, functions by value.

    Not claimed: ``dynamic_classes`` (dill pickles a class of an importable module by reference, so a fresh
    interpreter cannot rebuild one made at run time there) and ``out_of_band`` / ``zero_copy`` /
    ``read_only`` (dill 0.4 keeps protocol 5's buffers in-band: it does not pass ``buffer_callback`` on).

    Protocol 5 only from CPython 3.10: dill pickles with the stdlib's pure-Python Pickler, which before 3.10
    does not memoize a bytearray at protocol 5, so two references to one bytearray come back as two
    (serializer.numpy.shared_members and serializer.identity.shared find it on 3.8 and 3.9).
    """
    import dill

    return Implementation(
        name=SPEC,
        serializer=DillSerializer(),
        protocols=(3, 4, 5) if sys.version_info >= (3, 10) else (3, 4),
        capabilities=frozenset({"numpy", "recursive", "by_value_functions"}),
        serialization_error=(SerializationError,),
        deserialization_error=(FrameError,),
        description=f"dill {dill.__version__}",
    )
