"""Store files: one per store name in ``/dev/shm``, created and attached safely, mapped once per process.

A store ``name`` is the file ``/dev/shm/objstore-<name>``, created with ``O_EXCL`` and mode 0600; attaching
refuses a file another user owns or others may read or write. Every handle of one store file in a process
shares one :class:`reference.arena.Arena` (one mapping, one lock), kept in a registry that a forked child
re-opens (its own lock, its own client slot).
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import threading
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from reference.arena import Arena, Layout, initialize, read_layout
from reference.errors import ObjectStoreError, StoreExistsError, StoreNotFoundError

__all__ = ["DEFAULT_MAX_CLIENTS", "DEFAULT_MAX_OBJECTS", "STORE_DIR", "create_arena", "open_arena",
           "release_arena", "store_path"]

#: Where store files live: tmpfs, so the store is memory.
STORE_DIR = "/dev/shm"
_PREFIX = "objstore-"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
DEFAULT_MAX_OBJECTS = 65536
DEFAULT_MAX_CLIENTS = 64


def store_path(name: Any) -> str:
    """The file of the store ``name``; ``ValueError`` for a name that is not 1-100 of [A-Za-z0-9_.-]."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"a store name is 1-100 characters from [A-Za-z0-9_.-], starting with a letter or digit; got "
            f"{name!r}"
        )
    return os.path.join(STORE_DIR, _PREFIX + name)


# -- one mapping per (process, store file) -----------------------------------------------------------------
_registry: Dict[Tuple[int, int], Arena] = {}
_registry_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for arena in list(_registry.values()):
        if not arena.closed:
            arena.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _map(path: str, fd: int) -> Arena:
    """The process's Arena for the store file open as ``fd`` (reusing a mapping of the same file)."""
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    with _registry_lock:
        arena = _registry.get(key)
        if arena is not None and not arena.closed:
            os.close(fd)
            arena.handles += 1
            return arena
        lay: Optional[Layout] = None
        mm: Optional[mmap.mmap] = None
        try:
            deadline = time.monotonic() + 2.0
            while True:
                size = os.fstat(fd).st_size
                if size:
                    mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                    lay = read_layout(mm)
                    if lay is not None:
                        break
                    mm.close()
                    mm = None
                if time.monotonic() > deadline:
                    raise ObjectStoreError(
                        f"{path} is not an object store file (no valid header after 2 s): remove it, or "
                        f"pick another store name"
                    )
                time.sleep(0.005)  # being created by another process: its header is written last
        except BaseException:
            if mm is not None:
                mm.close()
            os.close(fd)
            raise
        assert mm is not None and lay is not None  # the loop ends with both or raises
        arena = Arena(path, fd, mm, lay)
        arena.handles = 1
        _registry[key] = arena
        return arena


def create_arena(name: str, *, capacity: int, max_objects: int = DEFAULT_MAX_OBJECTS,
                 max_clients: int = DEFAULT_MAX_CLIENTS, prefault: bool = False) -> Arena:
    """Create the store file ``name`` and map it; see :meth:`reference.store.ObjectStore.create`.

    Raises :class:`StoreExistsError` if it exists, ``ValueError`` for a bad name or size.
    """
    path = store_path(name)
    for label, value, low in (("capacity", capacity, 0), ("max_objects", max_objects, 1),
                              ("max_clients", max_clients, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"'{label}' must be an integer >= {low}, got {value!r}")
    lay = Layout(capacity, max_objects, max_clients)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError as exc:
        raise StoreExistsError(
            f"a store named {name!r} already exists ({path}): attach to it with "
            f"ObjectStore.attach({name!r}), or destroy it first"
        ) from exc
    try:
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, lay.total)
        mm = mmap.mmap(fd, lay.total, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            if prefault and lay.data_size:
                data = np.frombuffer(mm, dtype=np.uint8, count=lay.data_size, offset=lay.data)
                data[::mmap.PAGESIZE] = 0
                del data
            initialize(mm, lay)
        finally:
            mm.close()
        fd2 = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.close(fd)
    return _map(path, fd2)


def open_arena(name: str) -> Arena:
    """Map the existing store file ``name``; see :meth:`reference.store.ObjectStore.attach`.

    Raises :class:`StoreNotFoundError` if there is none, ``PermissionError`` for a file that another user
    owns, that others may read or write, or that is not a regular file.
    """
    path = store_path(name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise StoreNotFoundError(
            f"no store named {name!r} on this machine ({path} does not exist): create it with "
            f"ObjectStore.create({name!r}, capacity=...)"
        ) from exc
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077 or not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise PermissionError(
            f"refusing to attach {path}: it must be a regular file owned by uid {os.geteuid()} with "
            f"mode 0600 (it has uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})"
        )
    return _map(path, fd)


def release_arena(arena: Arena) -> None:
    """One handle of ``arena`` is closed: at the last one, give the client slot back and unmap.

    The mapping stays (and is reused by a later attach) while views of objects are alive.
    """
    with _registry_lock:
        arena.handles -= 1
        if arena.handles > 0 or arena.closed:
            return
        if arena.local_pins == 0 and not arena.creating and arena.pid == os.getpid():
            try:
                with arena:
                    arena.release_client()
            except OSError:
                pass
        try:
            arena.close()
        except BufferError:
            return  # views of objects are alive: keep the mapping (reused if attached again)
        for key, value in list(_registry.items()):
            if value is arena:
                del _registry[key]
