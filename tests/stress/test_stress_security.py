"""Security: the store's memory is its owner's alone, IDs cannot leave the store, keys guard transfers.

Issue 7, "Security":

* the store's memory is mode 0600 and another user cannot open it (checked as uid 65534 when this runs as
  root; skipped with the reason otherwise), nor plant a file or a symlink where a store would be attached;
* IDs that try to leave the store (``../``, NUL bytes, wrong length, wrong type) are refused by every
  operation that takes one, and an ID that merely *contains* such bytes is an opaque key that names nothing
  outside the store;
* a transfer connection with a wrong or missing key is refused before anything is unpickled, on either end:
  every payload sent is a pickle whose loading would create a marker file, and no marker appears.

Over 400 lines on purpose: one part of the battery per module, so `tox -e stress -- -k <part>` runs it
and its report section stays in one place.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection as mpc
import os
import socket
import stat
import time
from typing import Any, Callable, Dict, List

import pytest
from _marker import marker_frame, marker_pickle
from _stresslib import FakeNode, TempStore, drain, framed, make_id, store_name, store_path, value_for
from hypothesis import given
from hypothesis import strategies as st

from reference.errors import (
    AuthenticationError,
    GetTimeoutError,
    InvalidObjectIDError,
    StoreExistsError,
    TransferError,
)
from reference.node import Node, ObjectRef, pull
from reference.serializer import deserialize
from reference.store import STORE_DIR, ObjectStore
from reference.transfer import OK, REPLY

NOBODY = 65534
KEY = b"stress-battery-key-" + os.urandom(8)


# -- the store's memory ---------------------------------------------------------------------------------

def test_store_memory_is_mode_0600_and_owned_by_its_creator() -> None:
    """The store's shared memory is readable and writable by its owner only, whatever the umask."""
    old = os.umask(0)
    try:
        with TempStore("sec", capacity=1 << 20) as store:
            st_ = os.stat(store.path)
            assert stat.S_IMODE(st_.st_mode) == 0o600
            assert st_.st_uid == os.geteuid()
            assert os.path.dirname(store.path) == STORE_DIR
    finally:
        os.umask(old)


def _as_other_user(uid: int, path: str, name: str, control: str) -> Dict[str, str]:
    """Fork; in the child drop to ``uid`` (no groups) and try to open and attach the store; return what
    happened. Forking (rather than running an interpreter as ``uid``) needs no interpreter or packages that
    ``uid`` can read: pyenv and tox keep theirs in directories only root can enter."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            out: Dict[str, str] = {}
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out["uid"] = str(os.getuid())
            try:  # the control: a world-readable file beside the store opens (so refusals are the mode's)
                os.close(os.open(control, os.O_RDONLY))
                out["control (0644 file) open"] = "OPENED"
            except OSError as exc:
                out["control (0644 file) open"] = f"{type(exc).__name__}: {exc}"
            for label, flags in (("open O_RDONLY", os.O_RDONLY), ("open O_RDWR", os.O_RDWR)):
                try:
                    fd = os.open(path, flags)
                except PermissionError:
                    out[label] = "refused"
                else:
                    os.close(fd)
                    out[label] = "OPENED"
            try:
                ObjectStore.attach(name).close()
                out["attach"] = "ATTACHED"
            except PermissionError:
                out["attach"] = "refused"
            except Exception as exc:  # noqa: BLE001 - reported
                out["attach"] = f"{type(exc).__name__}: {exc}"
            os.write(w, json.dumps(out).encode())
        except BaseException as exc:  # noqa: BLE001
            os.write(w, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data.decode() or "{}")


def test_another_user_cannot_open_or_attach_the_store(figures: Dict[str, Any]) -> None:
    """Another uid (65534, nobody) can neither open the store's file for reading or writing nor attach."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a child as a second uid (65534); run the battery as root to check this")
    control = store_path(store_name("control"))
    with open(control, "w") as f:
        f.write("readable by all")
    os.chmod(control, 0o644)
    try:
        with TempStore("sec", capacity=1 << 20) as store:
            store.put(b"secret", make_id("secret", 0))
            out = _as_other_user(NOBODY, store.path, store.name, control)
    finally:
        os.unlink(control)
    if "error" in out:
        pytest.skip(f"cannot become uid {NOBODY} here: {out['error']}")
    figures.update({"second uid": int(out.pop("uid")), **out})
    assert out == {"control (0644 file) open": "OPENED", "open O_RDONLY": "refused", "open O_RDWR": "refused",
                   "attach": "refused"}


def test_attach_refuses_a_store_file_planted_by_another_user() -> None:
    """/dev/shm is shared by every user: a file another user put where a store would be is not attached."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a planted file to another uid")
    name = store_name("planted")
    path = store_path(name)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, 1 << 16)
        os.fchown(fd, NOBODY, NOBODY)
        with pytest.raises(PermissionError, match="owned by uid"):
            ObjectStore.attach(name)
        with pytest.raises(StoreExistsError):
            ObjectStore.create(name, capacity=1 << 16)
    finally:
        os.close(fd)
        os.unlink(path)


def test_attach_and_create_do_not_follow_a_planted_symlink(tmp_path: Any) -> None:
    """A symlink planted at a store's path is neither followed by attach nor replaced by create."""
    target = tmp_path / "target"
    target.write_bytes(b"do not touch")
    name = store_name("symlink")
    path = store_path(name)
    os.symlink(str(target), path)
    try:
        with pytest.raises(OSError):
            ObjectStore.attach(name)
        with pytest.raises(StoreExistsError):
            ObjectStore.create(name, capacity=1 << 16)
    finally:
        os.unlink(path)
    assert target.read_bytes() == b"do not touch"


# -- object IDs -----------------------------------------------------------------------------------------

BAD_IDS = [
    b"../../../etc/passwd",            # 19 bytes
    b"../../../../etc/passwd",         # 22 bytes
    "../" * 13 + "x",                  # 40 characters, not hex
    "0" * 38 + "\x00\x00",             # 40 characters with NULs
    "\x00" * 40,
    b"\x00" * 19,
    b"\x00" * 21,
    b"",
    "",
    "/dev/shm/objstore-" + "a" * 22,   # 40 characters, a path
    "a" * 39,
    "a" * 41,
    12345,
    None,
    1.5,
    ["0" * 40],
    bytes(range(40)),
]


def _id_operations(store: ObjectStore) -> Dict[str, Callable[[Any], Any]]:
    return {
        "put": lambda oid: store.put(1, oid),
        "get": lambda oid: store.get(oid, timeout=0),
        "get_buffer": lambda oid: store.get_buffer(oid, timeout=0),
        "contains": lambda oid: store.contains(oid),
        "delete": lambda oid: store.delete(oid),
        "create": lambda oid: store.create(oid, 10),
        "seal": lambda oid: store.seal(oid),
        "abort": lambda oid: store.abort(oid),
        "pull": lambda oid: pull(oid, source=("127.0.0.1", 9), into=store, authkey=KEY),
    }


def _shm_listing() -> set:
    return set(os.listdir(STORE_DIR))


def test_ids_that_try_to_leave_the_store_are_refused(figures: Dict[str, Any]) -> None:
    """Every operation taking an ID refuses `../`, NUL bytes, wrong lengths and wrong types, up front."""
    refused = 0
    with TempStore("ids", capacity=1 << 20) as store:
        before = _shm_listing()
        cwd_before = set(os.listdir("."))
        for bad in BAD_IDS:
            for op_name, op in _id_operations(store).items():
                if bad is None and op_name == "put":
                    continue  # put(value, None) means "draw a random ID"
                with pytest.raises(InvalidObjectIDError) as info:
                    op(bad)
                assert isinstance(info.value, ValueError)
                refused += 1
        assert store.list() == []
        assert _shm_listing() == before and set(os.listdir(".")) == cwd_before
    figures["bad IDs x operations refused"] = refused


def test_an_id_made_of_path_bytes_is_an_opaque_key() -> None:
    """A valid 20-byte ID containing `../` and NULs names an object in the table, never a file."""
    oid = b"../../etc/passwd\x00\x00\x00\x00"
    assert len(oid) == 20
    with TempStore("ids", capacity=1 << 20) as store:
        before = _shm_listing()
        store.put(value_for(make_id("x", 0), 10), oid)
        assert store.get(oid, timeout=0)["n"] == 10
        assert store.contains(oid)
        store.delete(oid)
        assert _shm_listing() == before
    assert os.path.exists("/etc/passwd")


_ID_COUNT = [0]


@given(st.one_of(st.binary(max_size=64), st.text(max_size=64),
                 st.text(alphabet="0123456789abcdefABCDEF", min_size=38, max_size=42),
                 st.integers(), st.none(), st.floats()))
def test_any_id_is_either_exactly_20_bytes_or_refused(candidate: Any) -> None:
    """Hypothesis: any candidate ID is accepted only as 20 bytes or 40 hex digits; else InvalidObjectIDError."""
    _ID_COUNT[0] += 1
    store = _shared_store()
    valid = (isinstance(candidate, bytes) and len(candidate) == 20) or (
        isinstance(candidate, str) and len(candidate) == 40
        and all(c in "0123456789abcdefABCDEF" for c in candidate))
    if valid:
        assert store.contains(candidate) in (True, False)
        with pytest.raises(GetTimeoutError):
            store.get(candidate, timeout=0)
    else:
        for op in ("get", "contains", "delete", "put") if candidate is not None else ("get", "contains"):
            with pytest.raises(InvalidObjectIDError):
                _id_operations(store)[op](candidate)


_SHARED: List[Any] = []


def _shared_store() -> ObjectStore:
    if not _SHARED:
        ts = TempStore("hyp-ids", capacity=1 << 20)
        ts.__enter__()
        _SHARED.append(ts)
    return _SHARED[0].store


@pytest.fixture(scope="module", autouse=True)
def _destroy_shared_store() -> Any:
    yield
    while _SHARED:
        _SHARED.pop().__exit__(None, None, None)


# -- transfer keys --------------------------------------------------------------------------------------

@pytest.fixture
def node() -> Any:
    n = Node.start(store_name("sec-node"), capacity=4 << 20, authkey=KEY)
    yield n
    n.close()


def test_marker_positive_control(tmp_path: Any) -> None:
    """The proof's control: loading a marker payload does create its file (so 'no marker' means 'not loaded')."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    import pickle

    pickle.loads(marker_pickle(a)).close()
    deserialize(marker_frame(b)).close()
    assert os.path.exists(a) and os.path.exists(b)


def _raw_exchange(address: Any, chunks: List[bytes], read_timeout: float = 5.0) -> bytes:
    """Connect with a plain socket, send ``chunks`` (already framed), return what came back until EOF."""
    got = b""
    with socket.create_connection(address, timeout=read_timeout) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
            time.sleep(0.01)
        got = drain(sock, read_timeout)
    return got


def test_server_refuses_wrong_and_missing_keys_before_unpickling(node: Any, tmp_path: Any,
                                                                 figures: Dict[str, Any]) -> None:
    """A client with a wrong key, with no key, or speaking raw bytes is refused; nothing it sent is unpickled."""
    marks = [str(tmp_path / f"mark{i}") for i in range(6)]
    refused_before = node.server.refused
    attempts = 0
    # 1. a wrong key: multiprocessing's own client
    with pytest.raises(multiprocessing.AuthenticationError):
        mpc.Client(node.address, family="AF_INET", authkey=b"wrong key")
    attempts += 1
    # 2. no key: the client skips the handshake and sends pickles (Connection.send pickles)
    conn = mpc.Client(node.address, family="AF_INET")
    try:
        try:
            conn.send_bytes(marker_pickle(marks[0]))
            conn.send_bytes(marker_frame(marks[1]))
            conn.send(marker_pickle(marks[2]))
        except OSError:
            pass  # the server hung up on the first of them
        messages = []
        try:
            while True:  # the server's challenge, its verdict, then the end of the connection
                messages.append(conn.recv_bytes())
        except (EOFError, OSError):
            pass
        assert all(m.startswith(b"#") for m in messages), messages  # handshake messages only, no data
    finally:
        conn.close()
    attempts += 1
    # 3. raw bytes: the marker as the handshake's answer, then as a PULL request and a bare frame
    _raw_exchange(node.address, [framed(marker_pickle(marks[3])), framed(marker_frame(marks[4])),
                                 marker_pickle(marks[5])])
    attempts += 1
    # 4. an attacker who answers the challenge with garbage of every length
    for n in (0, 1, 20, 32, 255, 256, 4096):
        _raw_exchange(node.address, [framed(os.urandom(n))])
        attempts += 1
    deadline = time.monotonic() + 5
    while node.server.refused - refused_before < attempts and time.monotonic() < deadline:
        time.sleep(0.01)
    figures["connections refused"] = node.server.refused - refused_before
    figures["markers found"] = sum(os.path.exists(m) for m in marks)
    assert not any(os.path.exists(m) for m in marks), "a payload was unpickled"
    assert node.server.refused - refused_before == attempts
    assert node.store.list() == []
    # and the server still serves a client with the key
    ref = node.put("still fine")
    with TempStore("sec-client", capacity=1 << 20) as other:
        pull(ref.object_id, source=node.address, into=other, authkey=KEY, timeout=5)
        assert other.get(ref.object_id, timeout=0) == "still fine"


def _reply_and_frame(frame: bytes) -> bytes:
    return framed(REPLY.pack(OK, len(frame))) + frame


def _no_handshake(conn: socket.socket, mark: Callable[[], str]) -> None:
    """Skips the handshake: sends the reply and a marker frame at once."""
    conn.sendall(_reply_and_frame(marker_frame(mark())))
    time.sleep(0.2)


def _marker_as_challenge(conn: socket.socket, mark: Callable[[], str]) -> None:
    """Sends a marker pickle where the challenge should be."""
    conn.sendall(framed(marker_pickle(mark())))
    time.sleep(0.2)


def _wrong_key(conn: socket.socket, mark: Callable[[], str]) -> None:
    """A real handshake with another key, then a marker frame pushed anyway."""
    conn.settimeout(None)  # multiprocessing's Connection wants a blocking descriptor
    c = mpc.Connection(os.dup(conn.fileno()))
    try:
        try:
            mpc.deliver_challenge(c, b"another key")
        except multiprocessing.AuthenticationError:
            pass
        c.send_bytes(_reply_and_frame(marker_frame(mark()))[4:])
        time.sleep(0.2)
    finally:
        c.close()


def _lying_peer(conn: socket.socket, mark: Callable[[], str]) -> None:
    """Challenges the puller, says WELCOME whatever it answered, answers the puller's challenge with a
    made-up digest, then pushes a reply and a marker frame."""
    conn.settimeout(None)
    c = mpc.Connection(os.dup(conn.fileno()))
    try:
        c.send_bytes(b"#CHALLENGE#" + os.urandom(20))
        c.recv_bytes(256)
        c.send_bytes(b"#WELCOME#")
        c.recv_bytes(256)          # the puller's challenge
        c.send_bytes(os.urandom(16))  # a digest we cannot compute without the key
        c.send_bytes(_reply_and_frame(marker_frame(mark()))[4:])
        time.sleep(0.2)
    finally:
        c.close()


_PEERS = {"no handshake": _no_handshake, "marker as challenge": _marker_as_challenge, "wrong key": _wrong_key,
          "lying peer": _lying_peer}


def _pull_from_fake(behave: Callable[..., None], tmp_path: Any) -> "tuple[BaseException, List[str], Any]":
    marks: List[str] = []

    def mark() -> str:
        marks.append(str(tmp_path / f"mark{len(marks)}"))
        return marks[-1]

    fake = FakeNode(lambda conn: behave(conn, mark))
    try:
        with TempStore("sec-puller", capacity=4 << 20) as into:
            oid = make_id("pull-from-fake", 0)
            with pytest.raises(BaseException) as info:
                pull(oid, source=fake.address, into=into, authkey=KEY, timeout=5)
            stats = into.stats()
            node = Node(into, ("127.0.0.1", 1), KEY)
            with pytest.raises(BaseException):  # noqa: B017 - any error will do: what is left behind is checked
                node.get(ObjectRef(oid, fake.address), timeout=5)
            stats_after_get = into.stats()
    finally:
        fake.close()
    assert marks, f"the fake peer never ran: {fake.errors}"
    return info.value, marks, (stats, stats_after_get)


@pytest.mark.parametrize("peer", list(_PEERS))
def test_puller_refuses_a_peer_without_the_key_before_unpickling(peer: str, tmp_path: Any,
                                                                 figures: Dict[str, Any]) -> None:
    """A puller talking to a peer that lacks the key refuses it; the marker frame the peer pushes is never
    loaded, nor stored (so no later get can load it)."""
    exc, marks, all_stats = _pull_from_fake(_PEERS[peer], tmp_path)
    figures["error raised"] = f"{type(exc).__name__}: {str(exc)[:80]}"
    figures["markers found"] = sum(os.path.exists(m) for m in marks)
    assert not any(os.path.exists(m) for m in marks), "a payload from a peer without the key was unpickled"
    for stats in all_stats:
        assert stats.num_objects == 0 and stats.num_unsealed == 0 and stats.used_bytes == 0, stats




@pytest.mark.parametrize("peer", [
    "no handshake",
    "marker as challenge",
    "wrong key",
    "lying peer",
])
def test_pull_from_a_peer_without_the_key_raises_a_declared_error(peer: str, tmp_path: Any) -> None:
    """pull() documents AuthenticationError on a key mismatch and TransferError for any other failure."""
    exc, _marks, _stats = _pull_from_fake(_PEERS[peer], tmp_path)
    assert isinstance(exc, (AuthenticationError, TransferError)), repr(exc)
