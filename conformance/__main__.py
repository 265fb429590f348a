"""``objstore-conformance`` / ``python -m conformance``: the report, and listings.

    objstore-conformance report [--impl NAME ...] [--out DIR] [--max-examples N] [--profile ci|nightly]
    objstore-conformance list
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="objstore-conformance",
                                     description="Conformance suite for object stores with pickle-5 serializers.")
    sub = parser.add_subparsers(dest="command")
    rep = sub.add_parser("report", help="run the suite against implementations and print the matrix")
    rep.add_argument("--impl", action="append", default=[], metavar="NAME",
                     help="an implementation to test (repeatable; default: every available one)")
    rep.add_argument("--out", default="report", metavar="DIR",
                     help="where to write report.md, report.json and report.html (default: report/)")
    rep.add_argument("--max-examples", type=int, default=None, metavar="N",
                     help="Hypothesis examples per property clause (default: the profile's)")
    rep.add_argument("--profile", choices=["ci", "nightly"], default=None,
                     help="Hypothesis profile: ci (quick, default) or nightly (thorough)")
    rep.add_argument("--jobs", type=int, default=2, metavar="N",
                     help="implementations run at once (default 2)")
    rep.add_argument("--xfails", action="append", default=[], metavar="NAME=PATH",
                     help="an xfails file for one implementation (default: the shipped one, if any); "
                          "NAME= (empty path) uses none")
    sub.add_parser("list", help="list the available implementations, mutants and clauses")
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
    if args.command != "report":
        _parser().print_help()
        return 2
    from conformance.registry import available
    from conformance.report import check_implementation, run_report

    specs = args.impl or available()
    for spec in specs:
        problem = check_implementation(spec)
        if problem is not None:
            print(f"objstore-conformance: cannot load {spec!r}: {problem}", file=sys.stderr)
            return 2
    xfails = {}
    for entry in args.xfails:
        name, sep, path = entry.partition("=")
        if not sep:
            print(f"objstore-conformance: --xfails wants NAME=PATH, got {entry!r}", file=sys.stderr)
            return 2
        xfails[name] = path or None
    report = run_report(specs, max_examples=args.max_examples, profile=args.profile, jobs=args.jobs,
                        xfails=xfails)
    print(report.terminal(colour=sys.stdout.isatty()))
    paths = report.write(args.out)
    print("\nwritten: " + ", ".join(str(p) for p in paths))
    if report.failed:
        print("verdict: a claimed clause fails (exit status 1)")
        return 1
    print("verdict: every claimed clause passes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
