"""Nodes: each has its own store and a transfer server; data stays local until another node asks for it.

Where an object lives: **the owner's address travels with the ID.** ``Node.put`` returns an
:class:`ObjectRef`, ``(object_id, owner)``, where ``owner`` is the ``(host, port)`` of the transfer server
of the node that put it. A ref is a plain picklable value: send it anywhere. ``Node.get(ref)`` reads from
the local store when it holds the object, and otherwise pulls it from ``ref.owner`` into the local store
first; from then on every read on that node is local and zero-copy. There is no directory and no
broadcast: putting sends nothing anywhere. For callers that hold only a bare ID, a node may also know a
static list of ``peers`` (server addresses); it asks each in turn, with ``timeout=0`` requests, until one
sends the object.

Transfer: objects travel by the authenticated protocol of ``reference.transfer``, pulled on demand.

A node is a process (:class:`NodeProcess`) or, for tests and embedding, an object in this process
(:meth:`Node.start`); :meth:`Node.connect` gives any local process a node's API without a second server.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any, List, NamedTuple, Optional, Sequence

from reference.errors import GetTimeoutError, ObjectStoreError, TransferError
from reference.objectid import ObjectID, ObjectIDLike, as_object_id
from reference.store import ObjectStore
from reference.transfer import CHUNK_SIZE, STALL_TIMEOUT, Address, TransferServer, check_authkey, pull

__all__ = ["CHUNK_SIZE", "STALL_TIMEOUT", "Address", "Node", "NodeProcess", "ObjectRef", "TransferServer", "pull"]


class ObjectRef(NamedTuple):
    """An object ID and the address of the node that owns (put) it."""

    object_id: ObjectID
    owner: Address


class Node:
    """A node's API: its store, its address, and put/get that pull from other nodes on demand.

    :meth:`start` makes a node in this process (a new store and a transfer server); :meth:`connect`
    attaches to a node running elsewhere on this machine (its store by name; no second server).
    ``peers`` (addresses of other nodes' servers) are asked, in order, for objects named by a bare ID
    rather than an :class:`ObjectRef`.
    """

    def __init__(self, store: ObjectStore, address: Address, authkey: bytes,
                 server: Optional[TransferServer] = None, *, peers: Sequence[Address] = ()) -> None:
        self.store = store
        self.address: Address = (address[0], int(address[1]))
        self._authkey = check_authkey(authkey)
        self._server = server
        self.peers: List[Address] = []
        for peer in peers:
            self.add_peer(peer)

    @classmethod
    def start(cls, name: str, *, capacity: int, authkey: bytes, host: str = "127.0.0.1", port: int = 0,
              peers: Sequence[Address] = (), **store_options: Any) -> "Node":
        """Create the store ``name`` and serve it on ``(host, port)``. ``close()`` stops and destroys both."""
        check_authkey(authkey)
        store = ObjectStore.create(name, capacity=capacity, **store_options)
        try:
            server = TransferServer(store, authkey=authkey, host=host, port=port)
        except BaseException:
            store.destroy()
            raise
        return cls(store, server.address, authkey, server, peers=peers)

    @classmethod
    def connect(cls, store_name: str, address: Address, *, authkey: bytes,
                peers: Sequence[Address] = ()) -> "Node":
        """The API of the node whose store is ``store_name`` and whose server is at ``address``."""
        return cls(ObjectStore.attach(store_name), address, authkey, peers=peers)

    @property
    def server(self) -> Optional[TransferServer]:
        """The transfer server :meth:`start` made, or None for a node reached with :meth:`connect`."""
        return self._server

    def add_peer(self, address: Address) -> None:
        """Ask the node serving at ``address`` too when looking for an object by bare ID."""
        peer = (str(address[0]), int(address[1]))
        if peer != self.address and peer not in self.peers:
            self.peers.append(peer)

    def put(self, value: Any, object_id: Optional[ObjectIDLike] = None) -> ObjectRef:
        """Put ``value`` in this node's store; returns a ref naming this node as the owner. Sends nothing."""
        return ObjectRef(self.store.put(value, object_id), self.address)

    def pull(self, ref: Any, *, timeout: Optional[float] = None) -> ObjectID:
        """Make sure this node's store holds the object (pulling it if needed); returns its ID.

        ``ref`` is an :class:`ObjectRef` (pulled from its owner) or a bare ID (each peer is asked in turn,
        again and again with growing pauses, until one has it or ``timeout`` passes).
        """
        if isinstance(ref, ObjectRef):
            oid, owner = as_object_id(ref.object_id), ref.owner
            if self.store.contains(oid) or tuple(owner) == self.address:
                return oid
            return pull(oid, source=owner, into=self.store, authkey=self._authkey, timeout=timeout)
        oid = as_object_id(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 1e-3
        while True:
            if self.store.contains(oid):
                return oid
            for peer in list(self.peers):
                try:
                    return pull(oid, source=peer, into=self.store, authkey=self._authkey, timeout=0)
                except GetTimeoutError:
                    continue  # not there (yet)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise GetTimeoutError(
                    f"object {oid} is on none of this node's store and its {len(self.peers)} peers "
                    f"(after {timeout} s)"
                )
            time.sleep(pause if deadline is None else min(pause, deadline - now))
            pause = min(pause * 2, 0.05)

    def get(self, ref: Any, *, timeout: Optional[float] = None) -> Any:
        """The value of ``ref`` (an :class:`ObjectRef` or a bare ID), read zero-copy from this node's store
        after pulling it if needed. ``timeout`` bounds each wait (at the source, then locally)."""
        oid = self.pull(ref, timeout=timeout)
        return self.store.get(oid, timeout=timeout)

    def contains(self, object_id: ObjectIDLike) -> bool:
        """Whether this node's own store holds the object (nothing is pulled)."""
        return self.store.contains(object_id)

    def close(self) -> None:
        """Stop this node's server and destroy its store if :meth:`start` made them; else just detach."""
        if self._server is not None:
            self._server.close()
            self.store.destroy()
        else:
            self.store.close()

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Node({self.store.name!r}, address={self.address[0]}:{self.address[1]})"


def _node_main(name: str, capacity: int, authkey: bytes, host: str, control: Any) -> None:
    try:
        node = Node.start(name, capacity=capacity, authkey=authkey, host=host)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        control.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    try:
        control.send(("ready", node.address))
        try:
            control.recv()  # any message, or the parent's end closing, means stop
        except (EOFError, OSError):
            pass
    finally:
        node.close()


class NodeProcess:
    """A node in its own process: a new store ``name`` plus its transfer server, until :meth:`stop`.

    ``connect()`` gives this process the node's API. The child is started with the ``spawn`` method.
    """

    def __init__(self, name: str, *, capacity: int, authkey: bytes, host: str = "127.0.0.1",
                 start_timeout: float = 60.0) -> None:
        check_authkey(authkey)
        ctx = multiprocessing.get_context("spawn")
        self.name = name
        self._authkey = authkey
        self._control, child_end = ctx.Pipe()
        self.process = ctx.Process(target=_node_main, args=(name, capacity, authkey, host, child_end),
                                   name=f"node-{name}", daemon=True)
        self.process.start()
        child_end.close()
        if not self._control.poll(start_timeout):
            self.stop()
            raise TransferError(f"node {name!r} did not start within {start_timeout} s")
        kind, detail = self._control.recv()
        if kind != "ready":
            self.stop()
            raise TransferError(f"node {name!r} failed to start: {detail}")
        self.address: Address = (str(detail[0]), int(detail[1]))

    def connect(self, *, peers: Sequence[Address] = ()) -> Node:
        """This node's API for the calling process (attaches the node's store)."""
        return Node.connect(self.name, self.address, authkey=self._authkey, peers=peers)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node (its store is destroyed); kill it if it does not exit within ``timeout``."""
        try:
            self._control.send("stop")
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        if self.process.exitcode != 0:
            # a node that was killed, by us or by anything else (SIGKILL, the OOM killer), or that crashed,
            # could not destroy its store: its shared memory would outlive it
            try:
                ObjectStore.attach(self.name).destroy()
            except ObjectStoreError:
                pass
        self._control.close()

    def __enter__(self) -> "NodeProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
