"""Ray's lifecycle for the ``ray`` adapter and its store: start (or join) one Ray per process, stop it at exit.

:func:`ensure_ray` starts a local Ray with :data:`RAY_OPTIONS` the first time it is called, or joins the
cluster at ``RAY_ADDRESS``; it exports the address it started so that the suite's child interpreters join
the same Ray. :func:`shutdown_ray` runs at exit. Both :mod:`conformance.adapters.ray` (the serializer) and
:mod:`conformance.adapters.ray_store` (the store) use it, and neither imports the other for it.

The Ray this adapter starts listens on 127.0.0.1 only: an unauthenticated Ray API on a network is remote
code execution (CVE-2023-48022). Ray binds its servers (GCS, raylets, workers, object manager) to the node's
IP address, which on Linux is the machine's network address unless Ray's own switch
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes it the loopback address. Ray reads the switch when ``ray`` is
first imported, so importing this module (which either adapter module does) sets it
(:func:`bind_to_loopback`) unless ``RAY_ADDRESS`` names a cluster on another address; the same holds for a
cluster on 127.0.0.1 that a driver or a child of the suite joins (with the switch unset, Ray resolves
127.0.0.1 to the machine's address and looks for its raylet there). :func:`ensure_ray` refuses to start a
Ray that would not be on loopback.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import socket
from typing import Any

__all__ = ["LOOPBACK_SWITCH", "RAY_OPTIONS", "bind_to_loopback", "ensure_ray", "is_loopback", "shutdown_ray",
           "started_here"]

#: Ray's switch (read once, when ``ray`` is imported): "0" makes the node's IP address, and so every server
#: Ray starts, 127.0.0.1 on Linux.
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

#: ``ray.init`` options for the Ray this adapter starts: small, quiet, and gone when the process exits.
RAY_OPTIONS = {
    "num_cpus": 1,
    "object_store_memory": 200 * 2**20,
    "include_dashboard": False,
    "log_to_driver": False,
    "configure_logging": False,
}
#: Seconds the GCS at ``RAY_ADDRESS`` has to accept a TCP connection (the kernel accepts for a busy
#: process; only an unroutable host takes this long) before :func:`ensure_ray` gives up.
CONNECT_TIMEOUT = 30.0

_started_here = False


def is_loopback(address: str) -> bool:
    """True when ``address`` (``host``, ``host:port`` or ``[host]:port``) is on the loopback interface."""
    host = address.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_to_loopback() -> bool:
    """Set :data:`LOOPBACK_SWITCH` to "0" (unless the caller set it) when the Ray to run or join is on this
    machine's loopback: ``RAY_ADDRESS`` unset (a local Ray is started), or naming 127.0.0.1/localhost.
    Returns whether the switch is now "0". Takes effect for a ``ray`` imported after the call (children
    inherit it); :func:`ensure_ray` checks what the imported one does."""
    address = os.environ.get("RAY_ADDRESS", "")
    if not address or is_loopback(address):
        os.environ.setdefault(LOOPBACK_SWITCH, "0")
    return os.environ.get(LOOPBACK_SWITCH) == "0"


bind_to_loopback()


def _check_reachable(address: str) -> None:
    """Raise ``RuntimeError`` naming ``address`` when nothing accepts connections there: ``ray.init``
    itself retries an absent GCS for minutes, so every clause would hang instead of saying why.
    Addresses that Ray resolves itself (``auto``, ``ray://...``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise RuntimeError(f"no Ray at RAY_ADDRESS={address!r} ({exc}): start the cluster, or unset RAY_ADDRESS "
                           f"so that the adapter starts a local Ray") from exc


def _refuse_network_ray(ray: Any) -> None:
    """Raise before starting a Ray whose servers would listen on the machine's network address."""
    from ray._private import services

    address = services.get_node_ip_address()
    if not is_loopback(address):
        raise RuntimeError(
            f"refusing to start a local Ray on {address}: it would listen on the network, and an "
            f"unauthenticated Ray API there is remote code execution (CVE-2023-48022). Ray binds to "
            f"127.0.0.1 only when {LOOPBACK_SWITCH}=0 is set before 'ray' is first imported: set it in "
            f"the environment, or import conformance.adapters.ray before ray")


def ensure_ray() -> Any:
    """The ``ray`` module, connected: joins ``RAY_ADDRESS`` when set, else starts a local Ray with
    :data:`RAY_OPTIONS`, on 127.0.0.1 only (once per process; :func:`shutdown_ray` at exit), and exports
    its address in ``RAY_ADDRESS`` so that child interpreters join it.

    Raises ``RuntimeError`` instead of starting a Ray that would listen on a network address (see the
    module docstring), and when nothing listens at ``RAY_ADDRESS``."""
    global _started_here
    import ray

    if ray.is_initialized():
        return ray
    if os.environ.get("RAY_ADDRESS"):
        _check_reachable(os.environ["RAY_ADDRESS"])
        ray.init(log_to_driver=False, configure_logging=False)
        return ray
    _refuse_network_ray(ray)
    context = ray.init(**RAY_OPTIONS)
    _started_here = True
    os.environ["RAY_ADDRESS"] = context.address_info["address"]
    atexit.register(shutdown_ray)
    return ray


def shutdown_ray() -> None:
    """Disconnect from Ray; stop it when this process started it. Safe to call more than once."""
    global _started_here
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
    if _started_here:
        os.environ.pop("RAY_ADDRESS", None)
        _started_here = False


def started_here() -> bool:
    """True when this process started the Ray it is connected to (not one it joined via ``RAY_ADDRESS``)."""
    return _started_here
