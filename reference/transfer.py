"""The transfer protocol between nodes: its wire formats, the server that sends objects, and :func:`pull`.

The server listens on 127.0.0.1 unless told otherwise and authenticates every connection with
``multiprocessing.connection``'s HMAC challenge (``deliver_challenge``/``answer_challenge``) before it reads
anything else; it never unpickles: requests and replies are small ``struct`` messages sent with
``send_bytes``/``recv_bytes``, and object bytes follow raw on the socket. The puller reads the size,
``create``s the object in its own store and receives the bytes straight into it in 5 MiB chunks (Ray's
chunk size), then seals: no second copy of the object is ever made in memory. While the server sends an
object it holds a pin on it, so a delete on the owner cannot change bytes in flight.

Protocol (after the handshake; integers little-endian)::

    request   send_bytes  REQUEST: PULL + id (20 bytes) + timeout (float64 seconds; negative = wait forever)
    reply     send_bytes  REPLY: status (u8: OK, MISSING not found in time, ERROR) + size (u64)
              [ERROR]     send_bytes utf-8 message (at most MAX_MESSAGE bytes)
              [OK]        size raw bytes: the object's frame

Everything that speaks or tests the protocol (the node, fuzzers, the stress battery) takes the formats
from here.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection as mpc
import os
import socket
import struct
import threading
import time
from typing import Any, List, Optional, Tuple

from reference.errors import (
    AuthenticationError,
    GetTimeoutError,
    ObjectExistsError,
    ObjectStoreError,
    TransferError,
)
from reference.objectid import ObjectID, ObjectIDLike, as_object_id
from reference.store import ObjectStore

__all__ = ["CHUNK_SIZE", "ERROR", "MAX_MESSAGE", "MISSING", "OK", "PULL", "REPLY", "REQUEST", "STALL_TIMEOUT",
           "Address", "TransferServer", "check_authkey", "connect", "pull"]

#: Bytes moved per socket call when an object travels between nodes (Ray's chunk size).
CHUNK_SIZE = 5 << 20
#: Seconds a pull waits for the next byte of an object before it gives up on a silent peer (when the
#: caller gave no timeout; a caller's timeout bounds each wait instead, and at least one second).
STALL_TIMEOUT = 60.0
_CONNECT_TIMEOUT = 10.0
#: How often a server thread waiting for an object checks whether its node is closing.
_WAIT_SLICE = 0.25

Address = Tuple[str, int]

#: A request: operation (4 bytes), object id (20 bytes), timeout (float64 seconds; negative: for ever).
REQUEST = struct.Struct("<4s20sd")
#: The only operation.
PULL = b"PULL"
#: A reply: status (u8), object size (u64).
REPLY = struct.Struct("<BQ")
#: Reply statuses: the object follows; it was not sealed in time; an error message follows.
OK, MISSING, ERROR = 0, 1, 2
#: The longest error message a server sends (and a puller reads).
MAX_MESSAGE = 4096


def check_authkey(authkey: Any) -> bytes:
    """``authkey`` if it is non-empty bytes; else ``TypeError`` saying what to pass."""
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
        self._authkey = check_authkey(authkey)
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
                    request = conn.recv_bytes(maxlength=REQUEST.size)
                except (EOFError, OSError):
                    return
                if len(request) != REQUEST.size:
                    return
                op, oid, timeout = REQUEST.unpack(request)
                if op != PULL or timeout != timeout:  # an unknown request, or a NaN timeout
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
            conn.send_bytes(REPLY.pack(MISSING, 0))
            return
        except ObjectStoreError as exc:
            conn.send_bytes(REPLY.pack(ERROR, 0))
            conn.send_bytes(f"{type(exc).__name__}: {exc}".encode()[:MAX_MESSAGE])
            return
        try:
            size = buf.nbytes
            conn.send_bytes(REPLY.pack(OK, size))
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


def connect(address: Address, authkey: bytes) -> Any:
    """An authenticated ``multiprocessing.connection.Connection`` to the transfer server at ``address``.

    Raises :class:`AuthenticationError` when the keys differ or the peer does not speak the handshake,
    :class:`TransferError` when it cannot be reached.
    """
    where = f"{address[0]}:{address[1]}"
    try:
        sock = socket.create_connection((address[0], address[1]), timeout=_CONNECT_TIMEOUT)
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
    authkey = check_authkey(authkey)
    if into.contains(oid):
        return oid
    conn = connect(source, authkey)
    try:
        try:
            conn.send_bytes(REQUEST.pack(PULL, oid.binary(), -1.0 if timeout is None else float(timeout)))
            status, size = REPLY.unpack(conn.recv_bytes(maxlength=REPLY.size))
            message = conn.recv_bytes(maxlength=MAX_MESSAGE).decode(errors="replace") if status == ERROR else ""
        except (OSError, EOFError, struct.error) as exc:
            raise TransferError(f"pulling {oid} from {source[0]}:{source[1]} failed: {exc}") from exc
        if status == MISSING:  # (GetTimeoutError is an OSError: raised outside the except above)
            raise GetTimeoutError(
                f"object {oid} was not sealed on the node at {source[0]}:{source[1]} within {timeout} s"
            )
        if status != OK:
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


