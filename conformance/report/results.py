"""What a report holds: one :class:`ClauseResult` per clause and implementation, one :class:`ImplResult`
per implementation, and the :class:`Report` that gathers them and decides the verdict.

Rendering lives in :mod:`conformance.report.render` (terminal, Markdown, HTML) and
:mod:`conformance.report.export` (JSON, JUnit XML, and :func:`~conformance.report.export.write` for the
files), free functions of a :class:`Report`, which knows nothing of them; running the suite lives in
:mod:`conformance.report.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["ADAPTER_MARK", "ClauseResult", "EXIT_FAILED", "EXIT_PASSED", "EXIT_USAGE", "ImplResult", "Report",
           "STATUSES", "SYMBOLS"]

#: Cell statuses, worst first: how the items of one clause combine into one cell.
STATUSES = ("fail", "error", "xpass", "xfail", "pass", "not claimed", "skip", "not run")
SYMBOLS = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "xfail": "xfail", "xpass": "XPASS",
           "not claimed": "-", "skip": "skip", "not run": "?"}

#: Appended to a cell whose clause the adapter's own code meets (``Implementation.adapter_tested``).
ADAPTER_MARK = "*"

#: ``objstore-conformance report`` exit statuses (documented in conformance/README.md).
EXIT_PASSED = 0  # every claimed clause passes (known failures may be xfail, or XPASS without --strict-xfail)
EXIT_FAILED = 1  # a claimed clause fails or errors, a run broke down, or (--strict-xfail) a clause XPASSed
EXIT_USAGE = 2  # nothing was run: an implementation cannot be loaded or built, or an option or xfails file is wrong


@dataclass
class ClauseResult:
    """One cell: a clause's combined status for one implementation, with the first failure's details."""

    status: str
    items: Dict[str, str] = field(default_factory=dict)  # nodeid -> outcome
    message: str = ""
    example: str = ""
    reproduce: str = ""
    reason: str = ""
    nodeid: str = ""
    seconds: float = 0.0  # the clause's tests' run time, summed


@dataclass
class ImplResult:
    """All clauses of one implementation, how long it took and what the subprocess said if it failed."""

    name: str
    clauses: Dict[str, ClauseResult]
    seconds: float
    exitstatus: Optional[int]
    log: str = ""
    description: str = ""
    capabilities: List[str] = field(default_factory=list)
    note: str = ""  # what went wrong around the run (killed for time, stuck at exit), if anything
    #: Clause id -> why its check is met by the adapter's own code (``Implementation.adapter_tested``).
    adapter_tested: Dict[str, str] = field(default_factory=dict)

    @property
    def broken(self) -> bool:
        """True when the run did not get as far as results: pytest crashed, was killed, or collected nothing."""
        return self.exitstatus not in (0, 1) or not self.clauses


@dataclass
class Report:
    """The results of every implementation, ready to render.

    ``strict_xfail``: an ``XPASS`` (a known failure that this run did not hit) fails the gate too, so that a
    fixed bug leaves the xfails file.
    """

    impls: List[ImplResult]
    clause_ids: List[str]
    summaries: Dict[str, str]
    seconds: float
    settings: Dict[str, Any]
    strict_xfail: bool = False
    #: The benchmarks' figures (``conformance.report.performance.Performance``), when ``report --bench`` found any.
    performance: Any = None

    def cell(self, impl: ImplResult, clause_id: str) -> ClauseResult:
        return impl.clauses.get(clause_id, ClauseResult(status="not run"))

    @property
    def failing_statuses(self) -> Tuple[str, ...]:
        """The cell statuses that fail the gate: ``fail`` and ``error``, and ``xpass`` when strict."""
        return ("fail", "error", "xpass") if self.strict_xfail else ("fail", "error")

    @property
    def failed(self) -> bool:
        """True when a claimed clause failed (or errored, or XPASSed under ``strict_xfail``), or an
        implementation's run broke down."""
        for impl in self.impls:
            if any(c.status in self.failing_statuses for c in impl.clauses.values()):
                return True
            if impl.broken:
                return True
        return False

    @property
    def exit_status(self) -> int:
        """:data:`EXIT_FAILED` when :attr:`failed`, else :data:`EXIT_PASSED`."""
        return EXIT_FAILED if self.failed else EXIT_PASSED

    @property
    def verdict(self) -> str:
        """One line: why the gate fails, or that it passes."""
        if not self.failed:
            return "every claimed clause passes"
        if any(c.status in ("fail", "error") for i in self.impls for c in i.clauses.values()):
            return "a claimed clause fails"
        if any(i.broken for i in self.impls):
            return "a run broke down before it reported its results"
        return "a known failure passed (XPASS) under --strict-xfail: take it out of the xfails file"

    def adapter_tested(self) -> List[Tuple[ImplResult, str, str]]:
        """``(implementation, clause id, why)`` of every cell the adapter's own code meets, in matrix order."""
        return [(impl, cid, impl.adapter_tested[cid]) for impl in self.impls for cid in self.clause_ids
                if cid in impl.adapter_tested]

    def symbol(self, impl: ImplResult, clause_id: str) -> str:
        """The cell's symbol in the matrix: :data:`SYMBOLS` of its status, with :data:`ADAPTER_MARK` when the
        adapter's own code meets the clause and it ran (pass, fail, ...)."""
        status = self.cell(impl, clause_id).status
        marked = clause_id in impl.adapter_tested and status not in ("not claimed", "skip", "not run")
        return SYMBOLS[status] + (ADAPTER_MARK if marked else "")

    def failures(self) -> List[Tuple[ImplResult, str, ClauseResult]]:
        return [(impl, cid, self.cell(impl, cid)) for impl in self.impls for cid in self.clause_ids
                if self.cell(impl, cid).status in ("fail", "error", "xpass")]
