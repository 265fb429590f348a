"""Bad input: corrupt, truncated and random frames for ``deserialize`` and for the node transfer protocol.

Issue 7, "Bad input": only the declared errors, no crash, no hang, no read out of bounds; report the number of
inputs tried (a million in the full run). Two fuzzers each:

* Hypothesis (here): structured damage (truncation, bit flips, overwritten spans, random bytes, header and
  buffer-table fields rewritten *with the checksum recomputed*, so the damage gets past the CRC) to frames
  of many shapes, each frame placed flush against a ``PROT_NONE`` page (``_guard``) so that reading past its
  end kills the process; for the transfer protocol, random requests to a live server (before and after the
  handshake) and random replies from a fake authenticated peer to ``pull``.
* atheris (coverage-guided; ``fuzz_deserialize.py`` and ``fuzz_transfer.py`` beside this file), run as
  subprocesses for a number of inputs, skipped with the reason where atheris is not installed.

Over 400 lines on purpose: one part of the battery per module, so `tox -e stress -- -k <part>` runs it
and its report section stays in one place.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import _guard
import numpy as np
import pytest
from _stresslib import FakeNode, TempStore, drain, framed, fuzz_settings, make_id, scaled, store_name, tally
from hypothesis import given
from hypothesis import strategies as st

from reference import serializer as ser
from reference.arena import verify
from reference.errors import (
    DeserializationError,
    GetTimeoutError,
    ObjectStoreFullError,
    TransferError,
)
from reference.frame import fix_checksum
from reference.node import Node, pull
from reference.transfer import OK, PULL, REPLY, REQUEST

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = b"stress-fuzz-key"

SEED_VALUES = [
    None, 0, "text", b"bytes", [1, "a", b"b", 2.5], {"k": (1, 2)}, np.arange(6, dtype=">i4").reshape(2, 3),
    [np.ones(3), memoryview(b"xyz")], np.zeros((2, 2), order="F"), np.arange(10.0)[::2],
    {"a": np.arange(1000, dtype=np.uint8), "b": [np.float32(1.5)] * 3}, np.array(["x", None], dtype=object),
]
SEED_FRAMES = [ser.dumps(v, protocol=p) for p in (3, 4, 5) for v in SEED_VALUES]


FIELDS = {  # (offset, struct format) of header fields worth rewriting
    "version": (4, "<H"), "protocol": (6, "<B"), "flags": (7, "<B"), "nbuf": (8, "<I"),
    "inband_off": (16, "<Q"), "inband_len": (24, "<Q"), "frame_size": (32, "<Q"),
    "table[0].offset": (40, "<Q"), "table[0].length": (48, "<Q"),
    "table[1].offset": (56, "<Q"), "table[1].length": (64, "<Q"),
}
_INTERESTING = st.sampled_from([0, 1, 7, 39, 40, 63, 64, 255, 256, 4095, 4096, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1,
                                2 ** 32, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1])


@st.composite
def damaged_frames(draw: Any) -> Tuple[str, bytes]:
    """Returns a strategy for generating (kind of damage, damaged frame) from the seed frames.

    Damage shrinks towards a truncation of the first seed frame.
    """
    frame = bytearray(draw(st.sampled_from(SEED_FRAMES)))
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "random", "field", "append", "splice"]))
    n = len(frame)
    if kind == "truncate":
        return kind, bytes(frame[:draw(st.integers(0, n - 1))])
    if kind == "flip":
        for pos in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)):
            frame[pos] ^= 1 << draw(st.integers(0, 7))
        return kind, bytes(frame)
    if kind == "overwrite":
        pos = draw(st.integers(0, n - 1))
        data = draw(st.binary(min_size=1, max_size=64))
        frame[pos:pos + len(data)] = data
        return kind, bytes(frame)
    if kind == "random":
        return kind, draw(st.binary(max_size=512))
    if kind == "append":
        return kind, bytes(frame) + draw(st.binary(min_size=1, max_size=64))
    if kind == "splice":  # the head of one frame, the tail of another
        other = draw(st.sampled_from(SEED_FRAMES))
        return kind, bytes(frame[:draw(st.integers(0, n))]) + other[draw(st.integers(0, len(other))):]
    # "field": rewrite header/table fields, then recompute the CRC so that the damage reaches the checks
    # behind it (and, where they pass, the unpickler with the original, intact pickle)
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3)):
        off, fmt = FIELDS[name]
        size = struct.calcsize(fmt)
        if off + size > n:
            continue
        value = draw(st.one_of(_INTERESTING, st.integers(0, 2 ** (8 * size) - 1)))
        struct.pack_into(fmt, frame, off, value % (2 ** (8 * size)))
    fix_checksum(frame)
    return kind, bytes(frame)


def _touch(value: Any) -> int:
    """Read every byte of every buffer in a loaded value (a view past the frame would hit the guard page)."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray) and v.dtype != object:
            total += len(v.tobytes())
        elif isinstance(v, memoryview):
            total += len(v.tobytes())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return total


def test_deserialize_damaged_frames_hypothesis(figures: Dict[str, Any]) -> None:
    """Damaged frames raise DeserializationError (or load, when only out-of-band data or trailing bytes were
    damaged); nothing else escapes, nothing crashes, nothing reads past the frame (a guard page follows it)."""
    if not _guard.available():
        pytest.skip("mprotect is not reachable through ctypes here: no guard page")
    guard = _guard.GuardedBuffer(1 << 16)
    counts: Counter = Counter()

    @fuzz_settings(1500, 100000)
    @given(damaged_frames())
    def one(case: Tuple[str, bytes]) -> None:
        kind, data = case
        tally(counts, kind)
        view = guard.place(data)
        try:
            value = ser.deserialize(view)
        except DeserializationError:
            counts["refused (DeserializationError)"] += 1
            return
        counts["loaded"] += 1
        counts["bytes read back"] += _touch(value)

    one()
    # Every intact seed frame, flush against the guard, loads (the control).
    for frame in SEED_FRAMES:
        _touch(ser.deserialize(guard.place(frame)))
    figures.update(sorted(counts.items()))


def _run_atheris(script: str, runs: int, seconds: int, tmp_path: Any, seeds: bool = False) -> Tuple[int, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE] + [p for p in sys.path if p])
    args = [sys.executable, os.path.join(HERE, script), f"-runs={runs}", f"-max_total_time={seconds}",
            "-rss_limit_mb=4096", "-timeout=20", f"-artifact_prefix={tmp_path}{os.sep}", "-print_final_stats=1"]
    if seeds:
        corpus = str(tmp_path / "corpus")
        subprocess.run([sys.executable, os.path.join(HERE, script), "--write-seeds", corpus], check=True,
                       env=env, capture_output=True, timeout=120)
        args.append(corpus)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 300, env=env, cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    done = re.findall(r"Done (\d+) runs in (\d+) second", out)
    if proc.returncode != 0 or not done:
        artifacts = [f for f in os.listdir(tmp_path) if re.match(r"(crash|oom|timeout|leak|slow-unit)-", f)]
        pytest.fail(f"{script} failed (exit {proc.returncode}); artifacts {artifacts} in {tmp_path}:\n{out[-4000:]}")
    return int(done[-1][0]), out


def _need_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        pytest.skip(f"atheris is not installed for Python {sys.version.split()[0]} (it has wheels for some "
                    f"interpreters only): the stress tox env installs it on 3.11")


def test_deserialize_coverage_guided_atheris(figures: Dict[str, Any], tmp_path: Any) -> None:
    """atheris (libFuzzer) on deserialize: only DeserializationError, no crash, no timeout, no OOM."""
    _need_atheris()
    runs = scaled(30000, 1000000)
    done, out = _run_atheris("fuzz_deserialize.py", runs, scaled(60, 3600), tmp_path)
    cov = re.findall(r"cov: (\d+)", out)
    figures["coverage (libFuzzer edges)"] = int(cov[-1]) if cov else 0
    figures["inputs tried (atheris)"] = done
    assert done == runs, f"atheris stopped after {done} of {runs} inputs (time limit)"


# -- the transfer protocol ------------------------------------------------------------------------------

# Finite, short waits only: a PULL that waits forever (negative, inf, nan) for an absent object keeps a
# server thread past node.close() (see test_server_thread_waiting_forever_ends_with_the_node).
_SPECIAL_TIMEOUTS = [0.0, 1e-9, 0.01, -0.0, 5e-324]


@st.composite
def requests(draw: Any) -> Tuple[str, List[bytes]]:
    """Returns a strategy for generating (kind, raw chunks) a client sends after the handshake."""
    kind = draw(st.sampled_from(["pull", "garbage message", "raw bytes", "bad length", "many"]))
    if kind == "pull":
        op = draw(st.sampled_from([PULL, b"PUSH", b"pull", b"\x00\x00\x00\x00"]))
        oid = draw(st.sampled_from([make_id("fuzz-present", 0), make_id("fuzz-absent", 0)])
                   | st.binary(min_size=20, max_size=20))
        timeout = draw(st.sampled_from(_SPECIAL_TIMEOUTS) | st.floats(0, 0.05))
        return kind, [framed(REQUEST.pack(op, oid, timeout))]
    if kind == "garbage message":
        return kind, [framed(draw(st.binary(max_size=80)))]
    if kind == "raw bytes":
        return kind, [draw(st.binary(max_size=200))]
    if kind == "bad length":
        return kind, [struct.pack("!i", draw(st.sampled_from([-1, -2 ** 31, 2 ** 31 - 1, 33, 10 ** 9])))
                      + draw(st.binary(max_size=40))]
    pulls = [framed(REQUEST.pack(PULL, make_id("fuzz-present", 0), 0.0))
             for _ in range(draw(st.integers(1, 5)))]
    return kind, pulls


def _handshake(sock: socket.socket, key: bytes) -> None:
    import multiprocessing.connection as mpc

    c = mpc.Connection(os.dup(sock.fileno()))
    try:
        mpc.answer_challenge(c, key)
        mpc.deliver_challenge(c, key)
    finally:
        c.close()


def test_transfer_server_random_requests_hypothesis(figures: Dict[str, Any]) -> None:
    """Random bytes before the handshake, random requests after it: the server answers with a declared
    status or hangs up, never crashes, and still serves a proper client afterwards."""
    counts: Counter = Counter()
    with Node.start(store_name("fuzz-server"), capacity=1 << 20, authkey=KEY) as node:
        present = make_id("fuzz-present", 0)
        node.put(b"x" * 1000, present)
        server = node.server
        threads_before = threading.active_count()

        @fuzz_settings(300, 20000)
        @given(st.booleans(), requests())
        def one(authenticate: bool, req: Tuple[str, List[bytes]]) -> None:
            kind, chunks = req
            tally(counts, f"{kind}{'' if authenticate else ' (before the handshake)'}")
            with socket.create_connection(node.address) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if authenticate:
                    _handshake(sock, KEY)  # (on a blocking socket: multiprocessing's Connection needs one)
                for chunk in chunks:
                    try:
                        sock.sendall(chunk)
                    except OSError:
                        break
                try:
                    sock.shutdown(socket.SHUT_WR)  # end of requests: the server must answer and hang up
                except OSError:
                    pass
                t0 = time.monotonic()
                reply = drain(sock, 10)
                assert time.monotonic() - t0 < 10, f"the server neither answered nor hung up: {kind}"
            if not authenticate:
                # only the challenge and the verdict, never an object
                assert b"#CHALLENGE#" in reply and b"xxxx" not in reply, reply[:200]
                counts["refused before the handshake"] += 1
            elif reply:
                status = reply[4] if len(reply) > 4 else None
                assert status in (0, 1, 2), reply[:100]
                counts[f"replies: status {status}"] += 1

        one()
        # still alive and serving
        with TempStore("fuzz-client", capacity=1 << 20) as other:
            pull(present, source=node.address, into=other, authkey=KEY, timeout=5)
            assert other.get(present, timeout=0) == b"x" * 1000
        assert server._thread.is_alive()
        counts["server threads left waiting"] = max(0, threading.active_count() - threads_before)
    figures.update(sorted(counts.items()))


def _answer_scripted(script: List[bytes], conn: socket.socket) -> None:
    """A fake node's side of one pull: the handshake both ways, the request, then the next scripted reply."""
    import multiprocessing.connection as mpc

    c = mpc.Connection(os.dup(conn.fileno()))
    try:
        mpc.deliver_challenge(c, KEY)
        mpc.answer_challenge(c, KEY)
        c.recv_bytes(64)  # the request
        conn.sendall(script.pop(0) if script else b"")
    except (EOFError, mpc.AuthenticationError):
        pass  # the puller may hang up at any point
    finally:
        c.close()


@st.composite
def replies(draw: Any) -> Tuple[str, bytes]:
    """Returns a strategy for generating (kind, raw bytes) a fake peer sends after a PULL request."""
    kind = draw(st.sampled_from(["ok + frame", "ok, short body", "status", "huge size", "raw bytes", "nothing"]))
    frame = draw(st.sampled_from(SEED_FRAMES))
    if kind == "ok + frame":
        return kind, framed(REPLY.pack(OK, len(frame))) + frame + draw(st.binary(max_size=20))
    if kind == "ok, short body":
        return kind, framed(REPLY.pack(OK, len(frame))) + frame[:draw(st.integers(0, len(frame) - 1))]
    if kind == "status":
        status = draw(st.integers(0, 255))
        return kind, (framed(REPLY.pack(status, draw(st.integers(0, 2 ** 64 - 1))))
                      + framed(draw(st.binary(max_size=100))) + draw(st.binary(max_size=100)))
    if kind == "huge size":
        return kind, framed(REPLY.pack(OK, draw(_INTERESTING)))
    if kind == "raw bytes":
        return kind, draw(st.binary(max_size=200))
    return kind, b""


@pytest.fixture
def nodelay_clients(monkeypatch: Any) -> None:
    """Pull with TCP_NODELAY: without it every pull waits ~40 ms for a delayed ACK (Nagle: the handshake's
    last message and the request are two small writes in a row; see test_small_pull_is_fast). That is a
    latency matter only, so the fuzzers patch it to try more inputs per second."""
    import multiprocessing.connection as mpc

    def socket_client(address: Any) -> Any:
        with socket.socket(socket.AF_INET) as s:
            s.setblocking(True)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect(address)
            return mpc.Connection(s.detach())

    monkeypatch.setattr(mpc, "SocketClient", socket_client)


def test_pull_random_replies_hypothesis(figures: Dict[str, Any], nodelay_clients: None) -> None:
    """Random replies from an authenticated peer: pull raises only TransferError, GetTimeoutError or the
    store's ObjectStoreFullError (for a size that cannot fit), never hangs on a peer that hangs up, and
    leaves nothing unsealed behind; what it does store is exactly the bytes sent."""
    counts: Counter = Counter()
    script: List[bytes] = []
    peer = FakeNode(lambda conn: _answer_scripted(script, conn), timeout=None)
    try:
        with TempStore("fuzz-puller", capacity=1 << 20, max_objects=64) as into:
            @fuzz_settings(400, 20000)
            @given(replies())
            def one(reply: Tuple[str, bytes]) -> None:
                kind, data = reply
                tally(counts, kind)
                oid = make_id("fuzz-pull", counts["inputs"])
                script.append(data)
                result: List[Any] = []
                t = threading.Thread(target=lambda: result.append(_pull_catching(oid, peer.address, into)))
                t.start()
                t.join(20)
                assert not t.is_alive(), f"pull hung on a reply of kind {kind!r}: {data[:60]!r}"
                outcome = result[0]
                counts[f"outcome: {outcome if isinstance(outcome, str) else type(outcome).__name__}"] += 1
                if isinstance(outcome, BaseException):
                    raise outcome
                stats = into.stats()
                assert stats.num_unsealed == 0 and stats.used_bytes == stats.sealed_bytes, stats
                if outcome == "stored":
                    stored = bytes(into.get_buffer(oid, timeout=0))
                    assert data.endswith(stored) or stored in data
                    try:
                        into.get(oid, timeout=0)
                    except DeserializationError:
                        counts["stored, then refused by deserialize"] += 1
                    into.delete(oid)

            one()
            assert not verify(into.arena)
    finally:
        peer.close()
    figures.update(sorted(counts.items()))


def _pull_catching(oid: bytes, address: Any, into: Any) -> Any:
    try:
        pull(oid, source=address, into=into, authkey=KEY, timeout=2)
    except (TransferError, GetTimeoutError, ObjectStoreFullError) as exc:
        return type(exc).__name__
    except BaseException as exc:  # noqa: BLE001 - undeclared: reported by the test
        return exc
    return "stored"


def test_transfer_coverage_guided_atheris(figures: Dict[str, Any], tmp_path: Any) -> None:
    """atheris (libFuzzer) on both ends of the transfer protocol (``fuzz_transfer.py``)."""
    _need_atheris()
    runs = scaled(5000, 200000)
    done, out = _run_atheris("fuzz_transfer.py", runs, scaled(60, 3600), tmp_path, seeds=True)
    cov = re.findall(r"cov: (\d+)", out)
    figures["coverage (libFuzzer edges)"] = int(cov[-1]) if cov else 0
    figures["inputs tried (atheris)"] = done
    assert done == runs, f"atheris stopped after {done} of {runs} inputs (time limit)"


def _stalling_peer(release: threading.Event) -> Tuple[socket.socket, Any]:
    """An authenticated peer that announces a frame, sends half of it, and then says nothing until ``release``."""
    import multiprocessing.connection as mpc

    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    frame = SEED_FRAMES[0]

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            c = mpc.Connection(os.dup(conn.fileno()))
            try:
                mpc.deliver_challenge(c, KEY)
                mpc.answer_challenge(c, KEY)
                c.recv_bytes(64)
                conn.sendall(framed(REPLY.pack(OK, len(frame))) + frame[: len(frame) // 2])
                release.wait(60)
            finally:
                c.close()

    threading.Thread(target=serve, daemon=True).start()
    return lsock, lsock.getsockname()


def test_pull_from_a_peer_that_stalls_mid_object_does_not_hang() -> None:
    """No hang: a peer that sends part of an object and then goes silent makes pull fail in bounded time."""
    release = threading.Event()
    lsock, address = _stalling_peer(release)
    result: List[Any] = []
    with TempStore("fuzz-stall", capacity=1 << 20) as into:
        t = threading.Thread(target=lambda: result.append(_pull_catching(make_id("stall", 0), address, into)),
                             daemon=True)
        t.start()
        t.join(5)
        hung = t.is_alive()
        release.set()  # the peer hangs up: the puller fails and aborts its object
        t.join(10)
        lsock.close()
        stats = into.stats()
    assert stats.num_unsealed == 0 and stats.used_bytes == 0, stats
    assert not hung, "pull() was still blocked 5 s after the peer went silent mid-object (timeout=2)"


@pytest.mark.parametrize("timeout", [-1.0, float("inf"), float("nan")])
def test_server_thread_waiting_forever_ends_with_the_node(timeout: float) -> None:
    """A peer that asks for an absent object with an endless wait and hangs up leaves no thread behind."""
    errors: List[Any] = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        node = Node.start(store_name("fuzz-wait"), capacity=1 << 20, authkey=KEY)
        before = {t.ident for t in threading.enumerate()}
        with socket.create_connection(node.address) as sock:
            _handshake(sock, KEY)
            sock.sendall(framed(REQUEST.pack(PULL, make_id("absent", 0), timeout)))
            time.sleep(0.2)
        node.close()
        time.sleep(0.3)
        left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    finally:
        threading.excepthook = old_hook
    assert not errors, errors
    assert not left, f"{len(left)} server threads outlive the node: {left}"


def test_transfer_connections_send_small_messages_at_once() -> None:
    """Both ends of a transfer connection set TCP_NODELAY: without it the puller's last handshake message
    and its request, two small writes in a row, waited for the server's delayed ACK (~40 ms a pull)."""
    from reference import transfer

    def no_delay(conn: Any) -> int:
        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    with Node.start(store_name("nodelay"), capacity=1 << 20, authkey=KEY) as a:
        conn = transfer.connect(a.address, KEY)
        try:
            assert no_delay(conn), "the puller's end does not set TCP_NODELAY"
            deadline = time.monotonic() + 5
            while not a.server._conns and time.monotonic() < deadline:
                time.sleep(0.01)
            assert a.server._conns and all(no_delay(c) for c in a.server._conns), \
                "the server's end does not set TCP_NODELAY"
        finally:
            conn.close()
