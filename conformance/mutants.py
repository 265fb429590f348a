"""Mutants: implementations with one deliberate defect each, which the suite must catch."""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Tuple

from conformance.api import Implementation


class Mutant(NamedTuple):
    factory: Callable[[], Implementation]
    targets: Tuple[str, ...]
    defect: str


MUTANTS: Dict[str, Mutant] = {}
