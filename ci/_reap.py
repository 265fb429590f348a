"""Kill and name the processes a tox run left behind: any process whose executable or command line lies
under the given directory (a peer's daemon: a raylet, a gcs_server, a plasma-store-server).

A left-over daemon holds the run's output pipe open, so whatever reads the CI log waits for it for ever;
naming it tells which test forgot to stop it. Linux only (/proc); prints nothing when nothing is left.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Dict


def _leftovers(root: str) -> Dict[int, str]:
    found = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue  # gone, a kernel thread, or not ours to read
        if exe.startswith(root) or root in cmdline:
            found[int(entry)] = cmdline or exe
    return found


def main(root: str) -> int:
    root = os.path.realpath(root) + os.sep
    left = _leftovers(root)
    for pid, cmdline in sorted(left.items()):
        print(f"ci/_reap: killing a left-over process {pid}: {cmdline[:200]}", file=sys.stderr)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        time.sleep(0.5)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".tox"))
