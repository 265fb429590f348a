"""Copying a large buffer into the store: pages faulted in ahead, and the copy split over a few threads.

A put of a large object is one ``memcpy`` of each out-of-band buffer into shared memory. One thread copying
reaches one core's memory bandwidth; into fresh pages it also pays every page fault (the kernel zeroes each
page before the copy can write it). :func:`copy_into` splits a copy of :data:`PARALLEL_MIN` bytes or more
into one part per usable core (``os.sched_getaffinity``, at most :data:`MAX_THREADS`), and each part is
first faulted in with ``madvise(MADV_POPULATE_WRITE)`` (Linux 5.14+; one call per part instead of a fault
per page) and then copied, the parts at once. Where the kernel refuses the advice, the copy itself faults
the pages in, still in parallel.

Both ``madvise`` and ``memmove`` are called through ``ctypes``, which releases the GIL. The helper threads
are started once, at the first large copy, and again only after a fork (they are joined before one, so
that forking never copies a multi-threaded process); never for a copy below :data:`PARALLEL_MIN`; the
caller copies one part itself. :func:`copy_into` returns only when every part is written, even when it
raises, so nothing writes into the destination afterwards: a put that fails or is interrupted can give the
space back safely. It is still one copy of each byte.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, List, Optional

import numpy as np

__all__ = ["MAX_THREADS", "PARALLEL_MIN", "PageMap", "copy_into", "copy_threads"]

#: Copies smaller than this are one plain ``memcpy`` in the calling thread.
PARALLEL_MIN = 4 << 20
#: At most this many threads copy one buffer (the caller included).
MAX_THREADS = 8
#: No part is smaller than this (a part costs a task hand-off; 2 MiB is also one huge page).
_PART_MIN = 2 << 20
_PAGE = mmap.PAGESIZE
# The constant is in Python's mmap module from 3.13 on; its value is fixed by Linux's ABI.
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)

_libc: Any = None
_madvise: Any = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    _madvise = _libc.madvise
    _madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    _madvise.restype = ctypes.c_int
except (OSError, AttributeError):  # no libc with madvise: copies fault their pages themselves
    _madvise = None
_populate_works = _madvise is not None and os.uname().sysname == "Linux"

_pool: Optional[ThreadPoolExecutor] = None
_pool_pid = 0
_pool_lock = threading.Lock()


def copy_threads() -> int:
    """How many threads a large copy uses here: the usable cores, at most :data:`MAX_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def _helpers() -> Optional[ThreadPoolExecutor]:
    """The process's helper threads (threads - 1 of them), started on first use; None on one core."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool_pid == pid:
        return _pool
    with _pool_lock:
        if _pool_pid != pid:  # first use, or a forked child: the parent's threads do not exist here
            n = copy_threads() - 1
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="objstore-copy") if n else None
            _pool_pid = pid
    return _pool


def _stop_helpers_before_fork() -> None:
    # Idle helper threads would make every later fork a fork of a multi-threaded process (CPython 3.12+
    # warns: the child may deadlock on a lock a thread held). They are joined before a fork (a copy in
    # flight finishes first) and started again by the next large copy.
    global _pool, _pool_pid
    with _pool_lock:
        pool, _pool, _pool_pid = _pool, None, 0
    if pool is not None:
        pool.shutdown(wait=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_stop_helpers_before_fork)


def _populate(addr: int, length: int) -> None:
    global _populate_works
    if not _populate_works:
        return
    start = addr - addr % _PAGE
    if _madvise(start, addr + length - start, _MADV_POPULATE_WRITE) != 0:
        # EINVAL: a kernel before 5.14. Anything else (ENOMEM under memory pressure) is not fatal either:
        # the copy faults the pages in. Stop asking after the first refusal.
        _populate_works = False


def _copy_part(dst: int, src: int, length: int, populate: bool) -> None:
    if populate:
        _populate(dst, length)
    ctypes.memmove(dst, src, length)


def copy_into(target: memoryview, source: Any, populate: bool = True) -> None:
    """Copy ``source`` (a buffer of ``target.nbytes`` bytes) into the writable memoryview ``target``.

    Below :data:`PARALLEL_MIN` bytes this is ``target[:] = source``. Otherwise the copy runs on
    :func:`copy_threads` threads, each part first faulted in ahead when ``populate`` is true (pass false
    for pages this process has mapped already: the advice would only walk them). Returns when every byte
    is written.
    """
    length = target.nbytes
    if length < PARALLEL_MIN:
        target[:] = source
        return
    threads = copy_threads()
    dst_array = np.frombuffer(target, dtype=np.uint8)
    src_array = np.frombuffer(source, dtype=np.uint8)
    if src_array.nbytes != length:
        raise ValueError(f"copy_into: the source holds {src_array.nbytes} bytes, the target {length}")
    dst = dst_array.ctypes.data
    src = src_array.ctypes.data
    parts = max(1, min(threads, length // _PART_MIN))
    pool = _helpers() if parts > 1 else None
    if pool is None:
        _copy_part(dst, src, length, populate)
        return
    step = (length // parts + _PAGE - 1) // _PAGE * _PAGE  # parts start on page boundaries
    futures: List[Future[None]] = []
    try:
        for start in range(step, length, step):
            try:
                futures.append(pool.submit(_copy_part, dst + start, src + start, min(step, length - start),
                                           populate))
            except RuntimeError:  # another thread is forking and stopped the helpers: copy the part here
                _copy_part(dst + start, src + start, min(step, length - start), populate)
        _copy_part(dst, src, step, populate)
    finally:
        # Every part must be done before the caller may seal or give the space back, error or not.
        error: Optional[BaseException] = None
        for future in futures:
            while True:
                try:
                    future.result()
                    break
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after every part is done
                    error = error or exc
                    if future.done():  # else an interrupt cut the wait short: wait again
                        break
        del dst_array, src_array
        if error is not None:
            raise error


class PageMap:
    """Which 2 MiB chunks of one mapping this process has faulted in, so that only fresh memory is
    faulted in ahead by :func:`copy_into`.

    Into fresh pages, faulting ahead and copying on two threads takes 0.6x the time of one ``memcpy``
    (``benchmarks/README.md``), the kernel's page zeroing being most of the cost. Into pages already
    mapped, ``MADV_POPULATE_WRITE`` would only walk every page (2 ms per 64 MiB), so those copies skip
    it; two threads copying mapped pages take 0.45x the time of one ``memcpy`` on an idle 2-core machine.
    A chunk is marked once a copy through this map has covered it; a forked child starts with a new map.
    """

    CHUNK = 2 << 20

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.mapped = bytearray(size // self.CHUNK + 1)

    def copy(self, target: memoryview, source: Any) -> None:
        """Copy ``source`` into ``target`` (a slice of the mapping), in parallel where the pages are fresh."""
        length = target.nbytes
        if length < PARALLEL_MIN:
            target[:] = source
            return
        start = np.frombuffer(target, dtype=np.uint8).ctypes.data - self.base
        first, last = start // self.CHUNK, (start + length - 1) // self.CHUNK
        fresh = self.mapped.find(0, first, last + 1) >= 0
        copy_into(target, source, populate=fresh)
        if fresh:
            self.mapped[first:last + 1] = b"\x01" * (last + 1 - first)
