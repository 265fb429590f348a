"""Shared by the project's own tests: Hypothesis profiles (`ci`, the quick default, and `nightly`) and the
`name` fixture, a fresh store name whose shared-memory file the test must not leave behind."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, settings

from reference.store import STORE_DIR

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def name():
    """A store name unique to this test; fails the test if its store file is left in /dev/shm."""
    n = f"test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    yield n
    path = os.path.join(STORE_DIR, "objstore-" + n)
    if os.path.exists(path):
        os.unlink(path)
        pytest.fail(f"the test left {path} behind")
