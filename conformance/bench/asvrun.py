"""asv, configured and run for ``objstore-conformance bench``: history, ``compare``, ``continuous`` and the
HTML keep working on the results it writes.

The work folder (``--dir``, default ``.objstore-bench`` in the current folder) holds a generated
``asv.conf.json`` whose ``repo`` is the user's project (the git checkout around the current folder) and
whose ``benchmark_dir`` is the shipped suite, ``results/`` and ``html/``. A run measures the current
interpreter (``asv run --python=same``) and records under the project's ``HEAD`` commit.

Each implementation is recorded as an asv *machine* of its own, ``<host>--<impl>`` (``--quick`` appends
``--quick``): its results file then holds that implementation beside the reference and the limits, and
``asv compare --machine <host>--<impl> A B`` compares one implementation across commits, never a quick run
with a full one.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

__all__ = ["AsvError", "INDEX", "Run", "SUITE_DIR", "head_commit", "machine_name", "project_root", "record_skips",
           "recorded_runs", "recorded_skips", "run_asv", "write_config"]

#: The shipped asv benchmark suite.
SUITE_DIR = Path(__file__).resolve().parent / "objstore_bench_suite"
#: The index of the runs in the work folder: implementation -> machine, results file, quick.
INDEX = "bench-index.json"


class AsvError(RuntimeError):
    """asv is missing, or exited with an error: the message says which command and how to fix it."""


@dataclass(frozen=True)
class Run:
    """One implementation's run: where asv recorded it."""

    spec: str
    machine: str
    commit: str
    results: Path
    quick: bool


def project_root(start: Path) -> Path:
    """The git checkout around ``start`` (its top level), or ``start`` itself outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True,
                             timeout=60)
    except OSError:
        return start
    return Path(out.stdout.strip()) if out.returncode == 0 else start


def head_commit(root: Path) -> Optional[str]:
    """The commit checked out at ``root``, or ``None`` outside git (or in a repository without commits)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_name(spec: str, *, quick: bool, host: Optional[str] = None) -> str:
    """asv's machine name for ``spec``'s runs on this host: ``<host>--<impl>[--quick]``, with every
    character asv's file names cannot take replaced by ``_``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_") or "impl"
    return f"{host or platform.node() or 'localhost'}--{slug}" + ("--quick" if quick else "")


def write_config(workdir: Path, root: Path) -> Path:
    """``workdir/asv.conf.json`` for the user's project at ``root``; returns its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = {
        "version": 1,
        "project": root.name or "project",
        "repo": str(root.resolve()),
        "dvcs": "git",
        "branches": ["HEAD"],
        "environment_type": "existing",
        "benchmark_dir": str(SUITE_DIR),
        "results_dir": str(workdir / "results"),
        "html_dir": str(workdir / "html"),
        "env_dir": str(workdir / "env"),
        # Report a change only past 10 %: a shared machine is noisy below that.
        "regressions_thresholds": {".*": 0.1},
    }
    path = workdir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return path


def _asv(args: List[str], *, env: Dict[str, str], echo: Callable[[str], None]) -> int:
    """``python -m asv ARGS``, its output streamed line by line to ``echo``; the exit status."""
    cmd = [sys.executable, "-m", "asv", *args]
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            echo(line.rstrip("\n"))
        return proc.wait()


def run_asv(spec: str, *, workdir: Path, root: Path, quick: bool, bench_regex: Optional[str] = None,
            commit: Optional[str] = None, echo: Callable[[str], None] = print,
            extra_pythonpath: Optional[List[str]] = None, host: Optional[str] = None, index: bool = True) -> Run:
    """Run the suite for ``spec`` (beside the reference and the limits) with asv; returns where asv recorded
    it, and (``index``) names it in the work folder's index as ``spec``'s latest run, the one the report
    shows. ``host``: the machine name's first part (default: this host's name). Raises :class:`AsvError`
    when asv is not installed or fails, or there is no commit to record under."""
    import importlib.util

    if importlib.util.find_spec("asv") is None:
        raise AsvError("objstore-conformance bench runs asv, which is not installed here: "
                       "pip install 'objstore-conformance[bench]'")
    commit = commit or head_commit(root)
    if commit is None:
        raise AsvError(f"{root} is not a git checkout with a commit: asv records results under a commit; run "
                       f"it in your project's clone (git init && git commit first, for a new project)")
    conf = write_config(workdir, root)
    machine = machine_name(spec, quick=quick, host=host)
    env = dict(os.environ)
    env["OBJSTORE_BENCH_IMPL"] = spec
    env["OBJSTORE_BENCH_QUICK"] = "1" if quick else "0"
    # asv drops PYTHONPATH in the benchmark processes and restores ASV_PYTHONPATH: keep what this process
    # sees (an adapter importable from the current folder, a PYTHONPATH a user set).
    # ``extra_pythonpath`` goes first (a base commit's sources, ahead of the checked-out ones).
    paths = list(extra_pythonpath or []) + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["ASV_PYTHONPATH"] = os.pathsep.join(paths + [os.getcwd()])
    status = _asv(["machine", "--yes", "--machine", machine, "--config", str(conf)], env=env, echo=lambda _: None)
    if status != 0:
        raise AsvError(f"`asv machine --machine {machine}` failed (exit status {status})")
    args = ["run", "--config", str(conf), "--python=same", "--set-commit-hash", commit, "--machine", machine,
            "--show-stderr", "--record-samples",
            # One process imports the suite (and, through it, the adapters); each benchmark forks from it.
            "--launch-method", "forkserver"]
    if bench_regex:
        args += ["--bench", bench_regex]
    status = _asv(args, env=env, echo=echo)
    results = _results_file(workdir / "results" / machine, commit)
    if status != 0 or results is None:
        raise AsvError(f"asv run for {spec!r} failed (exit status {status}; see its output above)")
    run = Run(spec=spec, machine=machine, commit=commit, results=results, quick=quick)
    if index:
        _record(workdir, run)
    return run


def _results_file(directory: Path, commit: str) -> Optional[Path]:
    """The newest asv results file of ``commit`` in ``directory``."""
    files = [f for f in directory.glob(f"{commit[:8]}-*.json")] if directory.is_dir() else []
    return max(files, key=lambda f: f.stat().st_mtime) if files else None


def _record(workdir: Path, run: Run) -> None:
    path = workdir / INDEX
    index = json.loads(path.read_text()) if path.exists() else {}
    index[run.spec] = {"machine": run.machine, "commit": run.commit, "results": str(run.results),
                       "quick": run.quick, "skipped": index.get(run.spec, {}).get("skipped", [])}
    path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def record_skips(workdir: Path, spec: str, skips: List[Dict[str, str]]) -> None:
    """Keep, beside ``spec``'s run in the index, what it skipped and why (``{"what", "reason"}`` each)."""
    path = workdir / INDEX
    index = json.loads(path.read_text()) if path.exists() else {}
    index.setdefault(spec, {})["skipped"] = skips
    path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def recorded_skips(workdir: Path) -> Dict[str, List[Dict[str, str]]]:
    """Implementation -> what its latest run skipped, from the index (empty when there is none)."""
    path = workdir / INDEX
    index = json.loads(path.read_text()) if path.exists() else {}
    return {spec: list(e.get("skipped", [])) for spec, e in index.items()}


def recorded_runs(workdir: Path) -> List[Run]:
    """The latest run of each implementation recorded in ``workdir`` (empty when there is none)."""
    path = workdir / INDEX
    if not path.exists():
        return []
    index = json.loads(path.read_text())
    return [Run(spec=spec, machine=e["machine"], commit=e["commit"], results=Path(e["results"]), quick=e["quick"])
            for spec, e in index.items() if "results" in e and Path(e["results"]).exists()]
