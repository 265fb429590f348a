"""Store clause ``store.stateful.model``: a Hypothesis state machine drives a store through random
operations and checks it against a plain ``dict`` model (zarr's ``StoreTests`` does the same for its
stores).
"""

from __future__ import annotations

import gc
import pickle
from typing import Any, Dict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce
from conformance.store_fixtures import new_id
from conformance.watchdog import WatchedStore

CAPACITY = 2 << 20
BIG = int(CAPACITY * 0.3) // 8


def machine_for(impl):
    """The state machine class for ``impl`` (public, so another project's tests can run it too)."""
    import numpy as np

    eviction = impl.claims("eviction")
    raw_buffers = impl.claims("raw_buffers")

    class StoreMachine(RuleBasedStateMachine):
        """Model: ``self.model`` maps each id that must be in the store to its value; ``self.held`` keeps
        values (with arrays, so they pin) that eviction must not take."""

        values = Bundle("values")
        arrays = Bundle("arrays")

        def __init__(self) -> None:
            super().__init__()
            self.store = WatchedStore(impl.store_factory.create(capacity=CAPACITY))  # a hang fails in seconds
            self.model: Dict[bytes, Any] = {}
            self.held: Dict[bytes, Any] = {}
            self.sizes: Dict[bytes, int] = {}  # the payload bytes of each object in the model

        def teardown(self) -> None:
            self.held.clear()
            impl.store_factory.destroy(self.store.inner)

        def _reconcile(self) -> None:
            # With eviction, an object may go whenever a put needs room, unless it is held.
            if eviction:
                for oid in list(self.model):
                    if not self.store.contains(oid):
                        assert oid not in self.held, f"held object {oid.hex()} was evicted"
                        del self.model[oid]
                        del self.sizes[oid]

        def _put(self, value, nbytes):
            try:
                oid = self.store.put(value)
            except impl.store_full_error:
                # A store may refuse a put that does not fit, but only when what it must keep (everything
                # without eviction, the held objects with it) and the new object fill half its capacity:
                # the rest is the slack any layout may need. The invariant checks nothing changed.
                kept = sum(self.sizes[oid] for oid in (self.held if eviction else self.model))
                assert kept + nbytes > CAPACITY // 2, (
                    f"a put of {nbytes} bytes was refused as full while the store must keep only {kept} "
                    f"of its {CAPACITY} bytes")
                return multiple()
            self.model[oid] = value
            self.sizes[oid] = nbytes
            self._reconcile()
            return oid

        @rule(target=values, value=strategies.native_values(max_leaves=5))
        def put(self, value):
            return self._put(value, len(pickle.dumps(value, protocol=5)))

        @rule(target=arrays, n=st.integers(0, 20_000), fill=st.floats(-1e6, 1e6))
        def put_array(self, n, fill):
            value = np.full(n, fill)
            return self._put(value, value.nbytes)

        @rule(oid=st.one_of(values, arrays))
        def get(self, oid):
            if oid in self.model:
                assert_same(self.model[oid], self.store.get(oid, timeout=0), check_identity=False)
            else:
                with pytest.raises(impl.timeout_error + impl.not_found_error):
                    self.store.get(oid, timeout=0)

        @rule(oid=st.one_of(values, arrays))
        def delete(self, oid):
            if oid in self.model:
                self.store.delete(oid)
                del self.model[oid]
                del self.sizes[oid]
                self.held.pop(oid, None)
            else:
                with pytest.raises(impl.not_found_error):
                    self.store.delete(oid)

        @rule(oid=arrays)
        def hold(self, oid):
            if oid in self.model:
                self.held[oid] = self.store.get(oid, timeout=0)

        @rule(oid=arrays)
        def release(self, oid):
            self.held.pop(oid, None)
            gc.collect()

        @precondition(lambda self: raw_buffers)
        @rule(size=st.integers(1, 4096))
        def create_then_abort(self, size):
            oid = new_id()
            buf = self.store.create(oid, size)
            buf[:1] = b"x"
            del buf
            assert not self.store.contains(oid)
            self.store.abort(oid)
            assert not self.store.contains(oid)

        @precondition(lambda self: eviction)
        @rule()
        def fill(self):
            # Keep at most one object held, then put something big enough to force evictions.
            for oid in list(self.held)[1:]:
                del self.held[oid]
            gc.collect()
            self._put(np.zeros(BIG), BIG * 8)

        @invariant()
        def contents_match(self):
            listed = set(self.store.list())
            assert listed == set(self.model), (
                f"list() has {len(listed - set(self.model))} unexpected and misses "
                f"{len(set(self.model) - listed)} ids")
            for oid in self.model:
                assert self.store.contains(oid)
            for oid, value in self.held.items():
                assert_same(self.model[oid], value, check_identity=False)

    return StoreMachine


@clause("store.stateful.model", "store")
def test_store_stateful_model(impl, conformance_settings):
    """Clause store.stateful.model: random sequences of put, get, delete, hold, release (with raw buffers,
    create/abort; with eviction, puts that force eviction) keep the store equal to a dict model: the same ids
    listed and contained, the same values got, missing ids raising the declared errors, held objects never
    evicted, and a put refused (with the declared store-full error) only when what the store must keep and
    the new object fill half its capacity."""
    reproduce(impl, "from conformance.test_store_stateful import machine_for",
              "from hypothesis.stateful import run_state_machine_as_test",
              "run_state_machine_as_test(machine_for(impl))  # the failing steps are printed above")
    # The suite's settings for this run (a fresh store per run of the machine: see StoreMachine.__init__).
    run_state_machine_as_test(machine_for(impl), settings=settings(
        conformance_settings, stateful_step_count=25,
        suppress_health_check=list(conformance_settings.suppress_health_check) + [HealthCheck.too_slow]))
