"""The report's performance section: for each implementation benchmarked by ``objstore-conformance bench``,
its figures beside the reference's and the limits', as a table (Markdown, HTML, ``report.json``) and as
charts in ``report.html``.

The charts are inline SVG drawn here (no script, nothing loaded from the network): one bar per benchmark and
parameters, on a logarithmic axis centred on 1x, left of the centre faster than what it is compared with,
right of it slower.

The figures come from the work folder of ``objstore-conformance bench`` (``--dir``, default
``.objstore-bench``): its index names each implementation's latest results file (:mod:`conformance.bench`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from conformance.bench.asvrun import recorded_runs, recorded_skips
from conformance.bench.ratios import Row, format_value, rows, short_name
from conformance.bench.results import Results

__all__ = ["ImplPerformance", "Performance", "html_section", "load", "markdown_section", "svg_chart",
           "to_json"]


@dataclass
class ImplPerformance:
    """One implementation's benchmarked figures (``rows``) and what it skipped, with why."""

    name: str
    commit: str
    machine: str
    quick: bool
    results_file: str
    rows: List[Row]
    skipped: List[Dict[str, str]] = field(default_factory=list)


@dataclass
class Performance:
    """Every implementation's figures, read from one ``objstore-conformance bench`` work folder."""

    source: str
    impls: List[ImplPerformance]


def load(bench_dir: Path) -> Optional[Performance]:
    """The figures recorded in ``bench_dir`` (``None`` when it holds no run). Raises ``ValueError`` naming
    the file when a recorded results file is not one asv wrote."""
    runs = recorded_runs(bench_dir)
    if not runs:
        return None
    skips = recorded_skips(bench_dir)
    impls = []
    for run in runs:
        try:
            res = Results(run.results)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{run.results}: not an asv results file ({exc}); run objstore-conformance bench "
                             f"again") from exc
        impls.append(ImplPerformance(run.spec, run.commit, run.machine, run.quick, str(run.results),
                                     rows(res, run.spec), skips.get(run.spec, [])))
    return Performance(str(bench_dir), impls)


def to_json(perf: Optional[Performance]) -> Optional[Dict[str, Any]]:
    """``report.json``'s ``performance`` field (``None`` without benchmarks)."""
    if perf is None:
        return None
    return {"source": perf.source, "implementations": [
        {"name": i.name, "commit": i.commit, "machine": i.machine, "quick": i.quick, "results_file": i.results_file,
         "rows": [r.as_dict() for r in i.rows], "skipped": i.skipped} for i in perf.impls]}


def _x(ratio: Optional[float]) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _cells(r: Row) -> List[str]:
    return [short_name(r.benchmark), "/".join(r.params), format_value(r.value, r.unit),
            format_value(r.reference, r.unit), _x(r.vs_reference),
            "" if r.limit_name is None else f"{r.limit_name}: {format_value(r.limit, r.unit)}",
            _x(r.vs_limit) if r.limit_name else ""]


#: The widest a chart's axis goes, in powers of two each way (64x).
MAX_SPAN = 6

_HEADER = ["benchmark", "params", "value", "reference", "vs reference", "limit", "vs limit"]
_INTRO = ("Medians of one asv run per implementation, the reference and the limits measured beside it in the "
          "same run; a ratio above 1 is slower (or more memory). Limits: memcpy into warm memory for a put of "
          "an array, stdlib pickle protocol 5 with out-of-band buffers (no copy) for dumps and loads.")


def markdown_section(perf: Optional[Performance]) -> str:
    """The section of ``report.md`` (empty without benchmarks)."""
    if perf is None:
        return ""
    out = ["## Performance", "", _INTRO, ""]
    for impl in perf.impls:
        mode = "quick" if impl.quick else "full"
        out += [f"### `{impl.name}`", "", f"Commit `{impl.commit[:12]}`, {mode} run, asv machine "
                f"`{impl.machine}`.", "", "| " + " | ".join(_HEADER) + " |", "|---" * len(_HEADER) + "|"]
        out += ["| " + " | ".join(_cells(r)) + " |" for r in impl.rows]
        out += [""] + [f"- skipped {s['what']}: {s['reason']}" for s in impl.skipped] + [""]
    return "\n".join(out) + "\n"


def svg_chart(labels: List[str], ratios: List[Optional[float]], *, title: str, against: str) -> str:
    """A horizontal bar chart of ``ratios`` (one per label) on a log axis centred on 1x, as inline SVG."""
    e = html.escape
    bar_h, gap, label_w, plot_w, top = 16, 4, 260, 360, 34
    known = [r for r in ratios if r is not None and r > 0]
    # The axis reaches 2**span either way: whole powers of two, at most 64x (a longer bar is clipped, and its
    # figure says how far it goes).
    span = min(max([math.ceil(abs(math.log2(r))) for r in known] + [1]), MAX_SPAN)
    centre = label_w + plot_w / 2
    height = top + len(labels) * (bar_h + gap) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + plot_w + 70}" '
             f'height="{height}" viewBox="0 0 {label_w + plot_w + 70} {height}" font-family="sans-serif" '
             f'font-size="11"><title>{e(title)}</title>',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{e(title)}</text>',
             f'<text x="{centre:.0f}" y="28" text-anchor="middle" fill="#555">1x = {e(against)}; left faster, '
             f'right slower (log scale)</text>']
    for i, (label, ratio) in enumerate(zip(labels, ratios)):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{e(label)}</text>')
        if ratio is None or ratio <= 0:
            parts.append(f'<text x="{centre + 4:.0f}" y="{y + bar_h - 4}" fill="#999">n/a</text>')
            continue
        length = max(-1.0, min(1.0, math.log2(ratio) / span)) * (plot_w / 2)
        x, w = (centre, length) if length >= 0 else (centre + length, -length)
        colour = "#c0392b" if ratio > 1.05 else "#27ae60" if ratio < 0.95 else "#7f8c8d"
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{colour}"/>')
        tx = x + w + 4 if length >= 0 else x - 4
        anchor = "start" if length >= 0 else "end"
        parts.append(f'<text x="{tx:.1f}" y="{y + bar_h - 4}" text-anchor="{anchor}">{ratio:.2f}x</text>')
    bottom = top + len(labels) * (bar_h + gap)
    parts.append(f'<line x1="{centre:.0f}" y1="{top - 4}" x2="{centre:.0f}" y2="{bottom}" stroke="#333"/>')
    for k in range(-span, span + 1):
        x = centre + (k / span) * (plot_w / 2)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#555"/>')
        if k in (-span, 0, span) or span <= 3:
            tick = f"{2 ** k:g}x" if k >= 0 else f"1/{2 ** -k:g}x"
            parts.append(f'<text x="{x:.0f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{tick}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_section(perf: Optional[Performance]) -> str:
    """The section of ``report.html``: per implementation, the table and two charts (empty without
    benchmarks)."""
    if perf is None:
        return ""
    e = html.escape
    out = ['<h2 id="performance">Performance</h2>', f"<p>{e(_INTRO)}</p>"]
    for impl in perf.impls:
        mode = "quick" if impl.quick else "full"
        head = "".join(f"<th>{e(h)}</th>" for h in _HEADER)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(r)) + "</tr>" for r in impl.rows)
        # Times only in the charts: a memory figure over the payload can be ~0, and a ratio of two ~0s is noise.
        timed = [r for r in impl.rows if r.unit == "s"]
        labels = [f"{short_name(r.benchmark)} {'/'.join(r.params)}" for r in timed]
        with_limit = [r for r in timed if r.limit_name]
        out += [f"<h3><code>{e(impl.name)}</code></h3>",
                f"<p>Commit <code>{e(impl.commit[:12])}</code>, {mode} run, asv machine "
                f"<code>{e(impl.machine)}</code>.</p>",
                '<div class="charts">',
                svg_chart(labels, [r.vs_reference for r in timed], title=f"{impl.name} vs the reference",
                          against="the reference, same run"),
                svg_chart([f"{short_name(r.benchmark)} {'/'.join(r.params)}" for r in with_limit],
                          [r.vs_limit for r in with_limit], title=f"{impl.name} vs the limits",
                          against="memcpy (put) or pickle's zero-copy bound (dumps, loads)") if with_limit else "",
                "</div>",
                f'<table class="perf"><tr>{head}</tr>{body}</table>']
        if impl.skipped:
            out.append("<ul>" + "".join(f"<li>skipped {e(s['what'])}: {e(s['reason'])}</li>"
                                        for s in impl.skipped) + "</ul>")
    return "\n".join(out)
