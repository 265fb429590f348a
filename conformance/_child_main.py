"""The child interpreter's entry point: ``python -m conformance._child_main`` (see :mod:`conformance.child`).

Reads ``(spec, task, payload)`` from stdin, loads the implementation ``spec``, says ``ready``, runs
``conformance._tasks.<task>(impl, payload)`` and writes ``("ok", result)`` or ``("error", text)`` to stdout
as a pickle, after any lines. Kept apart from :mod:`conformance.child`, the parent's side, so that the
tasks (which signal the parent through it) and the parent never import each other.
"""

from __future__ import annotations

import pickle
import sys
import traceback
from typing import Any, Tuple

from conformance.child import READY, signal


def _main() -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything the values print must not corrupt the results
    spec, task, payload = pickle.loads(sys.stdin.buffer.read())
    try:
        from conformance import _tasks
        from conformance.registry import load_implementation

        impl = load_implementation(spec)
        function = getattr(_tasks, task)
        signal(READY)  # imported and loaded: the parent's clock for the task starts now
        result: Tuple[str, Any] = ("ok", function(impl, payload))
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
        result = ("error", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:])
        sys.stderr.write(result[1])  # also for a parent still waiting for a line (wait_for_line shows it)
    out.write(pickle.dumps(result, protocol=4))
    out.flush()


if __name__ == "__main__":
    _main()
