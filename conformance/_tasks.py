"""What a child interpreter does for a clause (see :mod:`conformance.child`; the child's entry point,
:mod:`conformance._child_main`, looks the task up here): one function per task,
``task(impl, payload) -> plain data``."""

from __future__ import annotations

import time
import traceback
from typing import Any, Dict, Tuple

from conformance.child import signal


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
    store = impl.store_factory.attach(name)
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
    store = impl.store_factory.attach(name)
    try:
        got = "value"
        try:
            store.get_buffer(oid, timeout=0)
        except impl.timeout_error + impl.not_found_error as exc:
            got = type(exc).__name__
        return {"contains": store.contains(oid), "listed": oid in set(store.list()), "get": got}
    finally:
        store.close()


def store_put_later(impl: Any, payload: Any) -> bool:
    """Attach, say ``attached`` on stdout, sleep ``delay`` seconds, then put ``value`` under ``oid``."""
    name, oid, value, delay = payload
    store = impl.store_factory.attach(name)
    try:
        signal(b"attached")
        time.sleep(delay)
        store.put(value, oid)
        return True
    finally:
        store.close()


def store_create_and_hang(impl: Any, payload: Any) -> None:
    """Attach, create an object and write into it, say so on stdout, then wait to be killed unsealed."""
    name, oid, size = payload
    store = impl.store_factory.attach(name)
    buf = store.create(oid, size)
    buf[:size] = b"\x07" * size
    signal(b"created")
    time.sleep(600)  # the parent kills it
