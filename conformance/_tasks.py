"""What a child interpreter does for a clause (see :mod:`conformance.child`; the child's entry point,
:mod:`conformance._child_main`, looks the task up here): one function per task,
``task(impl, payload) -> plain data``."""

from __future__ import annotations

import time
import traceback
from typing import Any, Dict, Tuple

from conformance.child import signal
from conformance.watchdog import WatchedStore


def _attach(impl: Any, name: str) -> Any:
    """Attach to store ``name``; every call on it is bounded (a hang fails the task, naming the call)."""
    return WatchedStore(impl.store_factory.attach(name))


def probe_frames(impl: Any, jobs: Any) -> Dict[str, Tuple[str, Any]]:
    """Deserialize each ``(case, probe, frame)`` and apply the probe from :mod:`conformance._probes`."""
    from conformance import _probes

    results: Dict[str, Tuple[str, Any]] = {}
    for case, probe, frame in jobs:
        try:
            value = impl.serializer.deserialize(memoryview(frame))
            results[case] = ("ok", getattr(_probes, probe)(value))
        except BaseException as exc:  # noqa: BLE001 - reported per case
            results[case] = ("error", "".join(traceback.format_exception_only(type(exc), exc)).strip())
    return results


def store_get(impl: Any, payload: Any) -> Dict[str, Any]:
    """Attach to a store, get an object (waiting up to ``timeout``), describe what came back."""
    import numpy as np

    name, oid, timeout = payload
    store = _attach(impl, name)
    try:
        start = time.monotonic()
        value = store.get(oid, timeout=timeout)
        elapsed = time.monotonic() - start
        out: Dict[str, Any] = {"elapsed": elapsed, "type": type(value).__name__}
        if isinstance(value, np.ndarray):
            # The stored bytes as they are (raw buffers), or else a second get: either way no copy.
            raw = impl.claims("raw_buffers")
            buf = np.frombuffer(store.get_buffer(oid), dtype=np.uint8) if raw else store.get(oid)
            out.update(sum=float(value.astype("f8").sum()), shape=value.shape, dtype=value.dtype.str,
                       writeable=bool(value.flags.writeable), shares=bool(np.shares_memory(value, buf)))
            try:
                value[(0,) * value.ndim] = 0
                out["write"] = "allowed"
            except ValueError:
                out["write"] = "refused"
        else:
            out["value"] = value
        return out
    finally:
        store.close()


def store_look(impl: Any, payload: Any) -> Dict[str, Any]:
    """Attach to a store and report whether an object is visible (contains, list, get_buffer, timeout 0)."""
    name, oid = payload
    store = _attach(impl, name)
    try:
        got = "value"
        try:
            store.get_buffer(oid, timeout=0)
        except impl.timeout_error + impl.not_found_error as exc:
            got = type(exc).__name__
        return {"contains": store.contains(oid), "listed": oid in set(store.list()), "get": got}
    finally:
        store.close()


def store_put_on_cue(impl: Any, payload: Any) -> int:
    """Attach, say ``attached`` on stdout, then obey the cues the parent writes into the folder ``cues``:
    cue file ``0``, ``1``, ... holds ``(oid, at)``; wait until ``time.monotonic()`` reaches ``at`` (a clock
    every process on the machine shares), then put that clock's reading under ``oid``, so that the parent
    knows when the put started. A file ``stop`` ends the task (so does a minute without a cue); returns the
    number of puts."""
    import os
    import pickle

    name, cues = payload
    store = _attach(impl, name)
    try:
        signal(b"attached")
        done = 0
        idle_since = time.monotonic()
        while not os.path.exists(os.path.join(cues, "stop")) and time.monotonic() - idle_since < 60:
            try:
                with open(os.path.join(cues, str(done)), "rb") as f:
                    oid, at = pickle.load(f)
            except FileNotFoundError:
                time.sleep(0.002)
                continue
            time.sleep(max(0.0, at - time.monotonic()))
            store.put(time.monotonic(), oid)
            done += 1
            idle_since = time.monotonic()
        return done
    finally:
        store.close()


def store_hold(impl: Any, payload: Any) -> Dict[str, Any]:
    """Attach, get ``oid`` and keep the value, say ``holding`` on stdout, wait for the file ``release``
    (a minute at most; the parent may kill the task instead), then report whether the value is intact
    (``min`` and ``max`` of the array) and drop it."""
    import os

    name, oid, release = payload
    store = _attach(impl, name)
    try:
        held = store.get(oid, timeout=0)
        signal(b"holding")
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.005)
        return {"min": float(held.min()), "max": float(held.max())}
    finally:
        store.close()


def store_create_and_hang(impl: Any, payload: Any) -> None:
    """Attach, create an object and write into it, say so on stdout, then wait to be killed unsealed."""
    name, oid, size = payload
    store = _attach(impl, name)
    buf = store.create(oid, size)
    buf[:size] = b"\x07" * size
    signal(b"created")
    time.sleep(600)  # the parent kills it
