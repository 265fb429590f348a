"""Print one closing line for a tox run: the tests passed, failed and skipped, summed over every env's
JUnit XML (tox run-parallel hides each pytest's own summary). Exits 1 when no test ran at all."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(paths: "list[str]") -> int:
    passed = failed = skipped = 0
    for path in paths:
        for suite in ET.parse(path).getroot().iter("testsuite"):
            tests, skip = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            fail = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            passed += tests - skip - fail
            failed += fail
            skipped += skip
        print(f"  {Path(path).stem}: {suite.get('tests')} tests", file=sys.stderr)
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if passed + failed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
