"""Coverage-guided fuzzing of the node transfer protocol with atheris: both ends, in one process, no network.

Run: ``python tests/stress/fuzz_transfer.py -runs=200000`` (libFuzzer flags; ``-help=1`` lists them). The
first input byte chooses the end and the handshake:

* **server**: the rest of the input is what a client sends to ``TransferServer._serve`` over a socketpair,
  either from the first byte (the handshake must refuse it: random bytes cannot answer an HMAC challenge)
  or, with the handshake stubbed out, straight into the request parser (an authenticated, hostile peer).
  Only a reply with a declared status may come back, and ``_serve`` must return (it may raise nothing).
* **puller**: the rest of the input is what a peer answers to ``pull``, with the real handshake (the input
  cannot pass it) or with it stubbed out. ``pull`` may raise only ``TransferError``, ``GetTimeoutError`` or
  the store's ``ObjectStoreFullError`` (a size that cannot fit), and must leave nothing unsealed behind.

Nothing here unpickles: the protocol carries no pickles, and the stored frames are not loaded. Sockets carry
the whole input before the code under test runs and are then shut, so no input can make it wait (libFuzzer's
``-timeout`` would report a hang). libFuzzer's closing line ``Done N runs in S second(s)`` counts the inputs.
"""

from __future__ import annotations

import os
import socket
import sys
import types

import atheris
import numpy as np  # noqa: F401  (imported first so that only our modules are instrumented)

with atheris.instrument_imports(include=["reference"]):
    import multiprocessing.connection as mpc

    import reference.transfer as transfer
    from reference.errors import GetTimeoutError, ObjectStoreFullError, TransferError
    from reference.store import ObjectStore

# tests/ holds _names; the battery puts it on the path, a run by hand needs it here
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _names import unique_name  # noqa: E402
from _stresslib import drain, framed  # noqa: E402

KEY = b"fuzz-transfer-key"
_real_mpc = transfer.mpc
_stub_mpc = types.SimpleNamespace(**{k: getattr(mpc, k) for k in dir(mpc) if not k.startswith("__")})
_stub_mpc.deliver_challenge = lambda conn, key: None
_stub_mpc.answer_challenge = lambda conn, key: None

STORE = ObjectStore.create(unique_name("fuzz-transfer"), capacity=1 << 20, max_objects=64)
os.unlink(STORE.path)  # the mapping lives on; nothing is left in /dev/shm however the fuzzer exits
PRESENT = b"p" * 20
STORE.put(b"x" * 100, PRESENT)


class _ShortWaits:
    """The store as the server sees it, with every wait longer than 1 ms cut to none: a request may ask the
    server to wait for an absent object for ever (negative, inf, nan, 1e300 s), which the protocol allows and which
    test_stress_bad_input.py checks separately; here it would only read as a libFuzzer timeout."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def get_buffer(self, object_id: object, timeout: object = None) -> memoryview:
        if timeout is None or not (0 <= timeout <= 0.001):  # type: ignore[operator]
            timeout = 0.0
        return self._store.get_buffer(object_id, timeout=timeout)


SERVER = transfer.TransferServer.__new__(transfer.TransferServer)  # _serve only: no listener, no accept thread
SERVER._store = _ShortWaits(STORE)
SERVER._authkey = KEY
SERVER._closed = types.SimpleNamespace(is_set=lambda: False)
SERVER._lock = __import__("threading").Lock()
SERVER._conns = []
SERVER._workers = []
SERVER.refused = 0
# The server waits for an absent object in slices until its node closes; this server never closes, so
# its waits are cut to one look, as _ShortWaits does for the store's own.
SERVER._wait_for = lambda oid, timeout: SERVER._store.get_buffer(oid, timeout=0.0)


def _pair_with_input(data: bytes) -> "tuple[socket.socket, socket.socket]":
    """A socketpair whose far end has already sent ``data`` and shut its write side."""
    near, far = socket.socketpair()
    for s in (near, far):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    far.sendall(data)
    far.shutdown(socket.SHUT_WR)
    return near, far


def _fuzz_server(data: bytes, stub: bool) -> None:
    near, far = _pair_with_input(data)
    transfer.mpc = _stub_mpc if stub else _real_mpc
    try:
        SERVER._serve(mpc.Connection(near.detach()))  # must return, whatever came in
    finally:
        transfer.mpc = _real_mpc
    got = drain(far, 0)
    far.close()
    if stub and got:
        status = got[4] if len(got) > 4 else 0
        if status not in (transfer.OK, transfer.MISSING, transfer.ERROR):
            raise AssertionError(f"undeclared reply status {status}")


def _fuzz_puller(data: bytes, stub: bool) -> None:
    near, far = _pair_with_input(data)
    far_keep = far

    def connect(address: object, authkey: bytes) -> object:
        conn = mpc.Connection(near.detach())
        if not stub:
            try:
                mpc.answer_challenge(conn, authkey)
                mpc.deliver_challenge(conn, authkey)
            except mpc.AuthenticationError as exc:
                conn.close()
                raise transfer.AuthenticationError(str(exc)) from exc
            except (OSError, EOFError, AssertionError, ValueError) as exc:  # see test_stress_security
                conn.close()
                raise TransferError(str(exc)) from exc
        return conn

    original = transfer.connect
    transfer.connect = connect
    oid = os.urandom(20)
    try:
        transfer.pull(oid, source=("127.0.0.1", 9), into=STORE, authkey=KEY, timeout=0)
    except (TransferError, GetTimeoutError, ObjectStoreFullError):
        pass
    else:
        STORE.delete(oid)
    finally:
        transfer.connect = original
        far_keep.close()
    if any(info.object_id.binary() == oid for info in STORE.list()):
        raise AssertionError("pull left its object behind")


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0], data[1:]
    if mode & 1:
        _fuzz_server(rest, stub=bool(mode & 2))
    else:
        _fuzz_puller(rest, stub=bool(mode & 2))


def write_seeds(directory: str) -> None:
    """A starting corpus: well-formed requests and replies, so that mutations start past the framing."""
    from reference.serializer import dumps

    frame = dumps([1, "a", b"b"])
    seeds = {
        "server-pull-present": b"\x03" + framed(transfer.REQUEST.pack(transfer.PULL, PRESENT, 0.0)),
        "server-pull-absent": b"\x03" + framed(transfer.REQUEST.pack(transfer.PULL, b"a" * 20, 0.0)) * 2,
        "server-handshake": b"\x01" + framed(b"\x00" * 16),
        "puller-ok": b"\x02" + framed(transfer.REPLY.pack(transfer.OK, len(frame))) + frame,
        "puller-missing": b"\x02" + framed(transfer.REPLY.pack(transfer.MISSING, 0)),
        "puller-error": b"\x02" + framed(transfer.REPLY.pack(transfer.ERROR, 0)) + framed(b"KeyError: no"),
        "puller-handshake": b"\x00" + framed(b"#CHALLENGE#" + b"\x00" * 20) + framed(b"#WELCOME#"),
    }
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-seeds":
        write_seeds(sys.argv[2])
        return
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
