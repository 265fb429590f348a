"""How the Ray adapter treats addresses, without Ray: which ones are loopback (and so get Ray's loopback
switch), and that an address where nothing listens fails at once, naming it, instead of Ray's minutes of
retries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from conformance.adapters import ray_runtime


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1:6379", True), ("localhost:6379", True), ("127.0.0.1", True), ("[::1]:6379", True),
    ("127.0.0.2:6379", True), ("10.0.0.2:6379", False), ("ray-head:6379", False), ("192.0.2.1", False)])
def test_is_loopback(address: str, loopback: bool) -> None:
    assert ray_runtime.is_loopback(address) is loopback


def test_nothing_listening_fails_at_once_naming_the_address() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=f"no Ray at RAY_ADDRESS='127.0.0.1:{port}'"):
        ray_runtime._check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - started < ray_runtime.CONNECT_TIMEOUT


def test_a_listening_address_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        ray_runtime._check_reachable(f"127.0.0.1:{server.getsockname()[1]}")


@pytest.mark.parametrize("address", ["auto", "ray://127.0.0.1:10001"])
def test_addresses_ray_resolves_are_left_to_ray(address: str) -> None:
    ray_runtime._check_reachable(address)  # no probe, no error


@pytest.mark.parametrize("address, switch", [(None, "0"), ("127.0.0.1:6379", "0"), ("10.0.0.2:6379", None)])
def test_loopback_switch_is_set_for_a_local_ray_only(address: str, switch: str) -> None:
    """Importing the adapter sets Ray's switch for a Ray on this machine, and leaves it alone for a cluster
    on the network (whose raylet is registered under the machine's address)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", ray_runtime.LOOPBACK_SWITCH)}
    if address is not None:
        env["RAY_ADDRESS"] = address
    code = (f"import os, conformance.adapters.ray; "
            f"print(os.environ.get({ray_runtime.LOOPBACK_SWITCH!r}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(switch)
