"""objstore-conformance: a property-based conformance suite for object stores with pickle-5 serializers.

Run it with ``pytest --pyargs conformance --impl NAME`` (see :mod:`conformance.plugin`) or print the
compatibility matrix with ``objstore-conformance report``. The contract is :mod:`conformance.api`; the
strategies in :mod:`conformance.strategies` are public and reusable.
"""

from __future__ import annotations

from conformance.api import CAPABILITIES, Implementation
from conformance.registry import available, load_implementation

__all__ = ["CAPABILITIES", "Implementation", "available", "load_implementation"]
