"""Running the report's children: the suite against each implementation in a pytest subprocess of its own
(``-p conformance.report.events``), so that a crash or hang in one cannot take the others down; progress is read
from the results file as it grows. :func:`run_report` gathers a :class:`~conformance.report.Report`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from conformance.report.results import STATUSES, ClauseResult, ImplResult, Report

__all__ = ["EXIT_GRACE", "IMPL_TIMEOUT", "LOAD_TIMEOUT", "XFAILS_DIR", "check_implementation", "database_dir",
           "default_xfails", "run_implementation", "run_report"]

#: Seconds one implementation's run may take before it is killed.
IMPL_TIMEOUT = 900.0
#: Seconds a run's pytest process may take to exit once it has reported every result.
EXIT_GRACE = 30.0
#: Seconds loading an implementation may take (:func:`check_implementation`).
LOAD_TIMEOUT = 120.0
XFAILS_DIR = Path(__file__).parent.parent / "xfails"

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
    cell.seconds = round(sum(float(r.get("duration") or 0.0) for r in records), 3)
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
                       database: Optional[str] = None, extra_args: Sequence[str] = ()) -> ImplResult:
    """Run the suite against ``spec`` in a pytest subprocess and collect its results by clause.

    ``progress(spec, done, total, record)`` is called for each finished test. ``clauses`` limits the run
    to those clause ids; ``xfails_file`` is passed as ``--xfails-file``; ``database`` as
    ``--conformance-database`` (Hypothesis' example database: failures found there are replayed first);
    ``extra_args`` go to pytest as they are (e.g. ``["-n", "2"]`` with pytest-xdist). A run that exceeds ``timeout``
    seconds is killed (and counts as broken); a process that has reported its session's end but has not
    exited ``exit_grace`` seconds later is killed too, and its results stand (:attr:`ImplResult.note`).
    """
    fd, results = tempfile.mkstemp(prefix="conformance-", suffix=".jsonl")
    os.close(fd)
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "--impl", spec,
           "-p", "conformance.report.events", "--conformance-results", results,
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
    if database:
        cmd += ["--conformance-database", database]
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
            clause_id = r.get("clause") or clause_of.get(r["nodeid"])
            if clause_id:
                by_clause.setdefault(clause_id, []).append(r)
        elif r.get("event") == "finished":
            if exitstatus != r["exitstatus"] and not note:
                note = f"the pytest process exited with status {exitstatus} after its session ended"
            exitstatus = r["exitstatus"]
    if not any(r.get("event") == "finished" for r in records) and exitstatus in (0, 1):
        # The process ended by itself before its session did (pytest-timeout's thread method ends it with
        # status 1 when a test outlives the timeout): the tests after the last one reported never ran, so
        # the run broke down; it has no session status (null).
        reported = sum(1 for r in records if r.get("event") == "test")
        note = note or (f"the pytest process exited with status {exitstatus} before its session finished, "
                        f"after {reported} of {total} tests (a test that outlives pytest-timeout ends it, say)")
        exitstatus = None
    cells = {c: _combine(rs) for c, rs in by_clause.items()}
    return ImplResult(spec, cells, round(time.monotonic() - start, 1), exitstatus,
                      log_text[-4000:] if (exitstatus not in (0, 1) or not cells) else "",
                      about.get("description", ""), list(about.get("capabilities", [])), note,
                      dict(about.get("adapter_tested") or {}))


def check_implementation(spec: str, *, timeout: float = LOAD_TIMEOUT) -> Optional[str]:
    """Why ``spec`` cannot be loaded or built, as one line naming the problem and the fix, or ``None``.

    The check loads the implementation in a child interpreter, as the runs do: the report's own process
    never imports a peer (whose threads or exit handlers could then hang it)."""
    code = ("import sys\n"
            "from conformance.registry import ImplementationError, check_name, load_implementation\n"
            "try:\n"
            "    check_name(sys.argv[1], load_implementation(sys.argv[1]))\n"
            "except ImplementationError as exc:\n"
            "    sys.stdout.write(str(exc))\n"
            "    sys.stdout.flush()\n"
            "    import os; os._exit(3)\n"
            "import os; os._exit(0)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code, spec], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return (f"cannot load implementation {spec!r}: loading it took longer than {timeout:.0f} s; make its "
                f"factory return without waiting for a service")
    if proc.returncode == 0:
        return None
    if proc.returncode == 3:
        return proc.stdout.decode(errors="replace")
    tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
    return (f"cannot load implementation {spec!r}: loading it ended the interpreter with status "
            f"{proc.returncode} (" + " / ".join(t.strip() for t in tail) + "); fix the adapter's module or factory")


def database_dir(out_dir: str, spec: str) -> str:
    """Where the report keeps Hypothesis' example database for ``spec``: ``<out_dir>/hypothesis/<spec>``
    (characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``). One database per
    implementation: a failing example of one is not a failure of another."""
    return str(Path(out_dir) / "hypothesis" / re.sub(r"[^A-Za-z0-9._-]", "_", spec))


def default_xfails(spec: str) -> Optional[str]:
    """The xfails file shipped for a shipped adapter (``conformance/xfails/<name>.txt``), if any."""
    path = XFAILS_DIR / f"{spec}.txt"
    return str(path) if path.is_file() else None


def run_report(specs: Sequence[str], *, max_examples: Optional[int] = None, profile: Optional[str] = None,
               jobs: int = 2, xfails: Optional[Dict[str, Optional[str]]] = None,
               stream: Optional[TextIO] = None, database_root: Optional[str] = None,
               strict_xfail: bool = False, pytest_args: Sequence[str] = ()) -> Report:
    """Run every implementation in ``specs`` (``jobs`` at a time) and gather a :class:`Report`.

    ``xfails`` maps a spec to its xfails file (``None``: none); a spec it does not name gets the shipped
    file, if any (:func:`default_xfails`). With ``database_root``, each implementation keeps Hypothesis'
    example database in :func:`database_dir` ``(database_root, spec)``, so a failure found once is replayed
    first next time. ``pytest_args`` go to every run's pytest. ``strict_xfail`` is the report's gate.
    """
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
        db = database_dir(database_root, spec) if database_root else None
        return run_implementation(spec, max_examples=max_examples, profile=profile, xfails_file=xf,
                                  progress=progress, database=db, extra_args=pytest_args)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, specs))
    infos = all_clauses()
    ids = list(infos) + sorted({c for r in results for c in r.clauses} - set(infos))
    settings = {"max_examples": max_examples, "profile": profile or "ci", "python": sys.version.split()[0],
                "pytest_args": list(pytest_args)}
    return Report(results, ids, {c: infos[c].summary for c in infos}, round(time.monotonic() - start, 1),
                  settings, strict_xfail=strict_xfail)
