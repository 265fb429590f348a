"""A bound on every store call a clause makes: a call that hangs fails its clause within seconds, naming the
call, instead of holding the run until pytest-timeout (10 minutes) or for ever.

A clause makes its stores through :class:`conformance.store_fixtures.StoreMaker`, which hands out a
:class:`WatchedStore`; child interpreters wrap the stores they attach the same way
(:mod:`conformance._tasks`), and the node clause wraps its cluster (:class:`WatchedCluster`). Each operation
runs in a daemon thread while the caller waits for it, at most:

* ``timeout + SLACK`` seconds for ``get``/``get_buffer`` with a finite ``timeout`` (a wait that ignores its
  timeout, or a ``get(timeout=0)`` that blocks, fails after ``SLACK`` seconds more than it was allowed);
* ``BOUND`` seconds for anything else (a put, a delete, a ``get`` without a timeout of an object that is
  there), which no correct store comes near even on a machine loaded many times over.

Calls run one at a time on a reused worker thread (one that hung is left to its call). Both bounds start
when the call does: whatever the call waits for (another process being ready) was waited
for before it. A call that overruns raises :class:`CallHung`, which derives from ``BaseException`` on
purpose: Hypothesis shrinks a failing example by replaying it, and every replay of a hang would cost the
bound again, so the clause ends at the first hang (as pytest's own timeout does). The hung thread is a
daemon: it is left behind, and ends with the process.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, List, Optional, TypeVar, Union

__all__ = ["BOUND", "SLACK", "CallHung", "WatchedCluster", "WatchedStore", "bounded", "describe_call",
           "last_call_seconds"]

#: Seconds a call with its own timeout may run beyond it.
SLACK = 10.0
#: Seconds any other store call may run.
BOUND = 60.0

T = TypeVar("T")


class CallHung(BaseException):
    """A store call did not return within its bound (see the module docstring for why a ``BaseException``)."""


def describe_call(operation: str, args: tuple, kwargs: dict) -> str:
    """``store.get(b'...', timeout=0)``: the call as a clause made it, ids in hex, long values cut short."""
    def show(value: Any) -> str:
        if isinstance(value, bytes) and len(value) == 20:
            return f"bytes.fromhex({value.hex()!r})"
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."

    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"store.{operation}({', '.join(parts)})"


class _Worker:
    """A daemon thread that runs the calls it is handed, one at a time. Reused from call to call (a thread
    per call costs ten times more on a busy machine); one whose call hung is never reused."""

    def __init__(self) -> None:
        self.jobs: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
        threading.Thread(target=self._run, name="conformance-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.jobs.get()()


_idle: List[_Worker] = []
_idle_lock = threading.Lock()


def bounded(call: Callable[[], T], what: Union[str, Callable[[], str]], seconds: float) -> T:
    """Run ``call()`` and return its result (or raise its exception); raise :class:`CallHung` naming
    ``what`` (or ``what()``, made only then) if it has not returned after ``seconds``."""
    with _idle_lock:
        worker = _idle.pop() if _idle else _Worker()
    outcome: List[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, _timed(call)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            outcome.append((False, exc))
        finally:
            done.set()

    worker.jobs.put(run)
    if not done.wait(seconds):
        call_text = what if isinstance(what, str) else what()
        raise CallHung(f"{call_text} did not return within {seconds:.0f} s: the call hangs (the bound is generous: "
                       f"a timeout's own length plus {SLACK:.0f} s, or {BOUND:.0f} s for a call without one)")
    with _idle_lock:
        _idle.append(worker)
    ok, value = outcome[0]
    if ok:
        return value
    raise value


#: Seconds the last bounded call took in its own thread (what it cost, without the hand-over between
#: threads, which a busy machine can stretch): :func:`last_call_seconds`.
_LAST_SECONDS = [0.0]


def _timed(call: Callable[[], T]) -> T:
    start = time.monotonic()
    try:
        return call()
    finally:
        _LAST_SECONDS[0] = time.monotonic() - start


def last_call_seconds() -> float:
    """Seconds the last bounded call to return (or raise) took, measured in the thread that ran it."""
    return _LAST_SECONDS[0]


def _bound_for(operation: str, kwargs: dict) -> float:
    timeout: Optional[float] = kwargs.get("timeout")
    if operation in ("get", "get_buffer") and timeout is not None:
        return max(0.0, float(timeout)) + SLACK
    return BOUND


class WatchedStore:
    """A store whose every operation runs under a bound (:func:`bounded`); everything else is forwarded.

    ``inner`` is the store itself (factories destroy that one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.inner, operation)
        return bounded(lambda: method(*args, **kwargs), lambda: describe_call(operation, args, kwargs),
                       _bound_for(operation, kwargs))

    def put(self, value: Any, object_id: Optional[bytes] = None) -> Any:
        return self._call("put", value, object_id) if object_id is not None else self._call("put", value)

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._call("get", object_id, timeout=timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._call("get_buffer", object_id, timeout=timeout)

    def contains(self, object_id: bytes) -> Any:
        return self._call("contains", object_id)

    def delete(self, object_id: bytes) -> Any:
        return self._call("delete", object_id)

    def create(self, object_id: bytes, size: int) -> Any:
        return self._call("create", object_id, size)

    def seal(self, object_id: bytes) -> Any:
        return self._call("seal", object_id)

    def abort(self, object_id: bytes) -> Any:
        return self._call("abort", object_id)

    def list(self) -> Any:
        return self._call("list")

    def close(self) -> Any:
        return self._call("close")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class WatchedCluster:
    """A cluster (capability ``nodes``) whose nodes are :class:`WatchedStore` and whose calls are bounded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._nodes: dict = {}

    def node(self, index: int) -> WatchedStore:
        if index not in self._nodes:
            self._nodes[index] = WatchedStore(bounded(lambda: self.inner.node(index), f"cluster.node({index})",
                                                      BOUND))
        return self._nodes[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        return bool(bounded(lambda: self.inner.is_local(index, object_id),
                            lambda: f"cluster.is_local({index}, bytes.fromhex({object_id.hex()!r}))", BOUND))

    def close(self) -> None:
        bounded(self.inner.close, "cluster.close()", BOUND)
