"""Nodes (issue 3): data stays local until requested, then is pulled over loopback into the asker's store."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import time

import numpy as np
import pytest
from _names import unique_names

from reference import AuthenticationError, GetTimeoutError, ObjectID, ObjectStore, StoreNotFoundError, TransferError
from reference.node import CHUNK_SIZE, Node, NodeProcess, ObjectRef, pull
from reference.storefile import store_path
from reference.transfer import OK, REPLY

WAIT = 30


@pytest.fixture
def authkey():
    return os.urandom(32)


@pytest.fixture
def names():
    ns = unique_names(3)
    yield ns
    for n in ns:
        path = store_path(n)
        if os.path.exists(path):
            os.unlink(path)
            pytest.fail(f"the test left {path} behind")


@pytest.fixture
def two_nodes(names, authkey):
    a = Node.start(names[0], capacity=64 << 20, authkey=authkey)
    b = Node.start(names[1], capacity=64 << 20, authkey=authkey)
    yield a, b
    a.close()
    b.close()


def test_put_stays_local_until_requested(two_nodes):
    """Putting on one node sends nothing anywhere; a get on another node pulls it, then reads locally."""
    a, b = two_nodes
    ref = a.put(np.arange(1000))
    assert isinstance(ref, ObjectRef) and ref.owner == a.address
    assert ref.owner[0] == "127.0.0.1"
    assert not b.store.contains(ref.object_id)
    v = b.get(ref, timeout=WAIT)
    np.testing.assert_array_equal(v, np.arange(1000))
    assert b.store.contains(ref.object_id)  # now held locally
    base = np.frombuffer(b.store.arena.mm, dtype=np.uint8).ctypes.data
    assert base <= v.ctypes.data < base + len(b.store.arena.mm) and not v.flags.writeable
    a.store.delete(ref.object_id)  # the owner's copy goes; the local one stays
    np.testing.assert_array_equal(b.get(ref, timeout=0), np.arange(1000))


def test_large_object_moves_in_chunks(two_nodes):
    a, b = two_nodes
    big = np.random.default_rng(0).integers(0, 255, size=3 * CHUNK_SIZE + 12345, dtype=np.uint8)
    ref = a.put(big)
    np.testing.assert_array_equal(b.get(ref, timeout=WAIT), big)


def test_pull_waits_for_the_owner_to_seal(two_nodes):
    import threading

    a, b = two_nodes
    oid = ObjectID.from_random()
    t = threading.Timer(0.2, lambda: a.put("late", oid))
    t.start()
    try:
        assert b.get(ObjectRef(oid, a.address), timeout=WAIT) == "late"
    finally:
        t.join(WAIT)


def test_pull_missing_object_times_out(two_nodes):
    a, b = two_nodes
    t = time.monotonic()
    with pytest.raises(GetTimeoutError):
        b.get(ObjectRef(ObjectID.from_random(), a.address), timeout=0.2)
    assert time.monotonic() - t < 5
    assert b.store.list() == []


def test_wrong_key_is_refused(two_nodes):
    """A connection without the right key is refused, and nothing is transferred."""
    a, b = two_nodes
    ref = a.put("secret")
    with pytest.raises(AuthenticationError) as info:
        pull(ref.object_id, source=a.address, into=b.store, authkey=b"not the key")
    assert isinstance(info.value, TransferError)
    assert not b.store.contains(ref.object_id) and b.store.list() == []
    deadline = time.monotonic() + 5  # the server counts the refusal just after the client hears of it
    while a.server.refused < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert a.server.refused >= 1
    assert b.get(ref, timeout=WAIT) == "secret"  # the server is still serving the right key


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_nothing_is_unpickled_before_authentication(two_nodes, tmp_path):
    """A peer that sends a pickle instead of answering the challenge gets nothing loaded, ever."""
    a, b = two_nodes
    marker = str(tmp_path / "pwned")
    payload = pickle.dumps(_Evil(marker))
    with socket.create_connection(a.address, timeout=WAIT) as sock:
        sock.settimeout(WAIT)
        try:
            for _ in range(3):  # as the challenge answer, and again as if it were a request
                sock.sendall(struct.pack("!i", len(payload)) + payload)
            while sock.recv(4096):
                pass
        except OSError:
            pass  # the server hung up on us: that is the point
    deadline = time.monotonic() + 5
    while a.server.refused < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert a.server.refused >= 1
    assert not os.path.exists(marker)
    ref = a.put(1)
    assert b.get(ref, timeout=WAIT) == 1


def test_servers_listen_on_loopback_by_default(two_nodes):
    a, _ = two_nodes
    assert a.address[0] == "127.0.0.1"


def test_ref_pickles(two_nodes):
    a, b = two_nodes
    ref = pickle.loads(pickle.dumps(a.put({"x": 1})))
    assert b.get(ref, timeout=WAIT) == {"x": 1}


def test_two_node_pull_between_processes(names, authkey):
    """Two nodes as separate processes, each with its store and server; the pull runs over loopback."""
    with NodeProcess(names[0], capacity=32 << 20, authkey=authkey) as pa, \
            NodeProcess(names[1], capacity=32 << 20, authkey=authkey) as pb:
        a, b = pa.connect(), pb.connect()
        try:
            ref = a.put(np.full(2 * CHUNK_SIZE // 8, 3.0))
            assert not b.store.contains(ref.object_id)
            v = b.get(ref, timeout=WAIT)
            assert v.sum() == 3.0 * (2 * CHUNK_SIZE // 8)
            del v
        finally:
            a.close()
            b.close()


def test_three_node_pulls_between_processes(names, authkey):
    """Three node processes: each object is pulled from its owner, wherever the asker is."""
    procs = [NodeProcess(n, capacity=32 << 20, authkey=authkey) for n in names]
    nodes = [p.connect() for p in procs]
    try:
        refs = [node.put({"from": i, "a": np.full(1000 + i, i)}) for i, node in enumerate(nodes)]
        for node in nodes:
            for j, ref in enumerate(refs):
                v = node.get(ref, timeout=WAIT)
                assert v["from"] == j and (v["a"] == j).all() and v["a"].shape == (1000 + j,)
        for node in nodes:
            assert sorted(i.object_id for i in node.store.list()) == sorted(r.object_id for r in refs)
    finally:
        for node in nodes:
            node.close()
        for p in procs:
            p.stop()
    for n in names:
        with pytest.raises(StoreNotFoundError):
            ObjectStore.attach(n)


def test_node_process_stop_destroys_its_store(names, authkey):
    p = NodeProcess(names[0], capacity=1 << 20, authkey=authkey)
    assert os.path.exists(store_path(names[0]))
    p.stop()
    assert not p.process.is_alive()
    assert not os.path.exists(store_path(names[0]))


def test_unreachable_node(names, authkey):
    with ObjectStore.create(names[0], capacity=1 << 20) as s:
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            with pytest.raises(TransferError, match="cannot connect"):
                pull(ObjectID.from_random(), source=("127.0.0.1", port), into=s, authkey=authkey)
        finally:
            s.destroy()


def test_bare_id_is_found_through_peers(names, authkey):
    """A node asked for a bare ID asks its peers in turn; one that has it sends it."""
    nodes = [Node.start(n, capacity=16 << 20, authkey=authkey) for n in names]
    try:
        a, b, c = nodes
        c.add_peer(a.address)
        c.add_peer(b.address)
        c.add_peer(c.address)  # itself: ignored
        assert c.peers == [a.address, b.address]
        ref = b.put(np.arange(10))
        assert not c.contains(ref.object_id)
        np.testing.assert_array_equal(c.get(ref.object_id.binary(), timeout=WAIT), np.arange(10))
        assert c.contains(ref.object_id) and not a.contains(ref.object_id)
        with pytest.raises(GetTimeoutError):
            c.get(ObjectID.from_random(), timeout=0.1)
    finally:
        for node in nodes:
            node.close()


def test_bare_id_waits_until_a_peer_has_it(two_nodes):
    import threading

    a, b = two_nodes
    b.add_peer(a.address)
    oid = ObjectID.from_random()
    t = threading.Timer(0.2, lambda: a.put("later", oid))
    t.start()
    try:
        assert b.get(oid, timeout=WAIT) == "later"
    finally:
        t.join(WAIT)


def test_dropped_transfer_leaves_nothing_behind(names, authkey):
    """A source that hangs up halfway: the pull fails with TransferError and the local store is unchanged."""
    import multiprocessing.connection as mpc
    import threading

    listener = mpc.Listener(("127.0.0.1", 0), family="AF_INET", authkey=authkey)

    def half_server():
        with listener.accept() as conn:
            conn.recv_bytes(64)
            conn.send_bytes(REPLY.pack(OK, 100_000))
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                sock.sendall(b"x" * 50_000)

    t = threading.Thread(target=half_server, daemon=True)
    t.start()
    try:
        with ObjectStore.create(names[0], capacity=1 << 20) as s:
            try:
                with pytest.raises(TransferError, match="50000 of 100000"):
                    pull(ObjectID.from_random(), source=listener.address, into=s, authkey=authkey,
                         timeout=WAIT)
                st = s.stats()
                assert st.used_bytes == 0 and st.num_unsealed == 0 and s.list() == []
            finally:
                s.destroy()
    finally:
        t.join(WAIT)
        listener.close()


def test_pull_writes_chunks_straight_into_the_store(two_nodes, monkeypatch):
    """Every byte of a pulled object is received into the local store's memory, at most 5 MiB per call:
    no staging buffer, so no second full copy in memory."""
    a, b = two_nodes
    size = 2 * CHUNK_SIZE + 1000
    ref = a.put(np.ones(size // 8))
    targets = []
    real = socket.socket.recv_into

    def spy(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer)
        targets.append((np.frombuffer(view, dtype=np.uint8).ctypes.data, view.nbytes))
        return real(self, buffer, nbytes, flags)

    monkeypatch.setattr(socket.socket, "recv_into", spy)
    b.pull(ref, timeout=WAIT)
    monkeypatch.undo()
    lo = np.frombuffer(b.store.arena.mm, dtype=np.uint8).ctypes.data
    hi = lo + len(b.store.arena.mm)
    assert targets and all(lo <= addr and addr + n <= hi for addr, n in targets)
    assert max(n for _, n in targets) <= CHUNK_SIZE
    assert b.get(ref, timeout=0).sum() == size // 8
