"""``objstore-conformance bench``: run the shipped asv suite for implementations, print their ratios to the
reference and to the limits, and (``--compare BASE``) gate on regressions.

Exit status: 0 done (and, with ``--compare``, nothing regressed); 1 a benchmark slowed by more than the
threshold; 2 a usage error or an implementation that cannot be loaded (nothing ran); 3 asv failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from conformance.bench import asvrun
from conformance.bench.gate import Verdict, compare, parse_threshold
from conformance.bench.plan import SERIALIZER_BENCHMARKS, STORE_BENCHMARKS, skipped
from conformance.bench.ratios import format_table, rows
from conformance.bench.results import Results

__all__ = ["EXIT_ASV", "EXIT_REGRESSED", "EXIT_USAGE", "add_arguments", "main"]

EXIT_REGRESSED = 1
EXIT_USAGE = 2
EXIT_ASV = 3
#: The gate's default threshold: a slowdown of more than 10 %, normalized by the reference beside it.
DEFAULT_THRESHOLD = "1.10"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's options."""
    parser.add_argument("--impl", action="append", default=[], metavar="NAME", required=True,
                        help="an implementation to benchmark, as the suite takes it: a shipped adapter, an entry "
                             "point or package.module:factory (repeatable); the reference and the limits are "
                             "always measured beside it")
    parser.add_argument("--quick", action="store_true",
                        help="small parameters (1 MiB at most, one payload per family), for development and CI")
    parser.add_argument("--dir", default=".objstore-bench", metavar="DIR",
                        help="asv's configuration, results and HTML (default: .objstore-bench); keep "
                             "DIR/results between runs for history and --compare")
    parser.add_argument("--bench", default=None, metavar="REGEX",
                        help="only the benchmarks matching REGEX (asv run --bench), e.g. 'Put'")
    parser.add_argument("--compare", default=None, metavar="BASE",
                        help="exit 1 if a benchmark slowed by more than --threshold against BASE: an asv results "
                             "file, or a git ref of your project (its results in DIR are used, or it is run)")
    parser.add_argument("--threshold", default=DEFAULT_THRESHOLD, metavar="FACTOR",
                        help=f"the slowdown --compare fails on: a factor (1.25) or a percentage (25%%); default "
                             f"{DEFAULT_THRESHOLD}")
    parser.add_argument("--host", default=None, metavar="NAME",
                        help="the first part of asv's machine name (default: this host's name); a fixed name lets "
                             "CI runners, whose host names change, reuse the results they keep")
    parser.add_argument("--no-normalize", action="store_true",
                        help="with --compare, compare raw medians instead of medians relative to the reference "
                             "measured beside them in each run")


def plan_skips(spec: str, quick: bool) -> List[Tuple[str, str]]:
    """What ``spec`` skips and why, ``(what, reason)`` each (asv records the same skips)."""
    from conformance.bench.objstore_bench_suite.common import PROTOCOLS, parameters
    from conformance.bench.targets import implementation

    params = parameters(quick)
    combos: List[Tuple[str, Dict[str, Optional[str]]]] = []
    for name in SERIALIZER_BENCHMARKS:
        combos += [(name, {"protocol": p, "payload": None}) for p in PROTOCOLS]
        combos += [(name, {"protocol": None, "payload": label}) for label in params["payloads"]]
    for name in STORE_BENCHMARKS:
        values = params["values"] if name in ("Put", "Get") else params["arrays"]
        combos += [(name, {"payload": v}) for v in values]
    return skipped(implementation(spec), combos)


def _resolve_base(base: str, run: asvrun.Run, args: argparse.Namespace, root: Path,
                  echo: Callable[[str], None]) -> Results:
    """BASE as results: a results file, the recorded run of a commit, or a fresh run at that commit."""
    path = Path(base)
    if path.is_file():
        return Results(path)
    proc = subprocess.run(["git", "rev-parse", "--verify", f"{base}^{{commit}}"], cwd=root, capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        raise ValueError(f"--compare {base!r} is neither a results file nor a git ref of {root}")
    commit = proc.stdout.strip()
    workdir = Path(args.dir).resolve()
    recorded = sorted((workdir / "results" / run.machine).glob(f"{commit[:8]}-*.json"))
    if recorded:
        echo(f"objstore-conformance bench: comparing with the results recorded at {base} ({recorded[-1]})")
        return Results(recorded[-1])
    echo(f"objstore-conformance bench: no results recorded at {base} ({commit[:8]}); running it there")
    tmp = Path(tempfile.mkdtemp(prefix="objstore-bench-base-"))
    tree = tmp / "tree"
    try:
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=root, check=True,
                       capture_output=True, timeout=300)
        # BASE's sources first on the path: the adapter and the code it drives as they were at BASE.
        extra = [str(tree / "src"), str(tree)]
        base_run = asvrun.run_asv(run.spec, workdir=workdir, root=root, quick=run.quick, bench_regex=args.bench,
                                  commit=commit, echo=echo, extra_pythonpath=extra, host=args.host, index=False)
        return Results(base_run.results)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, capture_output=True,
                       timeout=300)
        shutil.rmtree(tmp, ignore_errors=True)


def _print_verdict(verdict: Verdict, spec: str, echo: Callable[[str], None]) -> None:
    echo(f"\n{spec}: {len(verdict.changes)} timings compared, threshold {verdict.threshold:.2f}x")
    for change in sorted(verdict.changes, key=lambda c: -c.decisive):
        mark = "REGRESSED" if change.regressed else "ok"
        echo(f"  {mark:9} {change.describe()}")


def main(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    """Run the ``bench`` subcommand with parsed ``args``; returns the exit status."""
    from conformance.registry import ImplementationError, load_implementation

    def usage(problem: str) -> int:
        import sys

        print(f"objstore-conformance bench: {problem}", file=sys.stderr)
        return EXIT_USAGE

    try:
        threshold = parse_threshold(args.threshold)
    except ValueError as exc:
        return usage(str(exc))
    if args.compare and len(args.impl) != 1:
        return usage("--compare gates one implementation at a time: give one --impl")
    for spec in args.impl:
        try:
            load_implementation(spec)
        except ImplementationError as exc:
            return usage(str(exc))
    root = asvrun.project_root(Path.cwd())
    workdir = Path(args.dir).resolve()
    status = 0
    for spec in args.impl:
        echo(f"objstore-conformance bench: {spec} beside the reference and the limits"
             f"{' (quick)' if args.quick else ''}; asv output follows")
        skips = plan_skips(spec, args.quick)
        for what, reason in skips:
            echo(f"  will skip {what}: {reason}")
        try:
            run = asvrun.run_asv(spec, workdir=workdir, root=root, quick=args.quick, bench_regex=args.bench,
                                 echo=echo, host=args.host)
        except asvrun.AsvError as exc:
            echo(f"objstore-conformance bench: {exc}")
            return EXIT_ASV
        res = Results(run.results)
        echo(f"\n{spec}: ratios to the reference and to the limits, from {run.results}")
        echo(format_table(rows(res, spec), spec))
        asvrun.record_skips(workdir, spec, [{"what": w, "reason": r} for w, r in skips])
        for what, reason in skips:
            echo(f"  skipped {what}: {reason}")
        echo(f"history: asv compare --config {workdir / 'asv.conf.json'} --machine {run.machine} A B; "
             f"report: objstore-conformance report --bench {os.path.relpath(workdir)}")
        if args.compare:
            try:
                base = _resolve_base(args.compare, run, args, root, echo)
            except (ValueError, OSError, KeyError, subprocess.SubprocessError, asvrun.AsvError) as exc:
                echo(f"objstore-conformance bench: cannot compare: {exc}")
                return EXIT_USAGE
            verdict = compare(base, res, spec, threshold=threshold, normalize=not args.no_normalize)
            _print_verdict(verdict, spec, echo)
            if not verdict.changes:
                echo(f"objstore-conformance bench: {args.compare} holds none of this run's timings of {spec}")
                return EXIT_USAGE
            if verdict.failed:
                echo(f"verdict: {len(verdict.regressions)} regression(s) past {threshold:.2f}x")
                status = EXIT_REGRESSED
            else:
                echo("verdict: no regression")
    return status
