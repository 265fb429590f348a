"""Whether a process recorded in a store is still the one that was recorded: :func:`pid_alive`.

Shared by the arena (creators and pinning clients) and the store-like adapters of ``conformance``; it needs
nothing else of the reference, so importing it loads nothing else.

A store records creators and pinning clients by pid. A pid is only proof of life together with the
process's start time: a live process that started after the pid was recorded reuses the number and is
someone else. Linux only (``/proc``); elsewhere a pid that exists counts as alive.
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["pid_alive", "process_start"]

_boot_time: Optional[float] = None


def process_start(stat: bytes) -> Optional[float]:
    """The start time (seconds since the epoch) recorded in a ``/proc/<pid>/stat`` line, or None."""
    global _boot_time
    try:
        if _boot_time is None:
            with open("/proc/stat", "rb") as f:
                for line in f:
                    if line.startswith(b"btime "):
                        _boot_time = float(line.split()[1])
                        break
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        return (_boot_time or 0.0) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, since: Optional[float] = None) -> bool:
    """Whether ``pid`` is a live (not zombie) process on this machine.

    With ``since`` (a ``time.time()`` at which the process we mean was known to run), a live process that
    started after it is another process that reuses the pid: reported dead. A pid of 0 or less is dead; a
    process we may not signal (another user's) is alive.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] in (b"Z", b"X"):
            return False
    except (OSError, ValueError):
        return True
    if since is not None:
        started = process_start(stat)
        if started is not None and started > since + 1.0:  # clock-tick and btime rounding slack
            return False
    return True
