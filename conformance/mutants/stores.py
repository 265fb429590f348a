"""Mutants of one store client: listing, immutability, zero copy, visibility, abort, timeouts, delete,
capacity. Each is the ``shared_memory`` adapter's store behind a :class:`StoreWrapper` that breaks one
operation."""

from __future__ import annotations

import copy
import ctypes
import os
import time
from typing import Any, Dict, List, Optional, Set

from conformance.adapters.shared_memory import ObjectExistsError
from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import StoreWrapper, shared_memory_mutant, writable_alias


class _Unlisted(StoreWrapper):
    def __init__(self, inner: Any, serializer: Any) -> None:
        super().__init__(inner, serializer)
        self.mine: Set[bytes] = set()

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = super().put(value, object_id)
        self.mine.add(oid)
        return oid

    def list(self) -> List[bytes]:
        return [o for o in super().list() if o not in self.mine]


@mutant("store_unlisted", "store.put_get.roundtrip", "store.stateful.model")
def store_unlisted() -> Implementation:
    """list() forgets the objects this client put."""
    return shared_memory_mutant("store_unlisted", _Unlisted)


class _Overwrites(StoreWrapper):
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        if object_id is not None and self.contains(object_id):
            self.delete(object_id)
        return super().put(value, object_id)


@mutant("store_overwrites", "store.immutability.exists")
def store_overwrites() -> Implementation:
    """put with an existing id replaces the object."""
    return shared_memory_mutant("store_overwrites", _Overwrites)


class _WritableGets(StoreWrapper):
    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return writable_alias(super().get_buffer(object_id, timeout=timeout))

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self.serializer.deserialize(self.get_buffer(object_id, timeout=timeout))


@mutant("store_writable_gets", "store.immutability.read_only")
def store_writable_gets() -> Implementation:
    """get and get_buffer hand out writable views of the stored object."""
    return shared_memory_mutant("store_writable_gets", _WritableGets)


class _WriterViewSurvives(StoreWrapper):
    def create(self, object_id: bytes, size: int) -> memoryview:
        # The writer gets an alias of the object's memory that seal cannot revoke (the store keeps the
        # memory mapped), so writes after seal land in the sealed object.
        return writable_alias(super().create(object_id, size))


@mutant("store_writer_view_survives", "store.immutability.sealed_bytes")
def store_writer_view_survives() -> Implementation:
    """seal leaves the writer's create() view writable, so sealed bytes can still change."""
    return shared_memory_mutant("store_writer_view_survives", _WriterViewSurvives)


class _CopiesOnGet(StoreWrapper):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        view = self.get_buffer(object_id, timeout=timeout)
        return self.serializer.deserialize(memoryview(bytes(view)).toreadonly())


@mutant("store_copies_on_get", "store.zero_copy.local", "store.multiprocess.zero_copy")
def store_copies_on_get() -> Implementation:
    """get deserializes from a private copy of the object's bytes."""
    return shared_memory_mutant("store_copies_on_get", _CopiesOnGet)


class _ShowsUnsealed(StoreWrapper):
    def create(self, object_id: bytes, size: int) -> memoryview:
        # Sealed at once, under its final name: every reader sees it while the writer still writes.
        view = writable_alias(super().create(object_id, size))
        super().seal(object_id)
        return view

    def seal(self, object_id: bytes) -> None:
        pass

    def abort(self, object_id: bytes) -> None:
        self.delete(object_id)


@mutant("store_shows_unsealed", "store.visibility.unsealed", "store.multiprocess.unsealed_invisible")
def store_shows_unsealed() -> Implementation:
    """Creates objects under their final name: readers see them before seal."""
    return shared_memory_mutant("store_shows_unsealed", _ShowsUnsealed)


class _AbortLeaks(StoreWrapper):
    def __init__(self, inner: Any, serializer: Any) -> None:
        super().__init__(inner, serializer)
        self.sizes: Dict[bytes, int] = {}
        self.leaked: Set[bytes] = set()

    def create(self, object_id: bytes, size: int) -> memoryview:
        view = super().create(object_id, size)
        self.sizes[object_id] = size
        return view

    def abort(self, object_id: bytes) -> None:
        super().abort(object_id)
        # The space stays taken: a hidden object of the same size, which nothing ever frees.
        self.leaked.add(super().put(bytes(self.sizes.pop(object_id, 0))))

    def list(self) -> List[bytes]:
        return [o for o in super().list() if o not in self.leaked]


@mutant("store_abort_leaks", "store.abort.leaves_nothing")
def store_abort_leaks() -> Implementation:
    """abort forgets the object but leaves its space allocated."""
    return shared_memory_mutant("store_abort_leaks", _AbortLeaks)


class _TimeoutZeroWaits(StoreWrapper):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return super().get(object_id, timeout=1.0 if timeout == 0 else timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return super().get_buffer(object_id, timeout=1.0 if timeout == 0 else timeout)


@mutant("store_timeout_zero_waits", "store.timeouts.zero")
def store_timeout_zero_waits() -> Implementation:
    """get(timeout=0) waits a second before giving up."""
    return shared_memory_mutant("store_timeout_zero_waits", _TimeoutZeroWaits)


class _TimeoutZeroBlocks(StoreWrapper):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return super().get(object_id, timeout=None if timeout == 0 else timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return super().get_buffer(object_id, timeout=None if timeout == 0 else timeout)


@mutant("store_timeout_zero_blocks", "store.timeouts.zero")
def store_timeout_zero_blocks() -> Implementation:
    """get(timeout=0) of a missing object waits for ever (as timeout=None does)."""
    return shared_memory_mutant("store_timeout_zero_blocks", _TimeoutZeroBlocks)


#: Seconds the dawdling mutant's get(timeout=0) waits: well under the half second the clause once allowed.
_GRACE = 0.25


class _TimeoutZeroDawdles(StoreWrapper):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return super().get(object_id, timeout=_GRACE if timeout == 0 else timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return super().get_buffer(object_id, timeout=_GRACE if timeout == 0 else timeout)


@mutant("store_timeout_zero_dawdles", "store.timeouts.zero")
def store_timeout_zero_dawdles() -> Implementation:
    """get(timeout=0) of a missing object grants a quarter of a second of grace before it raises."""
    return shared_memory_mutant("store_timeout_zero_dawdles", _TimeoutZeroDawdles)


class _BackoffUncapped(StoreWrapper):
    """Waits by polling with timeout 0, sleeping twice as long after each miss (from 1 ms, no cap)."""

    def _wait(self, look: Any, object_id: bytes, timeout: Optional[float]) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 1e-3
        while True:
            try:
                return look(object_id, timeout=0)
            except TimeoutError:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise
                time.sleep(delay if left is None else min(delay, left))
                delay *= 2

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._wait(super().get, object_id, timeout)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return self._wait(super().get_buffer, object_id, timeout)


@mutant("store_backoff_uncapped", "store.timeouts.wait_for_put")
def store_backoff_uncapped() -> Implementation:
    """A waiting get polls with a back-off that doubles without a cap: a seal after a long wait is noticed
    late."""
    return shared_memory_mutant("store_backoff_uncapped", _BackoffUncapped)


class _BufferPadded(StoreWrapper):
    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        import numpy as np

        view = super().get_buffer(object_id, timeout=timeout)
        if view.nbytes == 0:
            return view
        padded = -(-view.nbytes // 64) * 64  # the allocation, 64-byte aligned; its page is mapped
        address = np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0]
        return memoryview((ctypes.c_char * padded).from_address(address)).cast("B").toreadonly()


@mutant("store_buffer_padded", "store.immutability.sealed_bytes")
def store_buffer_padded() -> Implementation:
    """get_buffer returns the object's allocation: its bytes followed by the alignment padding."""
    return shared_memory_mutant("store_buffer_padded", _BufferPadded)


class _IgnoresTimeout(StoreWrapper):
    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return super().get(object_id, timeout=0)

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        return super().get_buffer(object_id, timeout=0)


@mutant("store_ignores_timeout", "store.timeouts.positive", "store.timeouts.wait_for_put")
def store_ignores_timeout() -> Implementation:
    """get never waits: any timeout behaves like 0."""
    return shared_memory_mutant("store_ignores_timeout", _IgnoresTimeout)


class _DeleteScribbles(StoreWrapper):
    def delete(self, object_id: bytes) -> None:
        view = writable_alias(self.get_buffer(object_id, timeout=0))
        view[:] = bytes(len(view))
        super().delete(object_id)


@mutant("store_delete_scribbles", "store.delete.views_valid")
def store_delete_scribbles() -> Implementation:
    """delete zeroes the object's memory under its readers before unlinking it."""
    return shared_memory_mutant("store_delete_scribbles", _DeleteScribbles)


@mutant("store_never_full", "store.full.raises")
def store_never_full() -> Implementation:
    """Ignores its capacity: a put larger than the store succeeds."""
    return shared_memory_mutant("store_never_full", capacity=lambda capacity: capacity << 10)


class _ProcessLocal(StoreWrapper):
    #: (store name, id) -> value, in this process only.
    local: Dict[Any, Any] = {}

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = object_id or os.urandom(20)
        if (self.name, oid) in self.local:
            raise ObjectExistsError(f"object {oid.hex()} exists")
        self.local[(self.name, oid)] = value
        return oid

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        try:
            return self.local[(self.name, object_id)]
        except KeyError:
            return super().get(object_id, timeout=timeout)


@mutant("store_process_local", "store.multiprocess.get")
def store_process_local() -> Implementation:
    """Keeps its objects in the writer's memory: another process sees an empty store."""
    return shared_memory_mutant("store_process_local", _ProcessLocal)


class _SplitsValues(StoreWrapper):
    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        # An envelope around each item, as a store with its own container format writes one: what the
        # items share with each other (or with the container) is copied apart.
        if type(value) in (list, tuple):
            value = type(value)(copy.deepcopy(item) for item in value)
        elif type(value) is dict:
            value = {key: copy.deepcopy(item) for key, item in value.items()}
        return super().put(value, object_id)


@mutant("store_splits_values", "store.put_get.identity")
def store_splits_values() -> Implementation:
    """put stores each item of a list, tuple or dict apart: references the items share come back as
    copies."""
    return shared_memory_mutant("store_splits_values", _SplitsValues)
