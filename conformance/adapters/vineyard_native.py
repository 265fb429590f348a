"""The adapter for Vineyard's own put and get (``vineyard-native``, extra ``[vineyard]``).

Where :mod:`conformance.adapters.vineyard` stores this project's frames in Vineyard's blobs, this column is
what a Vineyard user runs: ``client.put(value)`` and ``client.get(object_id)``, Vineyard's builders and
resolvers (a numpy array becomes a ``vineyard::Tensor``, a str a ``vineyard::Scalar``, a tuple a
``vineyard::Sequence``, anything else a pickle in a ``vineyard::PickleBuffer``).

* **The serializer.** Vineyard has no byte-level serialization: ``put`` writes a value's parts into the
  daemon's shared memory and returns an object id. So ``serialize`` puts the value into a daemon private
  to this process (started on first use, :mod:`conformance.adapters.vineyard_runtime`) and the frame is a
  standard pickle of a reference to it, whose loading is Vineyard's ``get``: ``pickle.loads(inband)``
  (and ``deserialize``) call :func:`fetch`, which returns ``client.get(object_id)``. The serializer rows thus
  check ``put`` followed by ``get`` on Vineyard's own types; the objects live until the process exits.
* **The store** is a ``vineyardd`` per store, as for ``vineyard``, with ``client.put`` / ``client.get``
  behind the same id directory (the adapter kit's :class:`conformance.kit.IdDirectory`, beside the socket).

Not claimed: ``raw_buffers`` (put and get are whole values); ``out_of_band``, ``zero_copy`` and
``read_only`` of the serializer (its frame is a reference, not the value's bytes; the store's zero copy,
``store_zero_copy`` and ``store_read_only``, is claimed); functions and classes by value (Vineyard pickles
them by reference); ``eviction``; and ``nodes`` (see ``vineyard`` for Vineyard's migration between nodes).
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any, Dict, Optional

from conformance.adapters.vineyard import (
    ObjectIdExistsError,
    ObjectIdNotFoundError,
    VineyardStore,
    VineyardStoreFactory,
    _check_id,
    _native,
    _vineyard,
    connect,
)
from conformance.adapters.vineyard_runtime import Vineyardd, start_vineyardd
from conformance.api import OBJECT_ID_SIZE, Implementation
from conformance.kit import (
    ID_DIRECTORY_CLAUSES,
    PICKLE_DUMP_ERRORS,
    PICKLE_LOAD_ERRORS,
    NoRawBuffers,
    PickleLikeSerializer,
)

__all__ = ["BLOB_TYPENAME", "SERIALIZER_STORE_SIZE", "VineyardNativeStore", "VineyardReference", "fetch",
           "vineyard_native_implementation"]

#: The type name of the metadata object around a bare blob (what ``put`` of bytes makes), so it can be named.
BLOB_TYPENAME = "objstore::Blob"
#: The size of the daemon private to each process that holds what the serializer puts.
SERIALIZER_STORE_SIZE = 1 << 30

_lock = threading.Lock()
_clients: Dict[str, Any] = {}
_own: Optional[Vineyardd] = None


def _client(socket: str) -> Any:
    with _lock:
        client = _clients.get(socket)
        if client is None:
            client = _clients[socket] = connect(socket)
        return client


def fetch(socket: str, object_id: int) -> Any:
    """Vineyard's ``get`` of object ``object_id`` from the daemon at ``socket`` (what a frame's pickle calls)."""
    return _client(socket).get(_vineyard().ObjectID(object_id))


class VineyardReference:
    """An object in a Vineyard daemon; pickles as a call of :func:`fetch`."""

    def __init__(self, socket: str, object_id: int) -> None:
        self.socket = socket
        self.object_id = object_id

    def __reduce__(self) -> Any:
        return fetch, (self.socket, self.object_id)


def _own_socket() -> str:
    global _own
    with _lock:
        if _own is None or _own.proc.poll() is not None:
            _own = start_vineyardd(SERIALIZER_STORE_SIZE)
        return _own.socket


def _dumps(obj: Any, *, protocol: int, buffer_callback: Any = None) -> bytes:
    socket = _own_socket()
    object_id = _client(socket).put(obj)
    return pickle.dumps(VineyardReference(socket, int(object_id)), protocol=protocol)


class VineyardNativeStore(NoRawBuffers, VineyardStore):
    """A client of a Vineyard store that keeps values with Vineyard's own ``put`` and ``get``."""

    NO_RAW_BUFFERS = ("'vineyard-native' stores whole values with client.put/get; {op} is the 'vineyard' "
                      "adapter's (blobs)")

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = os.urandom(OBJECT_ID_SIZE) if object_id is None else _check_id(object_id)
        if not self.ids.reserve(oid):
            raise ObjectIdExistsError(f"object {oid.hex()} is already in Vineyard store {self.name!r}; ids are "
                                      f"immutable: use a new id")
        try:
            vineyard_id = self._put(value)
        except BaseException:
            self.ids.release(oid)
            raise
        self.ids.publish(oid, _native(vineyard_id))
        return oid

    def _put(self, value: Any) -> Any:
        vineyard_id = self.client.put(value)
        if self.client.get_meta(vineyard_id).typename == "vineyard::Blob":
            # put of bytes gives a bare blob, and a blob cannot be persisted, hence named: wrap it.
            meta = _vineyard().ObjectMeta()
            meta["typename"] = BLOB_TYPENAME
            meta.add_member("value", self.client.get_object(vineyard_id))
            vineyard_id = self.client.create_metadata(meta).id
        return vineyard_id

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        vineyard_id = self._resolve(_check_id(object_id), timeout)
        if self.client.get_meta(vineyard_id).typename == BLOB_TYPENAME:
            vineyard_id = self.client.get_object(vineyard_id).member("value").id
        return self.client.get(vineyard_id)


def vineyard_native_implementation() -> Implementation:
    """Vineyard (0.24.2) as its users call it: ``client.put`` / ``client.get`` for values and for the store.

    Raises ``ImportError`` naming the fix when Vineyard is not installed."""
    vineyard = _vineyard()
    caps = {"numpy", "numpy_byte_order", "recursive", "store", "store_zero_copy", "store_read_only", "multiprocess",
            "timeouts"}
    return Implementation(
        name="vineyard-native",
        serializer=PickleLikeSerializer(_dumps, out_of_band=False),
        protocols=(5,),
        capabilities=frozenset(caps),
        store_factory=VineyardStoreFactory(store_class=VineyardNativeStore),
        serialization_error=PICKLE_DUMP_ERRORS,
        deserialization_error=PICKLE_LOAD_ERRORS + (vineyard.ObjectNotExistsException,),
        object_exists_error=(ObjectIdExistsError,),
        store_full_error=(vineyard.NotEnoughMemoryException,),
        timeout_error=(TimeoutError,),
        not_found_error=(ObjectIdNotFoundError,),
        adapter_tested={"store.immutability.exists": ID_DIRECTORY_CLAUSES["store.immutability.exists"]},
        description=f"Vineyard {vineyard.__version__}'s own client.put / client.get",
    )
