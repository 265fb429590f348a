"""An example object store: immutable objects in a dict, in one process, with a byte budget.

Values are pickled at protocol 5 with their buffers out-of-band; a sealed object is one ``bytes`` (the
pickle's length, the pickle, then the buffers), so ``get`` hands out read-only views of it (zero copy), and a
writer's ``create`` view, a ``bytearray``, can no longer reach it. Clients of one store share it by name
within the process; there is no other process and no eviction.
"""

from __future__ import annotations

import os
import pickle
import struct
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

__all__ = ["DictStore", "DictStoreFactory", "ObjectExists", "PickleSerializer", "StoreFull", "StoreError"]

_LEN = struct.Struct("<QI")  # in-band length, buffer count; then a u64 length per buffer
_U64 = struct.Struct("<Q")
ID_SIZE = 20


class StoreError(Exception):
    """The base of this store's errors (and what a corrupt frame raises)."""


class ObjectExists(StoreError):
    """An object with this id is already in the store (sealed or being created)."""


class StoreFull(StoreError):
    """The object does not fit in what is left of the store's capacity."""


class Frame:
    """A value as pickle 5 makes it: the in-band pickle and its out-of-band buffers."""

    def __init__(self, inband: bytes, buffers: List[memoryview]) -> None:
        self.inband = inband
        self.buffers = buffers
        self.frame_size = (_LEN.size + _U64.size * len(buffers) + len(inband)
                           + sum(b.nbytes for b in buffers))

    def write_to(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        parts = [_LEN.pack(len(self.inband), len(self.buffers))]
        parts += [_U64.pack(b.nbytes) for b in self.buffers] + [self.inband]
        pos = 0
        for part in [*parts, *self.buffers]:
            n = memoryview(part).nbytes
            out[pos:pos + n] = memoryview(part).cast("B")
            pos += n
        return self.frame_size


class PickleSerializer:
    """stdlib pickle; at protocol 5 buffers go out-of-band and come back as views of the frame."""

    def serialize(self, obj: Any, *, protocol: int) -> Frame:
        buffers: List[Any] = []
        try:
            inband = pickle.dumps(obj, protocol=protocol, buffer_callback=buffers.append if protocol >= 5 else None)
        except Exception as exc:  # noqa: BLE001 - pickle raises several types for one problem
            raise StoreError(f"cannot serialize {type(obj).__name__}: {exc}") from exc
        return Frame(inband, [b.raw() for b in buffers])

    def deserialize(self, frame: Any) -> Any:
        view = memoryview(frame).cast("B")
        try:
            inband_len, count = _LEN.unpack_from(view)
            pos = _LEN.size + _U64.size * count
            lengths = [_U64.unpack_from(view, _LEN.size + _U64.size * i)[0] for i in range(count)]
        except struct.error as exc:
            raise StoreError("the frame is truncated inside its header") from exc
        inband = view[pos:pos + inband_len]
        pos += inband_len
        buffers = []
        for n in lengths:
            buffers.append(view[pos:pos + n])
            pos += n
        if pos != view.nbytes:
            raise StoreError(f"the frame's header says {pos} bytes, it has {view.nbytes}")
        try:
            return pickle.loads(inband, buffers=buffers)
        except Exception as exc:  # noqa: BLE001 - a corrupt pickle can raise almost anything
            raise StoreError(f"the frame's pickle does not load: {exc}") from exc


class _Shared:
    """What every client of one store sees: the sealed objects, the ones being created, the budget."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.sealed: Dict[bytes, bytes] = {}
        self.created: Dict[bytes, bytearray] = {}
        self.changed = threading.Condition()

    def used(self) -> int:
        return sum(len(b) for b in self.sealed.values()) + sum(len(b) for b in self.created.values())


class DictStore:
    """One client of a store; every method is thread-safe."""

    def __init__(self, name: str, shared: _Shared, serializer: PickleSerializer) -> None:
        self.name = name
        self._s = shared
        self._ser = serializer

    def _reserve(self, object_id: bytes, size: int) -> bytearray:
        if object_id in self._s.sealed or object_id in self._s.created:
            raise ObjectExists(f"object {object_id.hex()} exists")
        if size > self._s.capacity - self._s.used():
            raise StoreFull(f"{size} bytes do not fit: {self._s.capacity - self._s.used()} of "
                            f"{self._s.capacity} are free")
        buf = bytearray(size)
        self._s.created[object_id] = buf
        return buf

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        object_id = os.urandom(ID_SIZE) if object_id is None else object_id
        frame = self._ser.serialize(value, protocol=5)
        with self._s.changed:
            buf = self._reserve(object_id, frame.frame_size)
            frame.write_to(buf)
            self._seal(object_id)
        return object_id

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._s.changed:
            while object_id not in self._s.sealed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"object {object_id.hex()} is not in the store")
                self._s.changed.wait(left)
            return memoryview(self._s.sealed[object_id])

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._ser.deserialize(self.get_buffer(object_id, timeout=timeout))

    def contains(self, object_id: bytes) -> bool:
        return object_id in self._s.sealed

    def delete(self, object_id: bytes) -> None:
        with self._s.changed:
            if self._s.sealed.pop(object_id, None) is None:
                raise KeyError(f"object {object_id.hex()} is not in the store")

    def create(self, object_id: bytes, size: int) -> memoryview:
        with self._s.changed:
            return memoryview(self._reserve(object_id, size))

    def _seal(self, object_id: bytes) -> None:
        # bytes(...) copies: the writer's view keeps its bytearray and can no longer change the object.
        self._s.sealed[object_id] = bytes(self._s.created.pop(object_id))
        self._s.changed.notify_all()

    def seal(self, object_id: bytes) -> None:
        with self._s.changed:
            if object_id not in self._s.created:
                raise KeyError(f"object {object_id.hex()} is not being created")
            self._seal(object_id)

    def abort(self, object_id: bytes) -> None:
        with self._s.changed:
            if self._s.created.pop(object_id, None) is None:
                raise KeyError(f"object {object_id.hex()} is not being created")

    def list(self) -> Iterable[bytes]:
        with self._s.changed:
            return list(self._s.sealed)

    def close(self) -> None:
        pass


class DictStoreFactory:
    """Makes stores and attaches to them by name (in this process only)."""

    def __init__(self) -> None:
        self._stores: Dict[str, _Shared] = {}
        self._ser = PickleSerializer()

    def create(self, *, capacity: int) -> DictStore:
        name = f"dictstore-{os.urandom(6).hex()}"
        self._stores[name] = _Shared(capacity)
        return DictStore(name, self._stores[name], self._ser)

    def attach(self, name: str) -> DictStore:
        return DictStore(name, self._stores[name], self._ser)

    def destroy(self, store: DictStore) -> None:
        self._stores.pop(store.name, None)
