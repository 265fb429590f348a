"""Shared helpers of the stress battery: the scale, self-verifying values, store fixtures, a fake node, the
framing of ``multiprocessing.connection`` messages. (The table checker is ``reference.arena.verify``.)

Every value the battery writes is derived from its object ID alone (:func:`value_for`), so any process can
check any object it reads, by content hash, without shared bookkeeping: :func:`check_value` recomputes the
payload from the ID and compares digests. Nothing here is a test; the test modules are ``test_stress_*.py``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import socket
import threading
import time
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from _names import unique_name
from hypothesis import HealthCheck, settings

from reference.store import ObjectStore
from reference.storefile import store_path as store_path  # re-exported for the battery

SCALES = ("short", "full")


def scale() -> str:
    """The battery's size from ``STRESS_SCALE``; an unknown value fails loudly with the choices."""
    value = os.environ.get("STRESS_SCALE", "short")
    if value not in SCALES:
        raise ValueError(f"STRESS_SCALE={value!r} is not a scale: use one of {SCALES} (default short)")
    return value


def scaled(short: Any, full: Any) -> Any:
    """``short`` or ``full`` according to :func:`scale`."""
    return full if scale() == "full" else short


def fuzz_settings(short: int, full: int) -> Any:
    """Hypothesis settings of a fuzzing test of the battery: ``short`` or ``full`` examples (see
    :func:`scaled`), no deadline, no example database, no health check (inputs are meant to be slow)."""
    return settings(max_examples=scaled(short, full), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def tally(counts: Counter, kind: str) -> None:
    """Count one more input, and one more of ``kind``, in a fuzzing test's figures."""
    counts["inputs"] += 1
    counts[f"inputs: {kind}"] += 1


# -- self-verifying values ------------------------------------------------------------------------------

#: Payload sizes (bytes), chosen by a byte of the ID: small values dominate, as in a real store.
SIZES = (0, 100, 1000, 4000, 16000, 64000, 200000)


def make_id(tag: str, i: int) -> bytes:
    """The 20-byte object ID number ``i`` of the series ``tag`` (sha1: exactly Plasma's 20 bytes)."""
    return hashlib.sha1(f"{tag}/{i}".encode()).digest()


def size_for(oid: bytes, sizes: Sequence[int] = SIZES) -> int:
    return sizes[oid[8] % len(sizes)]


def payload_for(oid: bytes, size: Optional[int] = None) -> np.ndarray:
    """The payload of ``oid``: ``size`` (default :func:`size_for`) pseudo-random bytes seeded by the ID."""
    n = size_for(oid) if size is None else size
    return np.random.default_rng(int.from_bytes(oid[:8], "little")).integers(0, 256, n, dtype=np.uint8)


def digest(data: Any) -> bytes:
    """A 16-byte BLAKE2b digest of a C-contiguous buffer (read-only ones included)."""
    return hashlib.blake2b(data, digest_size=16).digest()


@functools.lru_cache(maxsize=65536)
def expected_digest(oid: bytes, size: Optional[int] = None) -> bytes:
    return digest(payload_for(oid, size))


def value_for(oid: bytes, size: Optional[int] = None) -> Dict[str, Any]:
    """The value stored under ``oid``: its ID, a payload (out-of-band at protocol 5) and the payload's digest."""
    payload = payload_for(oid, size)
    return {"id": oid, "n": int(payload.nbytes), "payload": payload, "digest": digest(payload)}


def check_value(oid: bytes, value: Any, size: Optional[int] = None) -> Tuple[Optional[str], int]:
    """(a description of what is wrong with ``value`` read back under ``oid``, or None; bytes hashed)."""
    try:
        if value["id"] != oid:
            return f"object {oid.hex()} holds the value of {bytes(value['id']).hex()}", 0
        payload = value["payload"]
        got = digest(payload)
        if got != value["digest"]:
            return f"object {oid.hex()}: payload digest {got.hex()} != stored digest {value['digest'].hex()}", \
                payload.nbytes
        if got != expected_digest(oid, size):
            return f"object {oid.hex()}: payload differs from the one derived from its ID", payload.nbytes
        if payload.flags.writeable:
            return f"object {oid.hex()}: payload is writable (the store must give read-only views)", \
                payload.nbytes
        return None, int(payload.nbytes)
    except Exception as exc:  # noqa: BLE001 - anything odd about the value is a mismatch to report
        return f"object {oid.hex()}: unreadable value {type(exc).__name__}: {exc}", 0


# -- stores ---------------------------------------------------------------------------------------------

def store_name(part: str) -> str:
    """A unique store name for the battery's ``part``."""
    return unique_name(f"stress-{part}")


class TempStore:
    """``with TempStore(part, capacity=...) as store:`` a fresh store, destroyed on exit."""

    def __init__(self, part: str, **kwargs: Any) -> None:
        self.name = store_name(part)
        self.kwargs = kwargs

    def __enter__(self) -> ObjectStore:
        self.store = ObjectStore.create(self.name, **self.kwargs)
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.destroy()


# -- processes ------------------------------------------------------------------------------------------

def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap(pids: Sequence[int], timeout: float = 30.0) -> Dict[int, int]:
    """Wait for ``pids`` (children of this process); {pid: wait status}. Kills any still alive at the end."""
    out: Dict[int, int] = {}
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending:
        for pid in list(pending):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                out[pid] = status
                pending.remove(pid)
        if pending:
            if time.monotonic() > deadline:
                for pid in pending:
                    kill(pid)
                    out[pid] = os.waitpid(pid, 0)[1]
                break
            time.sleep(0.005)
    return out


def iter_ids(store: ObjectStore) -> Iterator[bytes]:
    for info in store.list():
        yield info.object_id.binary()


class FakeNode:
    """A loopback server that pretends to be a node: ``behave(conn)`` runs for each connection, one at a
    time, in a thread, on a socket with ``timeout`` (``None``: blocking). ``OSError`` from ``behave`` (the
    puller hung up) is expected; any other exception is kept in ``errors`` for the test to report.
    ``close()`` stops accepting."""

    def __init__(self, behave: Callable[[socket.socket], None], *, timeout: Optional[float] = 5.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = self.sock.getsockname()
        self.behave = behave
        self.timeout = timeout
        self.errors: List[str] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(self.timeout)
                try:
                    self.behave(conn)
                except OSError:
                    pass
                except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
                    self.errors.append(repr(exc))
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def framed(payload: bytes) -> bytes:
    """``payload`` as one ``multiprocessing.connection`` message (a 4-byte big-endian length first)."""
    return len(payload).to_bytes(4, "big") + payload


def drain(sock: socket.socket, quiet: float) -> bytes:
    """Everything ``sock`` receives until the peer closes or sends nothing for ``quiet`` seconds (0: only
    what has already arrived)."""
    sock.settimeout(quiet)
    got = b""
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            got += data
    except OSError:  # socket.timeout and BlockingIOError included: quiet
        pass
    return got
