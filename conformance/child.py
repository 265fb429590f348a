"""Run checks in a fresh interpreter that never saw the values' definitions.

The parent sends ``(spec, task, payload)`` to ``python -m conformance.child`` on stdin (stdlib pickle of
plain data). The child loads the same implementation by name, runs ``conformance._tasks.<task>(impl,
payload)`` and writes ``("ok", result)`` or ``("error", text)`` back. Every run is bounded by a timeout;
the child is killed when it expires.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import traceback
from typing import Any, Dict, List, Tuple

__all__ = ["ChildError", "run_in_child", "run_task", "start_task"]

#: Seconds a child may take before it is killed.
CHILD_TIMEOUT = 60.0


class ChildError(AssertionError):
    """The child failed: it raised, crashed, or ran out of time."""


def _cmd() -> List[str]:
    return [sys.executable, "-m", "conformance.child"]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return env


def run_task(spec: str, task: str, payload: Any = None, *, timeout: float = CHILD_TIMEOUT) -> Any:
    """Run ``conformance._tasks.<task>(impl, payload)`` in a fresh interpreter and return its result.

    Raises :class:`ChildError` with the child's traceback when it raises, exits or times out.
    """
    data = pickle.dumps((spec, task, payload), protocol=4)
    try:
        proc = subprocess.run(_cmd(), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=_env())
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        raise ChildError(f"the child running {task!r} did not finish within {timeout}s") from None
    if proc.returncode != 0 or not proc.stdout:
        raise ChildError(f"the child running {task!r} exited with {proc.returncode}:\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    status, result = pickle.loads(proc.stdout)
    if status != "ok":
        raise ChildError(f"in the child, {task!r} failed: {result}")
    return result


def start_task(spec: str, task: str, payload: Any = None) -> "subprocess.Popen[bytes]":
    """Start a task without waiting (the caller reads, waits for or kills the process)."""
    proc = subprocess.Popen(_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps((spec, task, payload), protocol=4))
    proc.stdin.close()
    return proc


def run_in_child(spec: str, jobs: List[Tuple[str, str, bytes]], *,
                 timeout: float = CHILD_TIMEOUT) -> Dict[str, Tuple[str, Any]]:
    """Deserialize and probe each ``(case, probe, frame)`` in a fresh interpreter; return its results."""
    try:
        return run_task(spec, "probe_frames", jobs, timeout=timeout)
    except ChildError as exc:
        return {case: ("error", str(exc)) for case, _, _ in jobs}


def _main() -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything the values print must not corrupt the results
    spec, task, payload = pickle.loads(sys.stdin.buffer.read())
    try:
        from conformance import _tasks
        from conformance.registry import load_implementation

        impl = load_implementation(spec)
        result: Tuple[str, Any] = ("ok", getattr(_tasks, task)(impl, payload))
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
        result = ("error", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:])
    out.write(pickle.dumps(result, protocol=4))
    out.flush()


if __name__ == "__main__":
    _main()
