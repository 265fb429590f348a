"""Run checks in a fresh interpreter that never saw the values' definitions.

The parent serializes each case with the implementation under test and sends ``(spec, protocol, jobs)``
to ``python -m conformance._child`` on stdin (stdlib pickle of plain bytes). The child loads the same
implementation by name, deserializes each frame, applies the named probe from :mod:`conformance._probes`
and writes ``{case: ("ok", result) | ("error", text)}`` back. Each run is bounded by a timeout and the
child is killed when it expires.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import traceback
from typing import Any, Dict, List, Tuple

__all__ = ["run_in_child"]

#: Seconds a child may take before it is killed and every case counted as failed.
CHILD_TIMEOUT = 60.0


def run_in_child(spec: str, jobs: List[Tuple[str, str, bytes]], *,
                 timeout: float = CHILD_TIMEOUT) -> Dict[str, Tuple[str, Any]]:
    """Deserialize and probe each ``(case, probe, frame)`` in a fresh interpreter; return its results."""
    payload = pickle.dumps((spec, jobs), protocol=4)
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    try:
        proc = subprocess.run([sys.executable, "-m", "conformance._child"], input=payload,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child before raising
        return {case: ("error", f"the child did not finish within {timeout}s") for case, _, _ in jobs}
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")[-2000:]
        return {case: ("error", f"the child exited with {proc.returncode}:\n{err}") for case, _, _ in jobs}
    return pickle.loads(proc.stdout)


def _main() -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything the values print must not corrupt the results
    spec, jobs = pickle.loads(sys.stdin.buffer.read())
    from conformance import _probes
    from conformance.registry import load_implementation

    impl = load_implementation(spec)
    results: Dict[str, Tuple[str, Any]] = {}
    for case, probe, frame in jobs:
        try:
            value = impl.serializer.deserialize(memoryview(frame))
            results[case] = ("ok", getattr(_probes, probe)(value))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
            results[case] = ("error", "".join(traceback.format_exception_only(type(exc), exc)).strip())
    out.write(pickle.dumps(results, protocol=4))
    out.flush()


if __name__ == "__main__":
    _main()
