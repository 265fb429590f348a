"""Store clauses ``store.timeouts.*``: get waits as long as its timeout says, for a put from another
process too.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time

import pytest

from conformance.child import STARTUP_TIMEOUT, start_task, wait_for_line
from conformance.clauses import clause
from conformance.harness import reproduce
from conformance.store_fixtures import (
    make_store,  # noqa: F401 - a fixture, named as an argument
    new_id,
    store_snippet,
)
from conformance.watchdog import last_call_seconds

# Timing on a busy machine: a wait is measured from the moment the other side is ready (a child has
# imported and attached), bounds are generous, and a bound that only load could break is checked on the
# best of a few tries (a busy machine can deschedule one try; a store that waits too long does it every time).
TRIES = 3


def _timed_get(store, oid, timeout, errors):
    """Seconds a get of missing ``oid`` with ``timeout`` took to raise one of ``errors``."""
    start = time.monotonic()
    with pytest.raises(errors):
        store.get(oid, timeout=timeout)
    return time.monotonic() - start


#: A get(timeout=0) of a missing object must raise within this many seconds plus ZERO_FACTOR times what a get
#: of an object that is there takes (a busy machine slows both alike), each at its best of ZERO_TRIES tries
#: and timed in the thread that runs it (conformance.watchdog): no poll, no grace period.
ZERO_BOUND = 0.1
ZERO_FACTOR = 3
ZERO_TRIES = 5


@clause("store.timeouts.zero", "store", "timeouts")
def test_store_timeouts_zero(impl, make_store):
    """Clause store.timeouts.zero: get of a missing object with timeout=0 raises the declared timeout error
    at once: within a tenth of a second plus three times what a get of an object that is there takes, each
    at its best of five tries (a store that polls once, or waits a grace period, fails)."""
    store = make_store()
    reproduce(impl, store_snippet(), "import time", "here = store.put(b'here')",
              "t = time.monotonic(); store.get(here, timeout=0); base = time.monotonic() - t",
              "t = time.monotonic(); store.get(b'm' * 20, timeout=0)  # raises",
              f"time.monotonic() - t  # < {ZERO_BOUND} + {ZERO_FACTOR} * base")
    here = store.put(b"here")
    missing, present = [], []
    for _ in range(ZERO_TRIES):
        store.get(here, timeout=0)
        present.append(last_call_seconds())
        with pytest.raises(impl.timeout_error):
            store.get(new_id(), timeout=0)
        missing.append(last_call_seconds())
        if min(missing) < ZERO_BOUND + ZERO_FACTOR * min(present):
            break
    assert min(missing) < ZERO_BOUND + ZERO_FACTOR * min(present), (
        f"a get with timeout=0 of a missing object waited before it raised: "
        f"{', '.join(f'{t:.3f}s' for t in missing)} (a get of an object that is there: at best "
        f"{min(present):.4f}s)")


@clause("store.timeouts.positive", "store", "timeouts")
def test_store_timeouts_positive(impl, make_store):
    """Clause store.timeouts.positive: get of a missing object with timeout=0.3 raises the declared timeout
    error after about 0.3 seconds (never before; within 3 seconds on the best of three tries)."""
    store = make_store()
    reproduce(impl, store_snippet(), "store.get(b'm' * 20, timeout=0.3)")
    times = []
    for _ in range(TRIES):
        elapsed = _timed_get(store, new_id(), 0.3, impl.timeout_error)
        assert elapsed >= 0.29, f"a get with timeout=0.3 gave up after {elapsed:.3f}s"
        times.append(elapsed)
        if elapsed < 3:
            break
    assert min(times) < 3, f"a get with timeout=0.3 gave up only after {', '.join(f'{t:.3f}s' for t in times)}"


#: Seconds between the cue and the other process's put, that is, how long the get waits: two lengths 1.5
#: apart, so that polling whose interval keeps doubling (no cap) notices one of the two seals at least half a
#: second late, whatever its phase.
WAIT_LENGTHS = (1.0, 1.5)
#: Seconds after the put started within which the get must have returned, on the best of TRIES tries of each
#: length (a correct store notices a seal within milliseconds; a busy machine can delay one try, not three).
NOTICE_BOUND = 0.25
#: The get's timeout: far longer than it needs.
WAIT_TIMEOUT = 120.0


def _cue(folder: str, n: int, oid: bytes, at: float) -> None:
    """Cue ``n`` for the child of ``store_put_on_cue``: put under ``oid`` when the clock reads ``at``."""
    path = os.path.join(folder, str(n))
    with open(path + ".tmp", "wb") as f:
        pickle.dump((oid, at), f)
    os.replace(path + ".tmp", path)  # whole or absent: the child never reads half a cue


@clause("store.timeouts.wait_for_put", "store", "multiprocess", "timeouts")
def test_store_timeouts_wait_for_put(impl, make_store):
    """Clause store.timeouts.wait_for_put: a get with a timeout waits for an object another process puts
    later (1 s and 1.5 s after the get started), and returns it as soon as it is sealed: within a quarter
    of a second of the put, on the best of three tries (a wait whose polling backs off without a cap
    notices the seal late)."""
    store = make_store()
    reproduce(impl, store_snippet(), "import os, pickle, tempfile, time",
              "from conformance.child import start_task, wait_for_line",
              "cues = tempfile.mkdtemp(); oid = b'w' * 20",
              "p = start_task(impl.name, 'store_put_on_cue', (store.name, cues))",
              "wait_for_line(p, b'attached')  # the child has imported and attached",
              "pickle.dump((oid, time.monotonic() + 1.5), open(os.path.join(cues, '0'), 'wb'))",
              f"put_at = store.get(oid, timeout={WAIT_TIMEOUT})  # the put's start, on the shared clock",
              f"time.monotonic() - put_at  # < {NOTICE_BOUND}")
    with tempfile.TemporaryDirectory(prefix="conformance-cues-") as cues:
        proc = start_task(impl.name, "store_put_on_cue", (store.name, cues))
        try:
            wait_for_line(proc, b"attached", timeout=STARTUP_TIMEOUT, what="the putting process")
            n = 0
            for length in WAIT_LENGTHS:
                late = []
                for _ in range(TRIES):
                    oid = new_id()
                    _cue(cues, n, oid, time.monotonic() + length)
                    n += 1
                    put_at = store.get(oid, timeout=WAIT_TIMEOUT)
                    late.append(time.monotonic() - put_at)
                    if late[-1] < NOTICE_BOUND:
                        break
                assert min(late) < NOTICE_BOUND, (
                    f"a get that waited {length} s for another process's put returned "
                    f"{', '.join(f'{t:.3f}s' for t in late)} after the put started: it noticed the seal late "
                    f"(polling that backs off without a cap?)")
        finally:
            with open(os.path.join(cues, "stop"), "wb"):
                pass
            try:
                proc.wait(timeout=STARTUP_TIMEOUT)
            except Exception:  # noqa: BLE001 - never leave the child behind
                proc.kill()
                proc.wait()
