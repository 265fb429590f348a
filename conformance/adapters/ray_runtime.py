"""Ray's lifecycle for the ``ray`` adapter and its store: start (or join) one Ray per process, stop it at exit.

:func:`ensure_ray` starts a local Ray with :data:`RAY_OPTIONS` the first time it is called, or joins the
cluster at ``RAY_ADDRESS``; it exports the address it started so that the suite's child interpreters join
the same Ray. :func:`shutdown_ray` runs at exit. Both :mod:`conformance.adapters.ray` (the serializer) and
:mod:`conformance.adapters.ray_store` (the store) use it, and neither imports the other for it.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

__all__ = ["RAY_OPTIONS", "ensure_ray", "shutdown_ray", "started_here"]

#: ``ray.init`` options for the Ray this adapter starts: small, quiet, and gone when the process exits.
RAY_OPTIONS = {
    "num_cpus": 1,
    "object_store_memory": 200 * 2**20,
    "include_dashboard": False,
    "log_to_driver": False,
    "configure_logging": False,
}

_started_here = False


def ensure_ray() -> Any:
    """The ``ray`` module, connected: joins ``RAY_ADDRESS`` when set, else starts a local Ray with
    :data:`RAY_OPTIONS` (once per process; :func:`shutdown_ray` at exit) and exports its address in
    ``RAY_ADDRESS`` so that child interpreters join it."""
    global _started_here
    import ray

    if ray.is_initialized():
        return ray
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False, configure_logging=False)
        return ray
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
