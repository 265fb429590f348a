"""The watchdog on store calls (``conformance/watchdog.py``): a call that hangs fails within its bound, naming
the call, and ends a Hypothesis test at once instead of being replayed."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import watchdog
from conformance.report import run_implementation
from conformance.watchdog import CallHung, WatchedStore, bounded


class _Blocking:
    """A store whose get with timeout=0 waits for ever (until the test lets it go)."""

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()

    def get(self, object_id, *, timeout=None):
        if timeout == 0:
            self.release.wait()
        return "value"

    def put(self, value, object_id=None):
        raise KeyError("exists")


def test_bounded_returns_and_raises_what_the_call_does():
    assert bounded(lambda: 42, "forty-two", 5) == 42
    with pytest.raises(KeyError, match="exists"):
        WatchedStore(_Blocking()).put("x", b"i" * 20)


def test_a_hung_call_fails_within_its_bound_naming_the_call(monkeypatch):
    monkeypatch.setattr(watchdog, "SLACK", 0.5)
    inner = _Blocking()
    store = WatchedStore(inner)
    start = time.monotonic()
    try:
        with pytest.raises(CallHung) as caught:
            store.get(b"\x01" * 20, timeout=0)
    finally:
        inner.release.set()
    assert time.monotonic() - start < 5
    hexid = (b"\x01" * 20).hex()
    assert f"store.get(bytes.fromhex({hexid!r}), timeout=0) did not return within" in str(caught.value)
    assert store.get(b"\x01" * 20, timeout=1) == "value"  # a call that returns in time is not affected


def test_a_hang_is_not_replayed_by_hypothesis(monkeypatch):
    monkeypatch.setattr(watchdog, "SLACK", 0.2)
    inner = _Blocking()
    calls = []

    @settings(max_examples=20, database=None, deadline=None)
    @given(st.integers())
    def hangs(n):
        calls.append(n)
        WatchedStore(inner).get(b"\x02" * 20, timeout=0)

    try:
        with pytest.raises(CallHung):
            hangs()
    finally:
        inner.release.set()
    assert len(calls) == 1, f"Hypothesis ran the hanging example {len(calls)} times"


@pytest.mark.meta
@pytest.mark.timeout(600)
def test_a_store_whose_timeout_zero_blocks_fails_its_clause_in_under_30_s():
    """Issue 21: a get(timeout=0) that waits for ever fails store.timeouts.zero within 30 s, naming the call
    (pytest-timeout alone would take 600 s)."""
    result = run_implementation("mutant.store_timeout_zero_blocks", clauses=["store.timeouts.zero"])
    cell = result.clauses["store.timeouts.zero"]
    assert cell.status == "fail", f"{cell.status}: {cell.message[:1000]}"
    assert cell.seconds < 30, f"the hang failed the clause only after {cell.seconds:.1f}s"
    assert "timeout=0) did not return within" in cell.message, cell.message[:1000]
