"""Run checks in a fresh interpreter that never saw the values' definitions.

The parent sends ``(spec, task, payload)`` to ``python -m conformance._child_main`` on stdin (stdlib pickle of
plain data). The child loads the same implementation by name, says ``ready`` (a line on stdout), runs
``conformance._tasks.<task>(impl, payload)`` and writes ``("ok", result)`` or ``("error", text)`` back (a
pickle, after the lines). A task with a set-up of its own (attaching to a store, creating an object) says
so with a line of its own (:func:`signal`) when it is done.

Timing: a busy machine can take many seconds to start an interpreter and import numpy, so no clock a clause
reads starts before the child is ready. Start-up has its own generous bound (:data:`STARTUP_TIMEOUT`); a
task's ``timeout`` counts from its ``ready`` line, and a clause that waits for a child's action starts its
clock when the child has said it is set up (:func:`wait_for_line`). Every child is killed when a bound
expires.
"""

from __future__ import annotations

import os
import pickle
import selectors
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

__all__ = ["CHILD_TIMEOUT", "ChildError", "STARTUP_TIMEOUT", "finish_task", "run_in_child", "run_task", "signal",
           "start_task", "wait_for_line"]

#: Seconds a child's task may take, from its ``ready`` line, before the child is killed.
CHILD_TIMEOUT = 60.0
#: Seconds a child may take to start: the interpreter, its imports and loading the implementation. Generous
#: on purpose: on a loaded machine this is what grows, and it says nothing about the implementation.
STARTUP_TIMEOUT = 300.0
#: The line a child writes once it has imported and loaded the implementation, before its task runs.
READY = b"ready"


class ChildError(AssertionError):
    """The child failed: it raised, crashed, or ran out of time."""


def _cmd() -> List[str]:
    return [sys.executable, "-m", "conformance._child_main"]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return env


def run_task(spec: str, task: str, payload: Any = None, *, timeout: float = CHILD_TIMEOUT) -> Any:
    """Run ``conformance._tasks.<task>(impl, payload)`` in a fresh interpreter and return its result.

    The child has :data:`STARTUP_TIMEOUT` seconds to start and load the implementation, then ``timeout``
    seconds for the task. Raises :class:`ChildError` with the child's traceback when it raises, exits or
    runs out of time (it is killed then).
    """
    proc = start_task(spec, task, payload)
    try:
        wait_for_line(proc, READY, timeout=STARTUP_TIMEOUT, what=f"the child running {task!r}")
    except BaseException:
        _reap(proc)
        raise
    return finish_task(proc, task, timeout=timeout)


def finish_task(proc: "subprocess.Popen[bytes]", task: str, *, timeout: float = CHILD_TIMEOUT) -> Any:
    """Wait up to ``timeout`` seconds for a task started with :func:`start_task`, whose lines the caller
    has read up to where it needed, and return its result; the child is killed and reaped in any case.
    Raises :class:`ChildError` as :func:`run_task` does."""
    try:
        proc.stdin = None  # closed by start_task; communicate() must not flush it
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ChildError(f"the child running {task!r} did not finish within {timeout}s") from None
    finally:
        _reap(proc)
    if proc.returncode != 0 or not out:
        raise ChildError(f"the child running {task!r} exited with {proc.returncode}:\n"
                         f"{err.decode(errors='replace')[-2000:]}")
    status, result = pickle.loads(out)
    if status != "ok":
        raise ChildError(f"in the child, {task!r} failed: {result}")
    return result


def start_task(spec: str, task: str, payload: Any = None) -> "subprocess.Popen[bytes]":
    """Start a task without waiting (the caller waits for its lines with :func:`wait_for_line`, then waits
    for or kills the process)."""
    proc = subprocess.Popen(_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps((spec, task, payload), protocol=4))
    proc.stdin.close()
    return proc


def wait_for_line(proc: "subprocess.Popen[bytes]", line: bytes, *, timeout: float = STARTUP_TIMEOUT,
                  what: str = "the child") -> None:
    """Read the child's stdout, line by line, until ``line`` (other lines, such as ``ready``, are skipped).

    Reads byte by byte from the pipe itself, so that nothing after the line is taken from a later
    ``communicate()``. Raises :class:`ChildError` (with the end of the child's stderr) when the child exits
    first or does not write the line within ``timeout`` seconds; the child is killed then.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                _reap(proc)
                raise ChildError(f"{what} did not say {line.decode()!r} within {timeout}s"
                                 f"{_stderr_tail(proc)}")
            byte = os.read(fd, 1)
            if not byte:
                _reap(proc)
                raise ChildError(f"{what} exited with {proc.returncode} before saying {line.decode()!r}"
                                 f"{_stderr_tail(proc)}")
            if byte != b"\n":
                buf += byte
            elif buf == line:
                return
            else:
                buf = b""


def signal(line: bytes) -> None:
    """In a child: tell the parent that a step is done, as one line on the child's stdout (the parent
    waits for it with :func:`wait_for_line`)."""
    out = sys.__stdout__
    assert out is not None, "the child runs with a stdout (start_task gives it a pipe)"
    out.buffer.write(line + b"\n")
    out.buffer.flush()


def _reap(proc: "subprocess.Popen[bytes]") -> None:
    """Kill ``proc`` if it still runs, and wait for it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _stderr_tail(proc: "subprocess.Popen[bytes]") -> str:
    if proc.poll() is None or proc.stderr is None:
        return ""
    text = proc.stderr.read()[-2000:].decode(errors="replace")
    return f":\n{text}" if text else ""


def run_in_child(spec: str, jobs: List[Tuple[str, str, bytes]], *,
                 timeout: float = CHILD_TIMEOUT) -> Dict[str, Tuple[str, Any]]:
    """Deserialize and probe each ``(case, probe, frame)`` in a fresh interpreter; return its results."""
    try:
        return run_task(spec, "probe_frames", jobs, timeout=timeout)
    except ChildError as exc:
        return {case: ("error", str(exc)) for case, _, _ in jobs}
