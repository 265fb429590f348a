"""The compatibility report: run the suite against each implementation and render a clause x implementation
matrix to the terminal, Markdown, JSON and a self-contained HTML page.

Each implementation runs in its own pytest subprocess (``-p conformance.collect``), so a crash or hang
in one cannot take the others down; progress is read from the results file as it grows.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

__all__ = ["ClauseResult", "ImplResult", "Report", "check_implementation", "run_implementation", "run_report"]

#: Cell statuses, worst first: how the items of one clause combine into one cell.
STATUSES = ("fail", "error", "xpass", "xfail", "pass", "not claimed", "skip", "not run")
SYMBOLS = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "xfail": "xfail", "xpass": "XPASS",
           "not claimed": "-", "skip": "skip", "not run": "?"}
#: Seconds one implementation's run may take before it is killed.
IMPL_TIMEOUT = 900.0
#: Seconds a run's pytest process may take to exit once it has reported every result.
EXIT_GRACE = 30.0
#: Seconds loading an implementation may take (:func:`check_implementation`).
LOAD_TIMEOUT = 120.0
XFAILS_DIR = Path(__file__).parent / "xfails"


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


_OUTCOME_STATUS = {"passed": "pass", "failed": "fail", "error": "error", "xfailed": "xfail",
                   "xpassed": "xpass", "not claimed": "not claimed", "skipped": "skip"}


def _combine(records: List[Dict[str, Any]]) -> ClauseResult:
    statuses = [_OUTCOME_STATUS[r["outcome"]] for r in records]
    worst = min(statuses, key=STATUSES.index) if statuses else "not run"
    cell = ClauseResult(status=worst, items={r["nodeid"]: r["outcome"] for r in records})
    for r in records:
        if _OUTCOME_STATUS[r["outcome"]] == worst:
            cell.message = r.get("message", "")
            cell.example = r.get("example", "")
            cell.reproduce = r.get("reproduce", "")
            cell.reason = r.get("reason", "")
            cell.nodeid = r["nodeid"]
            break
    return cell


def _read_records(path: str) -> List[Dict[str, Any]]:
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    return records


def run_implementation(spec: str, *, max_examples: Optional[int] = None, profile: Optional[str] = None,
                       clauses: Sequence[str] = (), xfails_file: Optional[str] = None,
                       timeout: float = IMPL_TIMEOUT, exit_grace: float = EXIT_GRACE,
                       progress: Optional[Callable[[str, int, int, Dict[str, Any]], None]] = None,
                       extra_args: Sequence[str] = ()) -> ImplResult:
    """Run the suite against ``spec`` in a pytest subprocess and collect its results by clause.

    ``progress(spec, done, total, record)`` is called for each finished test. ``clauses`` limits the run
    to those clause ids; ``xfails_file`` is passed as ``--xfails-file``. A run that exceeds ``timeout``
    seconds is killed (and counts as broken); a process that has reported its session's end but has not
    exited ``exit_grace`` seconds later is killed too, and its results stand (:attr:`ImplResult.note`).
    """
    fd, results = tempfile.mkstemp(prefix="conformance-", suffix=".jsonl")
    os.close(fd)
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "--impl", spec,
           "-p", "conformance.collect", "--conformance-results", results,
           "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", "--tb=long"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        cmd += ["-p", "conformance.plugin"]
    if max_examples is not None:
        cmd += ["--max-examples", str(max_examples)]
    if profile:
        cmd += ["--conformance-profile", profile]
    for c in clauses:
        cmd += ["--clause", c]
    if xfails_file:
        cmd += ["--xfails-file", xfails_file]
    cmd += list(extra_args)
    start = time.monotonic()
    log_fd, log_path = tempfile.mkstemp(prefix="conformance-", suffix=".log")
    seen = 0
    total = 0
    clause_of: Dict[str, Optional[str]] = {}
    finished_at: Optional[float] = None
    note = ""
    with os.fdopen(log_fd, "w+b") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            while True:
                try:
                    proc.wait(timeout=0.25)
                    done = True
                except subprocess.TimeoutExpired:
                    done = False
                records = _read_records(results)
                for r in records[seen:]:
                    if r.get("event") == "collected":
                        total = len(r["tests"])
                        clause_of = {t["nodeid"]: t["clause"] for t in r["tests"]}
                    elif r.get("event") == "finished" and finished_at is None:
                        finished_at = time.monotonic()
                    elif r.get("event") == "test" and progress is not None:
                        r["clause"] = r.get("clause") or clause_of.get(r["nodeid"])
                        progress(spec, sum(1 for x in records[: records.index(r) + 1]
                                           if x.get("event") == "test"), total, r)
                seen = len(records)
                if done:
                    break
                now = time.monotonic()
                if finished_at is not None and now - finished_at > exit_grace:
                    # Every result is in; only the interpreter's teardown is left, and it is stuck (pyarrow
                    # 11's thread pools can deadlock there, apache/arrow#33975). The results stand.
                    note = (f"the pytest process had reported every result but had not exited {exit_grace:g} s "
                            f"later; it was killed")
                    break
                if now - start > timeout:
                    note = f"the run took longer than {timeout:g} s; it was killed"
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.seek(0)
        log_text = log.read().decode(errors="replace")
    os.unlink(log_path)
    records = _read_records(results)
    os.unlink(results)
    by_clause: Dict[str, List[Dict[str, Any]]] = {}
    about: Dict[str, Any] = {}
    # The pytest session's own status when it got that far: a stuck or crashing teardown after it does not
    # change what the tests said.
    exitstatus: Optional[int] = proc.returncode
    for r in records:
        if r.get("event") == "collected":
            clause_of = {t["nodeid"]: t["clause"] for t in r["tests"]}
            about = r.get("implementation") or {}
            for t in r["tests"]:
                if t["clause"]:
                    by_clause.setdefault(t["clause"], [])
        elif r.get("event") == "test":
            c = r.get("clause") or clause_of.get(r["nodeid"])
            if c:
                by_clause.setdefault(c, []).append(r)
        elif r.get("event") == "finished":
            if exitstatus != r["exitstatus"] and not note:
                note = f"the pytest process exited with status {exitstatus} after its session ended"
            exitstatus = r["exitstatus"]
    cells = {c: _combine(rs) for c, rs in by_clause.items()}
    return ImplResult(spec, cells, round(time.monotonic() - start, 1), exitstatus,
                      log_text[-4000:] if (exitstatus not in (0, 1) or not cells) else "",
                      about.get("description", ""), list(about.get("capabilities", [])), note)


def check_implementation(spec: str, *, timeout: float = LOAD_TIMEOUT) -> Optional[str]:
    """Why ``spec`` cannot be loaded, or ``None`` when it can.

    The check loads the implementation in a child interpreter, as the runs do: the report's own process
    never imports a peer (whose threads or exit handlers could then hang it)."""
    code = ("import sys\n"
            "from conformance.registry import UnknownImplementationError, load_implementation\n"
            "try:\n"
            "    load_implementation(sys.argv[1])\n"
            "except (UnknownImplementationError, ImportError, AttributeError, TypeError) as exc:\n"
            "    sys.stdout.write(str(exc))\n"
            "    sys.stdout.flush()\n"
            "    import os; os._exit(3)\n"
            "import os; os._exit(0)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code, spec], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"loading it took longer than {timeout:.0f} s"
    if proc.returncode == 0:
        return None
    if proc.returncode == 3:
        return proc.stdout.decode(errors="replace")
    tail = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return f"loading it ended with status {proc.returncode}: " + " / ".join(tail)


@dataclass
class Report:
    """The results of every implementation, ready to render."""

    impls: List[ImplResult]
    clause_ids: List[str]
    summaries: Dict[str, str]
    seconds: float
    settings: Dict[str, Any]

    def cell(self, impl: ImplResult, clause_id: str) -> ClauseResult:
        return impl.clauses.get(clause_id, ClauseResult(status="not run"))

    @property
    def failed(self) -> bool:
        """True when a claimed clause failed (or errored), or an implementation's run broke down."""
        for impl in self.impls:
            if any(c.status in ("fail", "error") for c in impl.clauses.values()):
                return True
            if impl.exitstatus not in (0, 1) or not impl.clauses:
                return True
        return False

    def failures(self) -> List[tuple]:
        return [(impl, cid, self.cell(impl, cid)) for impl in self.impls for cid in self.clause_ids
                if self.cell(impl, cid).status in ("fail", "error", "xpass")]

    # -- renderers ------------------------------------------------------------------------------------
    def to_json(self) -> Dict[str, Any]:
        return {
            "settings": self.settings, "seconds": self.seconds, "failed": self.failed,
            "clauses": [{"id": c, "summary": self.summaries.get(c, "")} for c in self.clause_ids],
            "implementations": [{
                "name": i.name, "description": i.description, "capabilities": i.capabilities,
                "seconds": i.seconds, "exitstatus": i.exitstatus, "note": i.note, "log": i.log,
                "results": {c: vars(self.cell(i, c)) for c in self.clause_ids},
            } for i in self.impls],
        }

    def terminal(self, *, colour: bool = False) -> str:
        width = max([len(c) for c in self.clause_ids] + [6])
        cols = [max(len(i.name), 6) for i in self.impls]
        paint = {"pass": "\x1b[32m", "fail": "\x1b[31;1m", "error": "\x1b[31;1m", "xfail": "\x1b[33m",
                 "xpass": "\x1b[35m", "not claimed": "\x1b[2m"} if colour else {}
        reset = "\x1b[0m" if colour else ""
        lines = ["clause".ljust(width) + "  " + "  ".join(i.name.ljust(w) for i, w in zip(self.impls, cols))]
        lines.append("-" * len(lines[0]))
        for cid in self.clause_ids:
            cells = []
            for impl, w in zip(self.impls, cols):
                status = self.cell(impl, cid).status
                text = SYMBOLS[status].ljust(w)
                cells.append(f"{paint.get(status, '')}{text}{reset if status in paint else ''}")
            lines.append(cid.ljust(width) + "  " + "  ".join(cells))
        lines.append("")
        lines.append("pass: conforms; FAIL: a claimed clause fails; -: not claimed; xfail: expected failure "
                     "(xfails file); ?: not run")
        for impl, cid, cell in self.failures():
            lines.append("")
            lines.append(f"{SYMBOLS[cell.status]} {impl.name} / {cid}: {cell.message}")
            if cell.example:
                lines.extend("    " + ln for ln in cell.example.splitlines())
            if cell.reproduce:
                lines.extend("    " + ln for ln in cell.reproduce.splitlines())
        for impl in self.impls:
            if impl.note:
                lines.append("")
                lines.append(f"{impl.name}: {impl.note}")
            if impl.log:
                lines.append("")
                lines.append(f"{impl.name}: the pytest run ended with status {impl.exitstatus}; its output ends:")
                lines.extend("    " + ln for ln in impl.log.splitlines()[-25:])
        lines.append("")
        lines.append("times: " + ", ".join(f"{i.name} {i.seconds}s" for i in self.impls)
                     + f"; total {self.seconds}s")
        return "\n".join(lines)

    def markdown(self) -> str:
        head = "| clause | " + " | ".join(f"`{i.name}`" for i in self.impls) + " |"
        rule = "|---|" + "---|" * len(self.impls)
        rows = [head, rule]
        for cid in self.clause_ids:
            cells = []
            for impl in self.impls:
                status = self.cell(impl, cid).status
                cells.append(f"**{SYMBOLS[status]}**" if status in ("fail", "error") else SYMBOLS[status])
            rows.append(f"| `{cid}` | " + " | ".join(cells) + " |")
        out = ["# Conformance report", "",
               f"Settings: {json.dumps(self.settings)}; run time {self.seconds}s.", "", *rows, "",
               "`pass`: conforms. `FAIL`: a claimed clause fails. `-`: not claimed. `xfail`: expected "
               "failure (listed in an xfails file). `?`: not run.", ""]
        fails = self.failures()
        if fails:
            out += ["## Failures", ""]
            for impl, cid, cell in fails:
                out += [f"### `{impl.name}` / `{cid}`", "", cell.message, ""]
                if cell.example or cell.reproduce:
                    out += ["```", *(cell.example.splitlines() + cell.reproduce.splitlines()), "```", ""]
        notes = [f"- `{i.name}`: {i.note}" for i in self.impls if i.note]
        if notes:
            out += ["## Notes on the runs", "", *notes, ""]
        out += ["## Clauses", ""]
        out += [f"- `{cid}`: {self.summaries.get(cid, '')}" for cid in self.clause_ids]
        return "\n".join(out) + "\n"

    def html(self) -> str:
        e = html.escape
        colours = {"pass": "#d4f7d4", "fail": "#ffb3b3", "error": "#ffb3b3", "xfail": "#fff0b3",
                   "xpass": "#f0c8ff", "not claimed": "#eeeeee", "skip": "#eeeeee", "not run": "#ffffff"}
        head = "".join(f"<th>{e(i.name)}</th>" for i in self.impls)
        rows = []
        for cid in self.clause_ids:
            cells = []
            for impl in self.impls:
                cell = self.cell(impl, cid)
                tip = cell.message or cell.reason
                cells.append(f'<td style="background:{colours[cell.status]}" title="{e(tip)}">'
                             f"{e(SYMBOLS[cell.status])}</td>")
            rows.append(f'<tr><th class="c" title="{e(self.summaries.get(cid, ""))}"><code>{e(cid)}</code>'
                        f"</th>{''.join(cells)}</tr>")
        details = []
        for impl, cid, cell in self.failures():
            details.append(f"<details><summary><b>{e(impl.name)}</b> / <code>{e(cid)}</code>: "
                           f"{e(cell.message)}</summary><pre>{e(cell.example)}\n\n{e(cell.reproduce)}</pre>"
                           f"</details>")
        clauses = "".join(f"<li><code>{e(c)}</code>: {e(self.summaries.get(c, ''))}</li>" for c in self.clause_ids)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: center; }}
th.c {{ text-align: left; font-weight: normal; }}
pre {{ background: #f6f6f6; padding: 8px; overflow-x: auto; }}
</style></head><body>
<h1>Conformance report</h1>
<p>Settings: <code>{e(json.dumps(self.settings))}</code>; run time {self.seconds}s.
Verdict: <b>{"a claimed clause fails" if self.failed else "every claimed clause passes"}</b>.</p>
<table><tr><th>clause</th>{head}</tr>
{chr(10).join(rows)}
</table>
<p>pass: conforms; FAIL: a claimed clause fails; -: not claimed; xfail: expected failure (xfails file);
?: not run. Hover a clause for what it checks.</p>
<h2>Failures</h2>
{"".join(details) or "<p>None.</p>"}
{"".join(f"<p><b>{e(i.name)}</b>: {e(i.note)}</p>" for i in self.impls if i.note)}
<h2>Clauses</h2><ul>{clauses}</ul>
</body></html>
"""

    def write(self, out_dir: str) -> List[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "report.md", out / "report.json", out / "report.html"]
        paths[0].write_text(self.markdown(), encoding="utf-8")
        paths[1].write_text(json.dumps(self.to_json(), indent=2, default=repr) + "\n", encoding="utf-8")
        paths[2].write_text(self.html(), encoding="utf-8")
        return paths


def default_xfails(spec: str) -> Optional[str]:
    """The xfails file shipped for a shipped adapter (``conformance/xfails/<name>.txt``), if any."""
    path = XFAILS_DIR / f"{spec}.txt"
    return str(path) if path.is_file() else None


def run_report(specs: Sequence[str], *, max_examples: Optional[int] = None, profile: Optional[str] = None,
               jobs: int = 2, xfails: Optional[Dict[str, Optional[str]]] = None,
               stream: Optional[TextIO] = None) -> Report:
    """Run every implementation in ``specs`` (``jobs`` at a time) and gather a :class:`Report`."""
    from conformance.clauses import all_clauses

    stream = stream or sys.stderr
    lock = threading.Lock()
    start = time.monotonic()

    def progress(spec: str, done: int, total: int, record: Dict[str, Any]) -> None:
        with lock:
            clause_id = record.get("clause") or record["nodeid"].split("::")[-1]
            item = record["nodeid"].split("::")[-1]
            stream.write(f"  {spec:<14} [{done:>3}/{total:<3}] {record['outcome']:<11} {clause_id}"
                         f"{'' if item.startswith('test_') and '[' not in item else ' ' + item}\n")
            stream.flush()

    def one(spec: str) -> ImplResult:
        with lock:
            stream.write(f"running the suite against {spec} ...\n")
            stream.flush()
        xf = (xfails or {}).get(spec, default_xfails(spec))
        return run_implementation(spec, max_examples=max_examples, profile=profile, xfails_file=xf,
                                  progress=progress)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, specs))
    infos = all_clauses()
    ids = list(infos) + sorted({c for r in results for c in r.clauses} - set(infos))
    return Report(results, ids, {c: infos[c].summary for c in infos}, round(time.monotonic() - start, 1),
                  {"max_examples": max_examples, "profile": profile or "ci", "python": sys.version.split()[0]})
