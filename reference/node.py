"""Nodes: each has its own store and a transfer server; data stays local until another node asks for it.

Where an object lives: **the owner's address travels with the ID.** ``Node.put`` returns an
:class:`ObjectRef`, ``(object_id, owner)``, where ``owner`` is the ``(host, port)`` of the transfer server
of the node that put it. A ref is a plain picklable value: send it anywhere. ``Node.get(ref)`` reads from
the local store when it holds the object, and otherwise pulls it from ``ref.owner`` into the local store
first; from then on every read on that node is local and zero-copy. There is no directory and no
broadcast: putting sends nothing anywhere. For callers that hold only a bare ID, a node may also know a
static list of ``peers`` (server addresses); it asks each in turn, with ``timeout=0`` requests, until one
sends the object.

Transfer: the server listens on 127.0.0.1 unless told otherwise and authenticates every connection with
``multiprocessing.connection``'s HMAC challenge (``deliver_challenge``/``answer_challenge``) before it reads
anything else; it never unpickles: requests and replies are small ``struct`` messages sent with
``send_bytes``/``recv_bytes``, and object bytes follow raw on the socket. The puller reads the size,
``create``s the object in its own store and receives the bytes straight into it in 5 MiB chunks (Ray's
chunk size), then seals: no second copy of the object is ever made in memory. While the server sends an
object it holds a pin on it, so a delete on the owner cannot change bytes in flight.

Protocol (after the handshake; integers little-endian)::

    request   send_bytes  b"PULL" + id (20 bytes) + timeout (float64 seconds; negative = wait forever)
    reply     send_bytes  status (u8: 0 ok, 1 not found in time, 2 error) + size (u64)
              [status 2]  send_bytes utf-8 message
              [status 0]  size raw bytes: the object's frame

A node is a process (:class:`NodeProcess`) or, for tests and embedding, an object in this process
(:meth:`Node.start`); :meth:`Node.connect` gives any local process a node's API without a second server.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection as mpc
import os
import socket
import struct
import threading
import time
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from reference.objectid import ObjectID, ObjectIDLike, as_object_id
from reference.errors import (
    AuthenticationError,
    GetTimeoutError,
    ObjectExistsError,
    ObjectStoreError,
    TransferError,
)
from reference.store import ObjectStore

__all__ = ["CHUNK_SIZE", "Node", "NodeProcess", "ObjectRef", "TransferServer", "pull"]

#: Bytes moved per socket call when an object travels between nodes (Ray's chunk size).
CHUNK_SIZE = 5 << 20
#: Seconds a pull waits for the next byte of an object before it gives up on a silent peer (when the
#: caller gave no timeout; a caller's timeout bounds each wait instead, and at least one second).
STALL_TIMEOUT = 60.0
_CONNECT_TIMEOUT = 10.0
#: How often a server thread waiting for an object checks whether its node is closing.
_WAIT_SLICE = 0.25

Address = Tuple[str, int]

_REQUEST = struct.Struct("<4s20sd")
_REPLY = struct.Struct("<BQ")
_OK, _MISSING, _ERROR = 0, 1, 2


class ObjectRef(NamedTuple):
    """An object ID and the address of the node that owns (put) it."""

    object_id: ObjectID
    owner: Address


def _check_authkey(authkey: Any) -> bytes:
    if not isinstance(authkey, bytes) or not authkey:
        raise TypeError(
            f"'authkey' must be non-empty bytes (e.g. os.urandom(32)); got {type(authkey).__name__}"
        )
    return authkey


class TransferServer:
    """Serves the objects of ``store`` to authenticated peers, one thread per connection.

    Listens on ``(host, port)`` (port 0 picks a free one; see :attr:`address`). A connection whose
    handshake fails is closed before any request is read.
    """

    def __init__(self, store: ObjectStore, *, authkey: bytes, host: str = "127.0.0.1", port: int = 0) -> None:
        self._store = store
        self._authkey = _check_authkey(authkey)
        # No authkey here: Listener.accept() would run the handshake in the accept loop, so one slow
        # client would stall every other; each connection's thread runs it instead.
        self._listener = mpc.Listener((host, port), family="AF_INET", backlog=64)
        self.address: Address = self._listener.address
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: List[Any] = []
        self._workers: List[threading.Thread] = []
        self.refused = 0  # connections that failed the handshake
        self._thread = threading.Thread(target=self._accept_loop, name=f"transfer-{self.address[1]}",
                                        daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            if self._closed.is_set():
                conn.close()
                return
            with self._lock:
                self._conns.append(conn)
            try:
                _no_delay(conn)
            except OSError:
                pass
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._workers = [w for w in self._workers if w.is_alive()] + [worker]
            worker.start()

    def _serve(self, conn: Any) -> None:
        try:
            try:
                mpc.deliver_challenge(conn, self._authkey)
                mpc.answer_challenge(conn, self._authkey)
            except (multiprocessing.AuthenticationError, OSError, EOFError, ValueError):
                with self._lock:
                    self.refused += 1
                return
            while not self._closed.is_set():
                try:
                    request = conn.recv_bytes(maxlength=_REQUEST.size)
                except (EOFError, OSError):
                    return
                if len(request) != _REQUEST.size:
                    return
                op, oid, timeout = _REQUEST.unpack(request)
                if op != b"PULL" or timeout != timeout:  # an unknown request, or a NaN timeout
                    return
                self._send_object(conn, ObjectID(oid), None if timeout < 0 else timeout)
        except (OSError, EOFError):
            return  # the peer went away
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    def _wait_for(self, oid: ObjectID, timeout: Optional[float]) -> memoryview:
        """get_buffer, waited for in slices so that a closing node ends the wait (GetTimeoutError)."""
        deadline = None if timeout is None or timeout == float("inf") else time.monotonic() + timeout
        while True:
            remaining = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, deadline - time.monotonic())
            try:
                return self._store.get_buffer(oid, timeout=max(remaining, 0.0))
            except GetTimeoutError:
                if self._closed.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    raise

    def _send_object(self, conn: Any, oid: ObjectID, timeout: Optional[float]) -> None:
        try:
            buf = self._wait_for(oid, timeout)
        except GetTimeoutError:
            conn.send_bytes(_REPLY.pack(_MISSING, 0))
            return
        except ObjectStoreError as exc:
            conn.send_bytes(_REPLY.pack(_ERROR, 0))
            conn.send_bytes(f"{type(exc).__name__}: {exc}".encode()[:4096])
            return
        try:
            size = buf.nbytes
            conn.send_bytes(_REPLY.pack(_OK, size))
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                for start in range(0, size, CHUNK_SIZE):
                    sock.sendall(buf[start:start + CHUNK_SIZE])
        finally:
            buf.release()

    def close(self) -> None:
        """Stop accepting and drop open connections. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:  # closing a listening socket does not wake a thread blocked in accept(); a connection does
            socket.create_connection(self.address, timeout=1).close()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                # shutdown wakes the thread blocked in recv on this connection
                socket.socket(fileno=os.dup(conn.fileno())).shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        with self._lock:
            workers, self._workers = self._workers, []
        # a worker waiting for an object notices the close within one wait slice; joining it here means
        # the node's store can be destroyed next without a thread still reading it
        for worker in workers:
            worker.join(5)


def _no_delay(conn: Any) -> None:
    """Send small messages at once: the handshake's last message and a request are two small writes in a
    row, and with Nagle's algorithm the request waited for the peer's delayed ACK (~40 ms a pull)."""
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _connect(address: Address, authkey: bytes) -> Any:
    where = f"{address[0]}:{address[1]}"
    try:
        sock = socket.create_connection(tuple(address), timeout=_CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)  # Connection reads the descriptor directly: it must block
        conn = mpc.Connection(sock.detach())
    except OSError as exc:
        raise TransferError(f"cannot connect to the node at {where}: {exc}") from exc
    try:
        # the same handshake as multiprocessing.connection.Client, in the same order
        mpc.answer_challenge(conn, authkey)
        mpc.deliver_challenge(conn, authkey)
    except multiprocessing.AuthenticationError as exc:
        conn.close()
        raise AuthenticationError(
            f"the node at {where} refused the connection: the authentication keys differ "
            f"(every node of a cluster must use the same authkey)"
        ) from exc
    except (AssertionError, ValueError, struct.error) as exc:
        # CPython < 3.12 checks the peer's first message with an assert: a peer that does not speak the
        # handshake must not escape as a bare AssertionError.
        conn.close()
        raise AuthenticationError(
            f"the peer at {where} did not complete the authentication handshake: not a transfer server, "
            f"or not one of this cluster"
        ) from exc
    except (OSError, EOFError) as exc:
        conn.close()
        raise TransferError(f"cannot connect to the node at {where}: {exc}") from exc
    return conn


def pull(object_id: ObjectIDLike, *, source: Address, into: ObjectStore, authkey: bytes,
         timeout: Optional[float] = None) -> ObjectID:
    """Copy ``object_id`` from the node serving at ``source`` into the store ``into``, and seal it there.

    The bytes go straight from the socket into a ``create``d object, in chunks of :data:`CHUNK_SIZE`.
    Returns at once if ``into`` already holds the object; if another process is pulling it at the same
    time, waits for that one. Raises :class:`GetTimeoutError` if the source does not have it within
    ``timeout`` seconds, :class:`AuthenticationError` on a key mismatch or a peer that does not speak the
    handshake, :class:`ObjectStoreFullError` when ``into`` has no room for the object, and
    :class:`TransferError` for any other failure, a peer silent for :data:`STALL_TIMEOUT` seconds (or
    ``timeout``, at least one second) in the middle of an object included. Nothing is left behind in
    ``into``.
    """
    oid = as_object_id(object_id)
    authkey = _check_authkey(authkey)
    if into.contains(oid):
        return oid
    conn = _connect(source, authkey)
    try:
        try:
            conn.send_bytes(_REQUEST.pack(b"PULL", oid.binary(), -1.0 if timeout is None else float(timeout)))
            status, size = _REPLY.unpack(conn.recv_bytes(maxlength=_REPLY.size))
            message = conn.recv_bytes(maxlength=4096).decode(errors="replace") if status == _ERROR else ""
        except (OSError, EOFError, struct.error) as exc:
            raise TransferError(f"pulling {oid} from {source[0]}:{source[1]} failed: {exc}") from exc
        if status == _MISSING:  # (GetTimeoutError is an OSError: raised outside the except above)
            raise GetTimeoutError(
                f"object {oid} was not sealed on the node at {source[0]}:{source[1]} within {timeout} s"
            )
        if status != _OK:
            raise TransferError(f"the node at {source[0]}:{source[1]} cannot send {oid}: {message}")
        try:
            view = into.create(oid, size)
        except ObjectExistsError:
            conn.close()  # someone else on this node is pulling (or put) it: wait for theirs
            into.get_buffer(oid, timeout=timeout).release()
            return oid
        try:
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                # a silent peer must not block the puller for ever (the descriptor is not read again)
                sock.settimeout(STALL_TIMEOUT if timeout is None else max(float(timeout), 1.0))
                pos = 0
                while pos < size:
                    n = sock.recv_into(view[pos:pos + CHUNK_SIZE])
                    if n == 0:
                        raise TransferError(
                            f"the node at {source[0]}:{source[1]} closed the connection after {pos} of "
                            f"{size} bytes of {oid}"
                        )
                    pos += n
        except BaseException as exc:
            into.abort(oid)
            if isinstance(exc, OSError):
                raise TransferError(f"pulling {oid} from {source[0]}:{source[1]} failed: {exc}") from exc
            raise
        into.seal(oid)
        return oid
    finally:
        conn.close()


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
        self._authkey = _check_authkey(authkey)
        self._server = server
        self.peers: List[Address] = []
        for peer in peers:
            self.add_peer(peer)

    @classmethod
    def start(cls, name: str, *, capacity: int, authkey: bytes, host: str = "127.0.0.1", port: int = 0,
              peers: Sequence[Address] = (), **store_options: Any) -> "Node":
        """Create the store ``name`` and serve it on ``(host, port)``. ``close()`` stops and destroys both."""
        _check_authkey(authkey)
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
        _check_authkey(authkey)
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
        self.address: Address = tuple(detail)  # type: ignore[assignment]

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
