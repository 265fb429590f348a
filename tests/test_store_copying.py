"""Large puts into the reference store: pages faulted ahead and copies split over threads (issue 12), with
the same result and the same safety as one plain copy."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from reference import (
    ObjectStore,
)

# -- large puts: pages faulted ahead, copies split over threads (issue 12) -----------------------------------

def test_copy_into_splits_a_large_copy_and_writes_every_byte(monkeypatch):
    """A copy of PARALLEL_MIN bytes or more is split into parts (one per thread) that together write every
    byte exactly; a smaller one is a plain slice assignment."""
    from reference import copying

    monkeypatch.setattr(copying, "copy_threads", lambda: 3)
    monkeypatch.setattr(copying, "_pool_pid", 0)  # a pool of this test's size, dropped after it
    monkeypatch.setattr(copying, "_pool", None)
    parts = []
    real = copying._copy_part
    monkeypatch.setattr(copying, "_copy_part", lambda d, s, n, p: (parts.append(n), real(d, s, n, p)))
    for size in (copying.PARALLEL_MIN - 1, copying.PARALLEL_MIN, 3 * copying.PARALLEL_MIN + 12345):
        parts.clear()
        source = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
        target = bytearray(size + 1)
        copying.copy_into(memoryview(target)[:size], memoryview(source))
        assert bytes(target[:size]) == source.tobytes() and target[size] == 0
        if size < copying.PARALLEL_MIN:
            assert parts == []
        else:
            assert len(parts) == min(3, size // (2 << 20)) and sum(parts) == size


def test_copy_into_waits_for_every_part_before_raising(monkeypatch):
    """When a part fails, copy_into still waits for every other part before it raises: nothing writes into
    the destination after it returns (the put then gives the space back)."""
    import threading

    from reference import copying

    monkeypatch.setattr(copying, "copy_threads", lambda: 2)
    monkeypatch.setattr(copying, "_pool_pid", 0)
    monkeypatch.setattr(copying, "_pool", None)
    done = threading.Event()
    real = copying._copy_part

    def part(dst, src, n, populate):
        if threading.current_thread() is threading.main_thread():
            raise OSError("boom")
        time.sleep(0.2)
        real(dst, src, n, populate)
        done.set()

    monkeypatch.setattr(copying, "_copy_part", part)
    source = np.ones(copying.PARALLEL_MIN * 2, dtype=np.uint8)
    with pytest.raises(OSError, match="boom"):
        copying.copy_into(memoryview(bytearray(source.nbytes)), memoryview(source))
    assert done.is_set()


def test_large_puts_into_fresh_and_mapped_pages_round_trip(name, monkeypatch):
    """A large put into fresh pages is faulted in ahead and marks its chunks; a put into the same (now
    mapped) pages copies without the advice; both come back bit for bit."""
    from reference import copying

    calls = []
    real = copying.copy_into
    monkeypatch.setattr(copying, "copy_into",
                        lambda t, s, populate: (calls.append((t.nbytes, populate)), real(t, s, populate)))
    value = np.random.default_rng(0).random(copying.PARALLEL_MIN // 8 * 3)
    s = ObjectStore.create(name, capacity=2 * value.nbytes)
    try:
        first = s.put(value)
        assert calls == [(value.nbytes, True)]
        assert np.array_equal(s.get(first), value)
        s.delete(first)
        second = s.put(value)  # first fit: the same, now mapped, pages
        assert calls == [(value.nbytes, True), (value.nbytes, False)]
        assert np.array_equal(s.get(second), value)
    finally:
        s.destroy()


def test_copy_helpers_are_joined_before_a_fork():
    """After a large copy, forking finds no helper thread left (a fork of a multi-threaded process can
    deadlock the child, and CPython 3.12+ warns); the next large copy starts them again."""
    import threading

    from reference import copying

    size = copying.PARALLEL_MIN * 2
    source = np.ones(size, dtype=np.uint8)
    copying.copy_into(memoryview(bytearray(size)), memoryview(source))
    if copying.copy_threads() > 1:
        assert any(t.name.startswith("objstore-copy") for t in threading.enumerate())
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert not any(t.name.startswith("objstore-copy") for t in threading.enumerate())
    target = bytearray(size)
    copying.copy_into(memoryview(target), memoryview(source))
    assert target == source.tobytes()
