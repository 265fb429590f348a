"""asv results files read back: one file is one run of one machine and interpreter at one commit.

asv 0.6 writes each benchmark as a row of ``result_columns`` (``result``, ``params``, ``started_at``, the
statistics ``stats_q_25``/``stats_q_75`` and, with ``--record-samples``, ``samples``); a parametrized
benchmark holds one value per combination of its parameters, in ``itertools.product`` order, and each
parameter value as its ``repr``. A skipped or failed combination is ``NaN`` or ``null``. This module reads
that layout with ``json`` (no asv needed, so the report reads results where asv is not installed) and
decodes the parameter values with ``ast.literal_eval``.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

__all__ = ["Entry", "Results", "decode_param"]


def decode_param(text: str) -> str:
    """A parameter value as asv stores it (its ``repr``, ``"'1MiB'"``) -> the value as text (``1MiB``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return str(value)


def _number(value: Any) -> Optional[float]:
    """``value`` when it is a measurement; ``None`` for asv's NaN (a skipped benchmark) or a failure."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _at(values: Any, i: int) -> Any:
    """``values[i]`` of a column, or ``None`` when the column is absent or short."""
    return values[i] if isinstance(values, list) and i < len(values) else None


@dataclass(frozen=True)
class Entry:
    """One measured combination: benchmark, parameter values, median and quartiles (``None`` when asv did
    not record them), samples (empty without ``--record-samples``)."""

    name: str
    params: Tuple[str, ...]
    value: float
    q25: Optional[float] = None
    q75: Optional[float] = None
    samples: Tuple[float, ...] = ()


class Results:
    """One asv results file. ``get(name, *params)`` is the recorded value (a time's median), or ``None``.

    ``since_ms``: rows recorded before this time (ms since the epoch) count as absent (another run's).
    Raises ``OSError`` for a missing file and ``ValueError``/``KeyError`` for one that is not asv 0.6's
    results layout."""

    def __init__(self, path: Path, since_ms: int = 0) -> None:
        self.path = Path(path)
        self.since_ms = since_ms
        self.data: Dict[str, Any] = json.loads(self.path.read_text())
        self._columns: List[str] = list(self.data["result_columns"])
        self._col = {c: i for i, c in enumerate(self._columns)}
        for needed in ("result", "params", "started_at"):
            if needed not in self._col:
                raise KeyError(f"{self.path}: not an asv results file (no {needed!r} column)")

    @property
    def commit(self) -> str:
        return str(self.data.get("commit_hash", ""))

    @property
    def machine(self) -> str:
        return str(self.data.get("params", {}).get("machine", ""))

    def _cell(self, row: Sequence[Any], column: str) -> Any:
        i = self._col.get(column)
        return row[i] if i is not None and i < len(row) else None

    def _fresh(self, row: Sequence[Any]) -> bool:
        return not self.since_ms or (self._cell(row, "started_at") or 0) >= self.since_ms

    def names(self) -> List[str]:
        """The benchmark names in the file."""
        return list(self.data["results"])

    def param_values(self, name: str) -> List[List[str]]:
        """The decoded parameter values of benchmark ``name``, one list per parameter (``[]``: none)."""
        row = self.data["results"].get(name)
        if row is None:
            return []
        return [[decode_param(p) for p in values] for values in (self._cell(row, "params") or [])]

    def entries(self, name: Optional[str] = None) -> Iterator[Entry]:
        """Every measured combination (of benchmark ``name``, or of all), skipped ones left out."""
        for bench, row in self.data["results"].items():
            if (name is not None and bench != name) or not self._fresh(row):
                continue
            lists = self.param_values(bench)
            combos = list(itertools.product(*lists)) if lists else [()]
            per = {c: self._cell(row, c) for c in ("result", "stats_q_25", "stats_q_75", "samples")}
            if not lists:
                per = {c: [v] for c, v in per.items()}
            for i, combo in enumerate(combos):
                value = _number(_at(per["result"], i))
                if value is None:
                    continue
                samples = _at(per["samples"], i)
                yield Entry(bench, tuple(combo), value, _number(_at(per["stats_q_25"], i)),
                            _number(_at(per["stats_q_75"], i)),
                            tuple(s for s in samples if _number(s) is not None) if isinstance(samples, list) else ())

    def entry(self, name: str, *params: str) -> Optional[Entry]:
        """The combination ``params`` of benchmark ``name``, or ``None``."""
        for e in self.entries(name):
            if e.params == tuple(params):
                return e
        return None

    def get(self, name: str, *params: str) -> Optional[float]:
        """The value of benchmark ``name`` at ``params`` (a time's median), or ``None``."""
        e = self.entry(name, *params)
        return None if e is None else e.value

    def newest_ms(self, prefix: str = "") -> int:
        """When the newest benchmark named ``prefix...`` was recorded (ms since the epoch; 0: never)."""
        return max((self._cell(row, "started_at") or 0 for name, row in self.data["results"].items()
                    if name.startswith(prefix)), default=0)
