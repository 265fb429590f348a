"""The adapters shipped with the suite: each builds an :class:`conformance.api.Implementation`.

``reference`` (this project), ``pickle3`` / ``pickle4`` / ``pickle5`` (the stdlib), ``cloudpickle``, and
``shared_memory`` (a minimal store on ``multiprocessing.shared_memory`` with stdlib pickle 5).
"""

from __future__ import annotations

from conformance.adapters.pickling import cloudpickle_implementation, pickle_implementation
from conformance.adapters.reference import reference_implementation
from conformance.adapters.shared_memory import shared_memory_implementation

__all__ = ["cloudpickle_implementation", "pickle_implementation", "reference_implementation",
           "shared_memory_implementation"]
