"""Print the ratios that decide the project's standing, from one asv results file (one run, one machine),
and the reference beside Ray and Plasma from the results of ``objstore-conformance bench`` in their own
environments.

Usage::

    python -m benchmarks.summary [--results FILE] [--peer-results FILE ...] [--results-dir DIR] [--impl-dir DIR]

Without ``--results`` it reads the newest results file of the machine in ``~/.asv-machine.json`` under
``.asv/results``. ``ci/bench-summary`` runs the benchmarks it needs on the current interpreter first, then
``objstore-conformance bench --impl ray`` and ``--impl plasma`` in one environment per peer (Ray and Plasma
cannot share one: numpy 2 against numpy<2) into ``.asv/impl``, and then calls this with ``--since``, so every
number printed comes from that invocation.

The peers' figures (section 0's peer column, section 6) come, for each peer, from the one results file that
holds the reference and that peer side by side (the generic suite measures both in one asv run, each through
its adapter): a reference/peer ratio is never taken across two files, i.e. across two environments or runs.
Without ``--peer-results`` every results file under ``--impl-dir`` is a candidate; of those holding the peer,
one of the main file's commit is preferred, then the newest.

Every time is asv's median over its samples; peak memory is asv's ``peakmem`` (the process's peak RSS). A
ratio is printed only when both of its sides are in the file; a missing side (asv writes NaN for a skipped
benchmark) prints ``n/a``. Results files are read by :mod:`conformance.bench.results`.

Not a benchmark module: asv imports it while discovering benchmarks and finds nothing to run. About 440
lines on purpose: the summary's seven sections, each a few lines over one results file, read top to bottom
(the peers' section and the results reader live in ``peer_figures`` and ``conformance.bench.results``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from conformance.bench.payloads import param_bytes
from conformance.bench.results import Results

from .peer_figures import PEERS, holds_peer, peer_ratios, side_by_side

ROOT = Path(__file__).resolve().parents[1]

SIZES = ["1MiB", "64MiB", "256MiB"]
GET_SIZES = ["1KiB", "1MiB", "64MiB", "256MiB"]
ARRAYS = ["float64-1KiB", "float64-1MiB", "float64-64MiB", "float64-256MiB"]
def results_files(results_dir: Path) -> List[Path]:
    """Every asv results file under ``results_dir`` of the machine in ``~/.asv-machine.json`` (of every
    machine when there is no such file)."""
    machine = None
    machine_file = Path.home() / ".asv-machine.json"
    if machine_file.exists():
        machines = [k for k in json.loads(machine_file.read_text()) if k != "version"]
        machine = machines[0] if machines else None
    if not results_dir.is_dir():
        return []
    dirs = [results_dir / machine] if machine else [p for p in results_dir.iterdir() if p.is_dir()]
    return [f for d in dirs if d.is_dir() for f in d.glob("*.json") if f.name != "machine.json"]


def newest_results(results_dir: Path, python: Optional[str] = None) -> Path:
    """The newest results file (of interpreter ``python``, when given)."""
    files = results_files(results_dir)
    if python is not None:
        files = [f for f in files if json.loads(f.read_text()).get("python") == python]
    if not files:
        raise SystemExit(f"no asv results under {results_dir}"
                         f"{' for ' + python if python else ''}: run ci/bench-summary (or ci/bench) first")
    return max(files, key=lambda f: f.stat().st_mtime)


def _readable(paths: Sequence[Path], since_ms: int) -> List[Results]:
    """The results files among ``paths`` that this version of asv's format can be read from."""
    readable = []
    for path in paths:
        try:
            readable.append(Results(path, since_ms))
        except (OSError, ValueError, KeyError):
            continue  # not a results file, or an older asv's format: it cannot hold this run's peers
    return readable


def peer_sources(main: Results, candidates: Sequence[Results]) -> Dict[str, Results]:
    """For each peer of :data:`PEERS`, the one results file its figures and ratios come from: a file in
    which ``objstore-conformance bench`` recorded the reference and that peer side by side (``main`` or one of
    ``candidates``); of several, one of ``main``'s commit first, then the newest. A peer no file holds is
    left out (its figures print ``n/a``)."""
    commit = main.data.get("commit_hash")
    files = [main] + [c for c in candidates if c.path.resolve() != main.path.resolve()]
    sources: Dict[str, Results] = {}
    for peer in PEERS:
        holding = [f for f in files if holds_peer(f, peer)]
        if holding:
            sources[peer] = max(holding, key=lambda f: (f.data.get("commit_hash") == commit,
                                                        f.newest_ms("bench_store.")))
    return sources


# ---------------------------------------------------------------------------------------------------------
# Formatting

def _time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def _rate(nbytes: int, seconds: Optional[float]) -> str:
    if seconds is None or seconds == 0:
        return "n/a"
    return f"{nbytes / seconds / (1 << 30):.2f} GiB/s"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  " + "  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  " + "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _env_versions(python: str, *, fallback: bool = True) -> str:
    """Python and numpy versions of the interpreter that produced the results (if it can be run here; with
    ``fallback``, else this interpreter's, said so)."""
    code = "import sys, numpy; print('%d.%d.%d' % sys.version_info[:3], numpy.__version__)"
    candidates = [python] if os.path.isabs(python) else []
    if fallback:
        candidates.append(sys.executable)
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.returncode == 0:
            py, np_version = out.stdout.split()
            where = "" if exe == python else f" (read from {exe}; the results name Python {python})"
            return f"CPython {py}, numpy {np_version}{where}"
    return f"Python {python}"


# ---------------------------------------------------------------------------------------------------------
# The summary

def summary(res: Results, sources: Optional[Mapping[str, Results]] = None) -> str:
    """The whole summary: sections 1-5 from ``res``; the peers' figures, each from its file in
    ``sources`` (peer name -> results; default: :func:`peer_sources` of ``res`` alone)."""
    if sources is None:
        sources = peer_sources(res, [])
    out: List[str] = []
    params = res.data.get("params", {})
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    out.append("objstore-conformance benchmark summary")
    out.append(f"  machine : {params.get('machine', '?')}: {_cpu_model()}, {os.cpu_count()} logical cores, "
               f"{int(params.get('ram', 0)) / (1 << 30):.1f} GiB RAM, {params.get('os', platform.platform())}")
    out.append(f"  python  : {_env_versions(str(res.data.get('python', '')))}")
    out.append(f"  commit  : {res.data.get('commit_hash', '?')[:12]}  results: {res.path}")
    if load:
        out.append(f"  load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min, when this summary ran)")
    out.append("  times are asv medians; a ratio > 1 means the first is slower (or bigger)")
    out.append(targets(res, sources))

    # 1. put vs memcpy -------------------------------------------------------------------------------------
    rows = []
    for size in SIZES:
        n = param_bytes(size)
        for memory in ("warm", "cold"):
            put = res.get("bench_store.StorePut.time_put", size, memory)
            copies = [(res.get("bench_store.Memcpy.time_copy", size, memory, how), how)
                      for how in ("memoryview", "np.copyto")]
            known = [c for c in copies if c[0] is not None]
            cpy, how = min(known) if known else (None, "")
            rows.append([size, memory, _time(put), _rate(n, put), _time(copies[0][0]), _time(copies[1][0]),
                         _rate(n, cpy), _ratio(put, cpy)])
    out.append("\n1. reference put vs memcpy (same array; warm = memory already mapped, cold = fresh shm; "
               "the limit is the faster copy)")
    out.append(_table(["size", "memory", "put", "put rate", "memoryview", "np.copyto", "limit rate",
                       "put/limit"], rows))

    # 2. get latency by size -------------------------------------------------------------------------------
    rows = []
    first = res.get("bench_store.StoreGet.time_get", GET_SIZES[0])
    for size in GET_SIZES:
        get = res.get("bench_store.StoreGet.time_get", size)
        other = res.get("bench_store.StoreGetOtherProcess.track_get", size)
        rows.append([size, _time(get), _ratio(get, first), _time(other)])
    out.append("\n2. get latency by size (zero-copy: should be O(1), the ratio to 1 KiB ~1)")
    out.append(_table(["size", "get", f"vs {GET_SIZES[0]}", "get, other process"], rows))

    # 3. small objects ---------------------------------------------------------------------------------------
    rows = []
    small = res.param_values("bench_store.StoreSmall.time_put")
    labels = small[0] if small else []
    for label in labels:
        put = res.get("bench_store.StoreSmall.time_put", label)
        get = res.get("bench_store.StoreSmall.time_get", label)
        rows.append([label, _us(put), _us(get)])
    out.append("\n3. small objects: put and get latency")
    out.append(_table(["payload", "put (us)", "get (us)"], rows or [["n/a", "n/a", "n/a"]]))

    # 4. protocol 5 out-of-band vs 3/4 in-band -------------------------------------------------------------
    rows = []
    for payload in ARRAYS:
        for direction, name in (("dumps", "bench_serialization.Dumps.time_dumps"),
                                ("loads", "bench_serialization.Loads.time_loads")):
            p3 = res.get(name, payload, "reference", "3")
            p4 = res.get(name, payload, "reference", "4")
            p5 = res.get(name, payload, "reference", "5-oob")
            zero = res.get(name, payload, "pickle", "5-oob")
            rows.append([payload, direction, _time(p3), _time(p4), _time(p5), _ratio(p3, p5), _ratio(p4, p5),
                         _time(zero)])
    out.append("\n4. reference serializer: protocol 5 out-of-band vs protocols 3 and 4 in-band "
               "(last column: stdlib pickle 5 with buffers kept aside, no copy at all)")
    out.append(_table(["payload", "op", "p3", "p4", "p5-oob", "p3/p5", "p4/p5", "pickle p5-oob"], rows))

    # 5. peak memory over payload --------------------------------------------------------------------------
    rows = []
    big = next((p for p in reversed(ARRAYS)
                if res.get("bench_serialization.Dumps.peakmem_dumps", p, "reference", "5-oob") is not None),
               None)
    if big is not None:
        n = param_bytes(big)
        for library, protocol in (("reference", "3"), ("reference", "4"), ("reference", "5-oob"),
                                  ("pickle", "5-inband"), ("pickle", "5-oob")):
            cells = [f"{library} p{protocol}"]
            for name in ("bench_serialization.Dumps.peakmem_dumps", "bench_serialization.Loads.peakmem_loads"):
                peak = res.get(name, big, library, protocol)
                base = res.get(name, "float64-1KiB", library, protocol)
                cells.append("n/a" if peak is None or base is None else f"{(peak - base) / n:.2f}")
            rows.append(cells)
        for size in SIZES[::-1]:
            peak = res.get("bench_store.StorePut.peakmem_put", size, "cold")
            base = res.get("bench_store.StorePut.peakmem_put", SIZES[0], "cold")
            if peak is not None and base is not None and size != SIZES[0]:
                rows.append([f"store put {size}, cold (RSS: the source and its copy in the store)",
                             f"{(peak - base) / (param_bytes(size) - param_bytes(SIZES[0])):.2f}", ""])
                break
        for size in SIZES[::-1]:
            put_heap = res.get("bench_store.StoreHeap.track_put", size)
            get_heap = res.get("bench_store.StoreHeap.track_get", size)
            if put_heap is not None and get_heap is not None:
                rows.append([f"store put / get {size}: heap (tracemalloc), extra copies only",
                             f"{put_heap:.4f}", f"{get_heap:.4f}"])
                break
    out.append(f"\n5. peak memory over payload: (peak RSS - peak RSS with a 1 KiB payload) / payload size, "
               f"{big or 'n/a'}; the payload itself counts 1.00")
    out.append(_table(["what", "dumps", "loads"], rows or [["n/a", "n/a", "n/a"]]))

    # 6. the reference store vs Ray and Plasma (benchmarks/peer_figures.py renders the section) -------------
    envs = {peer: f"{_env_versions(str(src.data.get('python', '')), fallback=False)}, commit "
                  f"{str(src.data.get('commit_hash', '?'))[:12]}, results {src.path}"
            for peer, src in sources.items()}
    out.append(peer_ratios(_time, _ratio, _table, sources=sources, envs=envs))
    return "\n".join(out)


def _fastest(*values: Optional[float]) -> Optional[float]:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _met(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def targets(res: Results, sources: Optional[Mapping[str, Results]] = None) -> str:
    """Section 0: each target of issue 12 with this run's figure, the target, and the peers' figures (Ray's
    and Plasma's, each from its file in ``sources``, default :func:`peer_sources` of ``res`` alone; a
    reference/peer ratio is taken within one file only)."""
    if sources is None:
        sources = peer_sources(res, [])
    rows: List[Sequence[str]] = []
    us = 1e-6

    def row(measure: str, figure: str, target: str, ok: Optional[bool], peer: str = "") -> None:
        rows.append([measure, figure, target, _met(ok), peer or "-"])

    for size in ("64MiB", "256MiB"):
        put = res.get("bench_store.StorePut.time_put", size, "warm")
        cpy = _fastest(*(res.get("bench_store.Memcpy.time_copy", size, "warm", how)
                         for how in ("memoryview", "np.copyto")))
        # Against the peers, their own benchmark: the same harness for every store (one put per sample),
        # the reference and the peer from the same file (one environment, one run).
        ratios = [f"ref/{peer} {_ratio(*side_by_side(sources.get(peer), 'bench_store.Put.time_put', peer, size))}"
                  for peer in PEERS]
        ok = None if put is None or cpy is None else put <= cpy
        row(f"put {size}, warm: time / single-thread memcpy", _ratio(put, cpy), "<= 1.00", ok,
            f"{', '.join(ratios)} (target: ref/ray <= 0.80)")
    put = res.get("bench_store.StorePut.time_put", "64MiB", "cold")
    cpy = _fastest(*(res.get("bench_store.Memcpy.time_copy", "64MiB", "cold", how)
                     for how in ("memoryview", "np.copyto")))
    row("put 64MiB, cold: time / first-touch memcpy", _ratio(put, cpy), "<= 0.80",
        None if put is None or cpy is None else put <= 0.8 * cpy)
    gets = [res.get("bench_store.StoreGet.time_get", size) for size in GET_SIZES]
    firsts = [res.get("bench_store.StoreFirstGet.time_get", size) for size in GET_SIZES]
    worst = max([g for g in gets + firsts if g is not None], default=None)
    peer_gets = [f"{peer} {_time(side_by_side(sources.get(peer), 'bench_store.Get.time_get', peer, '1MiB')[1])}"
                 for peer in PEERS]
    row("get, any size, first get included (worst)", _us(worst) + " us", "<= 8 us",
        None if worst is None else worst <= 8 * us, f"get 1MiB: {', '.join(peer_gets)}")
    repeated = max([g for g in gets if g is not None], default=None)
    row("  of which: repeated get (worst size)", _us(repeated) + " us", "<= 8 us",
        None if repeated is None else repeated <= 8 * us)
    for size in ("1KiB", "64MiB"):
        first = res.get("bench_store.StoreFirstGet.time_get", size)
        old = res.get("bench_store.StoreGetAfterPut.time_get", size)
        row(f"  first get after a put {size} / an old object's get after it", f"{_us(first)} / {_us(old)} us",
            "equal: the put's cache footprint", None)
    others = [res.get("bench_store.StoreGetOtherProcess.track_get", size) for size in GET_SIZES]
    worst = max([g for g in others if g is not None], default=None)
    row("get in another process (worst size)", _us(worst) + " us", "<= 10 us",
        None if worst is None else worst <= 10 * us)
    for label, put_target, get_target in (("int", 10, 6), ("bytes-100B", 10, 6), ("dict-10", 10, 6),
                                          ("float64-1KiB", 15, 8)):
        put = res.get("bench_store.StoreSmall.time_put", label)
        get = res.get("bench_store.StoreSmall.time_get", label)
        ok = None if put is None or get is None else put <= put_target * us and get <= get_target * us
        row(f"put / get {label}", f"{_us(put)} / {_us(get)} us", f"<= {put_target} / {get_target} us", ok)
    for op, name in (("dumps", "bench_serialization.Dumps.time_dumps"),
                     ("loads", "bench_serialization.Loads.time_loads")):
        ref = res.get(name, "float64-1KiB", "reference", "5-oob")
        std = res.get(name, "float64-1KiB", "pickle", "5-inband")
        row(f"serializer {op} 1KiB float64 / stdlib pickle 5", _ratio(ref, std), "<= 2.00",
            None if ref is None or std is None else ref <= 2 * std)
    heap = res.get("bench_store.StoreHeap.track_put", "64MiB")
    row("peak heap of a put over payload (64MiB)", "n/a" if heap is None else f"{heap:.4f}", "~0 (< 0.01)",
        None if heap is None else heap < 0.01)
    return ("\n0. issue 12's targets, from this run (the peers' column: Ray and Plasma from their own environments' "
            "runs, each ratio within one results file; section 6 names them)\n"
            + _table(["measure", "this run", "target", "", "peer"], rows))


def across_pythons(results_dir: Path, commit: Optional[str], pattern: str) -> str:
    """One commit's results side by side per interpreter: rows are benchmark(params), columns Pythons."""
    files = [f for f in results_dir.glob("*/*.json") if f.name != "machine.json"]
    runs = [(f, json.loads(f.read_text())) for f in files]
    runs = [(f, d) for f, d in runs if "commit_hash" in d]
    if not runs:
        return f"no asv results under {results_dir}"
    if commit is None:
        commit = max(runs, key=lambda r: r[1].get("date", 0))[1]["commit_hash"]
    runs = [(f, d) for f, d in runs if d["commit_hash"].startswith(commit)]
    if not runs:
        return f"no results for commit {commit} under {results_dir}"
    regex = re.compile(pattern)

    def version_key(d: Dict[str, Any]) -> Any:
        py = str(d.get("python", ""))
        try:
            return (0, tuple(int(x) for x in py.split(".")))
        except ValueError:
            return (1, py)

    runs.sort(key=lambda r: version_key(r[1]))
    columns = [str(d.get("python", "?")) for _, d in runs]
    table: "Dict[str, Dict[str, str]]" = {}
    order: List[str] = []
    for (_f, d), column in zip(runs, columns):
        res_i = d["result_columns"].index("result")
        par_i = d["result_columns"].index("params")
        for name, row in sorted(d["results"].items()):
            if not regex.search(name):
                continue
            param_lists = row[par_i] if len(row) > par_i else []
            combos = list(itertools.product(*param_lists)) if param_lists else [()]
            values = row[res_i] if param_lists else [row[res_i]]
            for combo, value in zip(combos, values or []):
                key = f"{name}({', '.join(combo)})" if combo else name
                if key not in table:
                    table[key] = {}
                    order.append(key)
                table[key][column] = "n/a" if value is None else f"{value:.6g}"
    columns = [c for c in columns if any(c in cells for cells in table.values())]
    rows = [[key] + [table[key].get(c, "") for c in columns] for key in order]
    head = f"commit {runs[0][1]['commit_hash'][:12]} on {runs[0][1].get('params', {}).get('machine', '?')}"
    return head + "\n" + _table(["benchmark"] + [f"py{c}" for c in columns], rows)


def _us(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:.2f}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summary", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="an asv results file (default: the newest)")
    parser.add_argument("--results-dir", type=Path, default=ROOT / ".asv" / "results")
    parser.add_argument("--python", help="only results of this interpreter (asv's `python` field: a version, "
                                         "or the executable of a --python=same run)")
    parser.add_argument("--peer-results", type=Path, action="append", metavar="FILE",
                        help="a results file to take the peers' figures from (repeatable; default: every "
                             "results file under --impl-dir)")
    parser.add_argument("--impl-dir", type=Path, default=ROOT / ".asv" / "impl",
                        help="the work folder of `objstore-conformance bench --dir` where ci/bench-summary's "
                             ".venv-bench-ray and .venv-bench-plasma runs record the peers (default .asv/impl)")
    parser.add_argument("--since", type=int, default=0, metavar="EPOCH_MS",
                        help="ignore benchmarks recorded before this time (ms since the epoch)")
    parser.add_argument("--across-pythons", metavar="REGEX", nargs="?", const="bench_leaks",
                        help="instead of the summary, print one commit's results (benchmarks matching REGEX, "
                             "default bench_leaks) with one column per interpreter")
    parser.add_argument("--commit", help="with --across-pythons: the commit (default: the newest results)")
    args = parser.parse_args(argv)
    if args.across_pythons is not None:
        print(across_pythons(args.results_dir, args.commit, args.across_pythons))
        return 0
    path = args.results or newest_results(args.results_dir, args.python)
    res = Results(path, args.since)
    peer_files = (args.peer_results if args.peer_results is not None else
                  [f for f in (args.impl_dir / "results").glob("*/*.json")
                   if f.name not in ("machine.json", "benchmarks.json")])
    print(summary(res, peer_sources(res, _readable(peer_files, args.since))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
