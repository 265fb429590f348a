"""A correct implementation passes the clauses it claims, even when it is not the reference: CPython's
pure-Python ``pickle._Pickler`` (the pickler of joblib and dill) meets ``serializer.errors.original_type``.

That clause once raised its error by changing a dict while it was pickled; the pure-Python pickler takes a
dict's items in batches and never notices (``pickle._Pickler(io.BytesIO(), 5).dump(d)`` gives a consistent
frame), so it failed a correct pickler (issue 21). Its trigger is now an error a value's own
``__reduce_ex__``, ``__reduce__`` or ``__getstate__`` raises, which every pickler meets.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from hypothesis import settings

from conformance import test_serializer_errors as error_clauses  # the module: pytest must not collect its clauses here
from conformance.adapters.pickling import PICKLE_DUMP_ERRORS, PICKLE_LOAD_ERRORS, PicklerSerializer
from conformance.api import Implementation


def _pure_python_dumps(obj: Any, *, protocol: int, buffer_callback: Any = None) -> bytes:
    out = io.BytesIO()
    pickle._Pickler(out, protocol, buffer_callback=buffer_callback).dump(obj)  # type: ignore[attr-defined]
    return out.getvalue()


def pure_python_implementation() -> Implementation:
    """The stdlib's pure-Python pickler with stdlib ``pickle.loads``: correct, and not the C pickler."""
    return Implementation(name="pure-python-pickle", serializer=PicklerSerializer(_pure_python_dumps),
                          protocols=(3, 4, 5), capabilities=frozenset({"numpy", "recursive"}),
                          serialization_error=PICKLE_DUMP_ERRORS, deserialization_error=PICKLE_LOAD_ERRORS)


def test_pure_python_pickler_meets_original_type():
    """serializer.errors.original_type passes on pickle._Pickler, at the nightly profile's examples."""
    run = settings(max_examples=400, deadline=None, database=None)(
        error_clauses.test_serializer_errors_original_type)
    run(impl=pure_python_implementation())
