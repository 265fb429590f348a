"""The regression gate of ``objstore-conformance bench --compare BASE``: did a benchmark slow down by more
than the threshold?

What decides, for the implementation's figures present in both the base and the new run:

* **The interleaved ratios** (``bench_versus.VersusReference.track_ratio``: the implementation's time over
  the reference's, the two timed call by call in alternation). A combination regressed when its new ratio
  over its base ratio exceeds ``threshold``. Both implementations meet the same load at the same moments,
  so this holds still on a busy machine where medians taken a second apart do not (measured: on 2 cores at
  load 20-30, the medians of a put moved by up to 2.6x between unchanged runs).
* Without them (the reference itself, or a base recorded without them), **the medians**: ``ratio`` = new
  median / base median, divided by the reference's own new/base ratio when both runs measured it at the
  same parameters (``normalized``), regressed when past ``threshold`` with the new first quartile above
  the base's third (scaled alike).

When the interleaved ratios decide, the medians' changes are listed too, for information (``gated`` False).
Only times are compared; memory figures are shown, not gated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from conformance.bench.ratios import BENCHMARKS, VERSUS, short_name
from conformance.bench.results import Entry, Results
from conformance.bench.targets import REFERENCE

__all__ = ["Change", "Verdict", "compare", "parse_threshold"]


def parse_threshold(text: str) -> float:
    """``"1.25"`` or ``"25%"`` -> 1.25. Raises ``ValueError`` naming the problem for anything else, or for a
    threshold that is not above 1 (every run would fail)."""
    raw = text.strip()
    try:
        value = 1 + float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"--threshold must be a factor such as 1.25 or a percentage such as 25%, got {text!r}") \
            from None
    if not value > 1:
        raise ValueError(f"--threshold must be above 1 (a slowdown factor) or above 0% , got {text!r}")
    return value


@dataclass(frozen=True)
class Change:
    """One benchmark combination, base against new."""

    benchmark: str
    params: List[str]
    base: float
    new: float
    ratio: float
    normalized: Optional[float]
    regressed: bool
    gated: bool = True

    @property
    def decisive(self) -> float:
        """The ratio the decision used."""
        return self.ratio if self.normalized is None else self.normalized

    def describe(self) -> str:
        name = f"{short_name(self.benchmark)} [{'/'.join(self.params)}]"
        if self.benchmark == VERSUS:
            return f"{name}: {self.base:.3f}x -> {self.new:.3f}x the reference ({self.ratio:.2f}x)"
        norm = "" if self.normalized is None else f", {self.normalized:.2f}x against the reference beside it"
        info = "" if self.gated else " (information: the interleaved ratios decide)"
        return f"{name}: {self.base:.3g} s -> {self.new:.3g} s ({self.ratio:.2f}x{norm}){info}"


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: every change compared, and whether any regressed."""

    threshold: float
    changes: List[Change]

    @property
    def regressions(self) -> List[Change]:
        return [c for c in self.changes if c.regressed]

    @property
    def failed(self) -> bool:
        return bool(self.regressions)


def _separated(base: Entry, new: Entry, scale: float) -> Optional[bool]:
    """Whether ``new``'s first quartile is above ``base``'s third (``base`` scaled by ``scale``); ``None``
    when either run lacks quartiles."""
    if base.q75 is None or new.q25 is None:
        return None
    return new.q25 > base.q75 * scale


def compare(base: Results, new: Results, spec: str, *, threshold: float, normalize: bool = True) -> Verdict:
    """The gate's decision for implementation ``spec``: each timed combination in both runs (see the module's
    docstring). A combination only one run has is left out (a parameter added or dropped)."""
    changes: List[Change] = []
    for e in new.entries(VERSUS):
        b = base.entry(VERSUS, *e.params)
        if e.params and e.params[0] == spec and b is not None and b.value > 0:
            ratio = e.value / b.value
            changes.append(Change(VERSUS, list(e.params[1:]), b.value, e.value, ratio, None, ratio > threshold))
    medians_decide = not changes
    for benchmark, unit in BENCHMARKS.items():
        if unit != "s":
            continue
        for e in new.entries(benchmark):
            if not e.params or e.params[0] != spec:
                continue
            b = base.entry(benchmark, *e.params)
            if b is None or b.value <= 0:
                continue
            params = list(e.params[1:])
            ratio = e.value / b.value
            normalized = None
            scale = 1.0
            if normalize and spec != REFERENCE:
                ref_new, ref_base = new.get(benchmark, REFERENCE, *params), base.get(benchmark, REFERENCE, *params)
                if ref_new and ref_base:
                    scale = ref_new / ref_base
                    normalized = ratio / scale
            decisive = ratio if normalized is None else normalized
            separated = _separated(b, e, scale)
            regressed = medians_decide and decisive > threshold and separated is not False
            changes.append(Change(benchmark, params, b.value, e.value, ratio, normalized, regressed, medians_decide))
    return Verdict(threshold, changes)
