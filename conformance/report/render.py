"""Rendering a :class:`~conformance.report.results.Report` for people: the terminal matrix, Markdown, and a
self-contained HTML page (no script, no stylesheet or font from elsewhere)."""

from __future__ import annotations

import html
import json

from conformance.report.performance import html_section, markdown_section
from conformance.report.results import ADAPTER_MARK, SYMBOLS, Report

__all__ = ["ADAPTER_LEGEND", "LEGEND", "html_page", "markdown", "terminal"]

#: What each symbol of the matrix means.
LEGEND = ("pass: conforms; FAIL: a claimed clause fails; -: not claimed; xfail: expected failure (xfails file); "
          "XPASS: an expected failure that this run did not hit (fails the gate under --strict-xfail); "
          "?: not run")
#: What the mark of an adapter-tested cell means (shown when a report has one).
ADAPTER_LEGEND = (f"{ADAPTER_MARK}: adapter-tested: the adapter's own code (an id directory, say), not the system "
                  f"under test, meets the clause (see the notes)")


def terminal(report: Report, *, colour: bool = False) -> str:
    width = max([len(c) for c in report.clause_ids] + [6])
    cols = [max(len(i.name), 6) for i in report.impls]
    paint = {"pass": "\x1b[32m", "fail": "\x1b[31;1m", "error": "\x1b[31;1m", "xfail": "\x1b[33m",
             "xpass": "\x1b[35m", "not claimed": "\x1b[2m"} if colour else {}
    reset = "\x1b[0m" if colour else ""
    lines = ["clause".ljust(width) + "  " + "  ".join(i.name.ljust(w) for i, w in zip(report.impls, cols))]
    lines.append("-" * len(lines[0]))
    for cid in report.clause_ids:
        cells = []
        for impl, w in zip(report.impls, cols):
            status = report.cell(impl, cid).status
            text = report.symbol(impl, cid).ljust(w)
            cells.append(f"{paint.get(status, '')}{text}{reset if status in paint else ''}")
        lines.append(cid.ljust(width) + "  " + "  ".join(cells))
    lines.append("")
    lines.append(LEGEND)
    marked = report.adapter_tested()
    if marked:
        lines.append(ADAPTER_LEGEND)
        lines.extend(f"  {ADAPTER_MARK} {impl.name} / {cid}: {why}" for impl, cid, why in marked)
    for impl, cid, cell in report.failures():
        lines.append("")
        lines.append(f"{SYMBOLS[cell.status]} {impl.name} / {cid}: {cell.message}")
        if cell.example:
            lines.extend("    " + ln for ln in cell.example.splitlines())
        if cell.reproduce:
            lines.extend("    " + ln for ln in cell.reproduce.splitlines())
    for impl in report.impls:
        if impl.note:
            lines.append("")
            lines.append(f"{impl.name}: {impl.note}")
        if impl.log:
            lines.append("")
            lines.append(f"{impl.name}: the pytest run ended with status {impl.exitstatus}; its output ends:")
            lines.extend("    " + ln for ln in impl.log.splitlines()[-25:])
    lines.append("")
    lines.append("times: " + ", ".join(f"{i.name} {i.seconds}s" for i in report.impls)
                 + f"; total {report.seconds}s")
    return "\n".join(lines)



def markdown(report: Report) -> str:
    head = "| clause | " + " | ".join(f"`{i.name}`" for i in report.impls) + " |"
    rule = "|---|" + "---|" * len(report.impls)
    rows = [head, rule]
    for cid in report.clause_ids:
        cells = []
        for impl in report.impls:
            status = report.cell(impl, cid).status
            symbol = report.symbol(impl, cid).replace(ADAPTER_MARK, "\\" + ADAPTER_MARK)
            cells.append(f"**{symbol}**" if status in ("fail", "error") else symbol)
        rows.append(f"| `{cid}` | " + " | ".join(cells) + " |")
    out = ["# Conformance report", "",
           f"Settings: {json.dumps(report.settings)}; run time {report.seconds}s.", "", *rows, "",
           "`pass`: conforms. `FAIL`: a claimed clause fails. `-`: not claimed. `xfail`: expected "
           "failure (listed in an xfails file). `XPASS`: an expected failure that this run did not hit (fails "
           "the gate under `--strict-xfail`). `?`: not run.", ""]
    fails = report.failures()
    if fails:
        out += ["## Failures", ""]
        for impl, cid, cell in fails:
            out += [f"### `{impl.name}` / `{cid}`", "", cell.message, ""]
            if cell.example or cell.reproduce:
                out += ["```", *(cell.example.splitlines() + cell.reproduce.splitlines()), "```", ""]
    marked = report.adapter_tested()
    if marked:
        out += ["## Adapter-tested cells", "",
                f"A cell marked `{ADAPTER_MARK}` is met by the adapter's own code, not by the system under test:", "",
                *(f"- `{impl.name}` / `{cid}`: {why}" for impl, cid, why in marked), ""]
    notes = [f"- `{i.name}`: {i.note}" for i in report.impls if i.note]
    if notes:
        out += ["## Notes on the runs", "", *notes, ""]
    section = markdown_section(report.performance)
    if section:
        out += [section]
    out += ["## Clauses", ""]
    out += [f"- `{cid}`: {report.summaries.get(cid, '')}" for cid in report.clause_ids]
    return "\n".join(out) + "\n"



def html_page(report: Report) -> str:
    e = html.escape
    colours = {"pass": "#d4f7d4", "fail": "#ffb3b3", "error": "#ffb3b3", "xfail": "#fff0b3",
               "xpass": "#f0c8ff", "not claimed": "#eeeeee", "skip": "#eeeeee", "not run": "#ffffff"}
    head = "".join(f"<th>{e(i.name)}</th>" for i in report.impls)
    rows = []
    for cid in report.clause_ids:
        cells = []
        for impl in report.impls:
            cell = report.cell(impl, cid)
            tip = cell.message or cell.reason
            if cid in impl.adapter_tested:
                tip = f"adapter-tested: {impl.adapter_tested[cid]}" + (f"; {tip}" if tip else "")
            cells.append(f'<td style="background:{colours[cell.status]}" title="{e(tip)}">'
                         f"{e(report.symbol(impl, cid))}</td>")
        rows.append(f'<tr><th class="c" title="{e(report.summaries.get(cid, ""))}"><code>{e(cid)}</code>'
                    f"</th>{''.join(cells)}</tr>")
    details = []
    for impl, cid, cell in report.failures():
        details.append(f"<details><summary><b>{e(impl.name)}</b> / <code>{e(cid)}</code>: "
                       f"{e(cell.message)}</summary><pre>{e(cell.example)}\n\n{e(cell.reproduce)}</pre>"
                       f"</details>")
    clauses = "".join(f"<li><code>{e(c)}</code>: {e(report.summaries.get(c, ''))}</li>" for c in report.clause_ids)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: center; }}
th.c {{ text-align: left; font-weight: normal; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; }}
table.perf td {{ text-align: right; }}
table.perf td:first-child, table.perf td:nth-child(2), table.perf td:nth-child(6) {{ text-align: left; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 2em; margin: 1em 0; }}
</style></head><body>
<h1>Conformance report</h1>
<p>Settings: <code>{e(json.dumps(report.settings))}</code>; run time {report.seconds}s.
Verdict: <b>{e(report.verdict)}</b>.</p>
<table><tr><th>clause</th>{head}</tr>
{chr(10).join(rows)}
</table>
<p>{e(LEGEND)}{"; " + e(ADAPTER_LEGEND) if report.adapter_tested() else ""}. Hover a clause for what it checks.</p>
{"".join(f"<p>{e(ADAPTER_MARK)} <b>{e(i.name)}</b> / <code>{e(c)}</code>: {e(why)}</p>"
         for i, c, why in report.adapter_tested())}
<h2>Failures</h2>
{"".join(details) or "<p>None.</p>"}
{"".join(f"<p><b>{e(i.name)}</b>: {e(i.note)}</p>" for i in report.impls if i.note)}
{html_section(report.performance)}
<h2>Clauses</h2><ul>{clauses}</ul>
</body></html>
"""

