"""Shared by the project's own tests: Hypothesis profiles (`ci`, the quick default, and `nightly`), the
`name` fixture, a fresh store name whose shared-memory file the test must not leave behind, and a bounded
exit for sessions that loaded a peer (Ray, Plasma)."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from _names import unique_name
from hypothesis import HealthCheck, settings

from conformance.adapters.ray_runtime import bind_to_loopback
from reference.storefile import store_path

# Every Ray a test starts (or joins on this machine) listens on 127.0.0.1 only: Ray reads its switch when
# `ray` is first imported, which a test module may do before it imports the adapter.
bind_to_loopback()

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

#: Seconds a test may take under the `nightly` profile (50 times the examples of `ci`); pyproject.toml's
#: pytest-timeout bound (600 s) is for the quick profile.
NIGHTLY_TIMEOUT = 4 * 3600


def pytest_collection_modifyitems(config, items):
    if PROFILE == "nightly":
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(NIGHTLY_TIMEOUT))


@pytest.fixture
def store(name):
    """A fresh 4 MiB reference store for one test, destroyed after it (test_store_mp.py makes larger ones)."""
    from reference import ObjectStore

    s = ObjectStore.create(name, capacity=4 << 20)
    yield s
    s.destroy()


@pytest.fixture
def name():
    """A store name unique to this test; fails the test if its store file is left in /dev/shm."""
    n = unique_name()
    yield n
    path = store_path(n)
    if os.path.exists(path):
        os.unlink(path)
        pytest.fail(f"the test left {path} behind")


def pytest_sessionfinish(session, exitstatus):
    session.config._objstore_exitstatus = int(exitstatus)


#: Seconds Ray's shutdown may take at the end of a session before the process exits without it.
RAY_SHUTDOWN_TIMEOUT = 60.0


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A session that loaded a peer ends here, after pytest has printed its summary and written its
    reports, with pytest's own exit status, so that the peer's teardown cannot hang the run: pyarrow 11.0.0
    (the Plasma peer's only source) can deadlock tearing down its thread pools at interpreter exit
    (apache/arrow#33975), and Ray is shut down first, for at most :data:`RAY_SHUTDOWN_TIMEOUT` seconds."""
    status = getattr(config, "_objstore_exitstatus", None)
    if status is None or not ("pyarrow.plasma" in sys.modules or "ray" in sys.modules):
        return
    if "ray" in sys.modules:
        from conformance.adapters.ray_runtime import shutdown_ray

        stopper = threading.Thread(target=shutdown_ray, name="shutdown_ray", daemon=True)
        stopper.start()
        stopper.join(RAY_SHUTDOWN_TIMEOUT)
        if stopper.is_alive():
            sys.stderr.write(f"conftest: ray.shutdown() did not return within {RAY_SHUTDOWN_TIMEOUT:g} s; "
                             f"exiting without it\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
