"""``objstore-conformance`` / ``python -m conformance``: the report, and listings.

    objstore-conformance report [--impl NAME ...] [--out DIR] [--max-examples N] [--profile ci|nightly]
                                [--xfails NAME=PATH ...] [--junitxml PATH] [--strict-xfail] [-n N]
                                [--jobs N (default 2)] [--derandomize] [--no-shrink]
                                [--bench DIR]
    objstore-conformance list
    objstore-conformance bench --impl NAME [--quick] [--dir DIR] [--bench REGEX]
                               [--compare BASE [--threshold FACTOR]]

``report`` exits with 0 when every claimed clause passes, 1 when one fails (or errors, or a run breaks
down, or, with ``--strict-xfail``, a known failure passes), and 2 without running anything when an
implementation cannot be loaded or built, an option is wrong or an xfails file names no clause; a usage
error is one line on stderr naming the problem and the fix. ``bench`` runs the asv suite for implementations
beside the reference and the limits; its exit status is :mod:`conformance.bench.command`'s.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="objstore-conformance",
                                     description="Conformance suite for object stores with pickle-5 serializers.")
    sub = parser.add_subparsers(dest="command")
    rep = sub.add_parser("report", help="run the suite against implementations and print the matrix",
                         epilog="exit status: 0 every claimed clause passes; 1 a claimed clause fails or errors, a "
                                "run broke down, or (--strict-xfail) a known failure passed; 2 a usage error "
                                "(nothing ran)")
    rep.add_argument("--impl", action="append", default=[], metavar="NAME",
                     help="an implementation to test (repeatable; default: every available one)")
    rep.add_argument("--out", default="report", metavar="DIR",
                     help="where to write report.md, report.json and report.html (default: report/)")
    rep.add_argument("--max-examples", type=int, default=None, metavar="N",
                     help="Hypothesis examples per property clause (default: the profile's)")
    rep.add_argument("--profile", choices=["ci", "nightly"], default=None,
                     help="Hypothesis profile: ci (quick, default) or nightly (thorough)")
    rep.add_argument("--jobs", type=int, default=2, metavar="N",
                     help="implementations run at once, each in its own pytest process (default 2)")
    rep.add_argument("--xfails", action="append", default=[], metavar="NAME=PATH",
                     help="an xfails file for one implementation (default: the shipped one, if any); "
                          "NAME= (empty path) uses none")
    rep.add_argument("--junitxml", default=None, metavar="PATH",
                     help="also write the matrix as JUnit XML (a test case per clause and implementation)")
    rep.add_argument("--strict-xfail", action="store_true",
                     help="an XPASS (a known failure that passed) fails the gate: take it out of the xfails file; "
                          "implies --derandomize, so that every run of the same code gives the same verdict")
    rep.add_argument("--derandomize", action="store_true",
                     help="the same Hypothesis examples on every run of the same code (no example database)")
    rep.add_argument("--no-shrink", action="store_true",
                     help="Hypothesis without its shrink phase: failures as found, not minimized (first runs)")
    rep.add_argument("-n", "--numprocesses", default=None, metavar="N",
                     help="run each implementation's suite in N processes (pytest-xdist's -n; 'auto': one per "
                          "core)")
    rep.add_argument("--bench", default=None, metavar="DIR",
                     help="add the figures of `objstore-conformance bench` recorded in DIR (its --dir) as the "
                          "performance section; default: .objstore-bench when it holds a run")
    sub.add_parser("list", help="list the available implementations, mutants and clauses")
    from conformance.bench.command import add_arguments

    bench = sub.add_parser("bench", help="benchmark implementations with asv beside the reference and the limits",
                           epilog="exit status: 0 done (no regression); 1 --compare found a benchmark slower than "
                                  "--threshold; 2 a usage error (nothing ran); 3 asv failed")
    add_arguments(bench)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        from conformance.clauses import all_clauses
        from conformance.registry import available, mutant_names

        print("implementations:", ", ".join(available()))
        print("mutants:", ", ".join(mutant_names()))
        print("clauses:")
        for cid, info in all_clauses().items():
            needs = f" [needs {', '.join(info.requires)}]" if info.requires else ""
            print(f"  {cid}  ({info.location}){needs}: {info.summary}")
        return 0
    if args.command == "bench":
        from conformance.bench.command import main as bench_main

        return bench_main(args)
    if args.command != "report":
        _parser().print_help()
        return 2
    from conformance.registry import available
    from conformance.report import EXIT_USAGE, check_implementation, default_xfails, run_report, terminal, write
    from conformance.xfails_file import xfails_problem

    def usage(problem: str) -> int:
        print(f"objstore-conformance: {problem}", file=sys.stderr)
        return EXIT_USAGE

    if args.max_examples is not None and args.max_examples < 1:
        return usage(f"--max-examples must be a positive integer, got {args.max_examples}")
    if args.jobs < 1:
        return usage(f"--jobs must be a positive integer, got {args.jobs}")
    pytest_args: List[str] = []
    if args.derandomize or args.strict_xfail:
        pytest_args.append("--derandomize")
    if args.no_shrink:
        pytest_args.append("--no-shrink")
    if args.numprocesses is not None:
        if args.numprocesses != "auto" and not (args.numprocesses.isdigit() and int(args.numprocesses) > 0):
            return usage(f"-n must be a positive integer or 'auto', got {args.numprocesses!r}")
        import importlib.util

        if importlib.util.find_spec("xdist") is None:
            return usage("-n needs pytest-xdist: pip install pytest-xdist, or leave out -n")
        pytest_args += ["-n", args.numprocesses]
    xfails = {}
    for entry in args.xfails:
        name, sep, path = entry.partition("=")
        if not sep:
            return usage(f"--xfails wants NAME=PATH, got {entry!r}; e.g. --xfails mystore=xfails.txt")
        xfails[name] = path or None
    specs = args.impl or available()
    for spec in specs:
        problem = check_implementation(spec)
        if problem is not None:
            return usage(problem)
        xf = xfails.get(spec, default_xfails(spec))
        problem = xfails_problem(xf) if xf else None
        if problem:
            return usage(problem)
    from pathlib import Path

    from conformance.bench.asvrun import INDEX
    from conformance.report.performance import load as load_performance

    bench_dir = Path(args.bench if args.bench is not None else ".objstore-bench")
    if args.bench is not None and not (bench_dir / INDEX).exists():
        return usage(f"--bench {args.bench}: no {INDEX} there; run `objstore-conformance bench --impl NAME "
                     f"--dir {args.bench}` first")
    try:
        perf = load_performance(bench_dir)
    except ValueError as exc:
        return usage(str(exc))
    report = run_report(specs, max_examples=args.max_examples, profile=args.profile, jobs=args.jobs,
                        xfails=xfails, database_root=args.out, strict_xfail=args.strict_xfail,
                        pytest_args=pytest_args)
    report.performance = perf
    print(terminal(report, colour=sys.stdout.isatty()))
    paths = write(report, args.out, junitxml=args.junitxml)
    print("\nwritten: " + ", ".join(str(p) for p in paths))
    print(f"verdict: {report.verdict} (exit status {report.exit_status})")
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
