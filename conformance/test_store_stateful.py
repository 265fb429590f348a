"""Store clause ``store.stateful.model``: a Hypothesis state machine drives a store through random
operations and checks it against a plain ``dict`` model (zarr's ``StoreTests`` does the same for its
stores).
"""

from __future__ import annotations

import gc
from typing import Any, Dict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from conformance import strategies
from conformance.clauses import clause
from conformance.compare import assert_same
from conformance.harness import reproduce
from conformance.store_fixtures import new_id

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
            self.store = impl.store_factory.create(capacity=CAPACITY)
            self.model: Dict[bytes, Any] = {}
            self.held: Dict[bytes, Any] = {}

        def teardown(self) -> None:
            self.held.clear()
            impl.store_factory.destroy(self.store)

        def _reconcile(self) -> None:
            # With eviction, an object may go whenever a put needs room, unless it is held.
            if eviction:
                for oid in list(self.model):
                    if not self.store.contains(oid):
                        assert oid not in self.held, f"held object {oid.hex()} was evicted"
                        del self.model[oid]

        @rule(target=values, value=strategies.native_values(max_leaves=5))
        def put(self, value):
            oid = self.store.put(value)
            self.model[oid] = value
            self._reconcile()
            return oid

        @rule(target=arrays, n=st.integers(0, 20_000), fill=st.floats(-1e6, 1e6))
        def put_array(self, n, fill):
            value = np.full(n, fill)
            oid = self.store.put(value)
            self.model[oid] = value
            self._reconcile()
            return oid

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
            oid = self.store.put(np.zeros(BIG))
            self.model[oid] = np.zeros(BIG)
            self._reconcile()

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
    create/abort; with eviction, puts that force eviction) keep the store equal to a dict model: the same ids listed and
    contained, the same values got, missing ids raising the declared errors, held objects never evicted."""
    reproduce(impl, "from conformance.test_store_stateful import machine_for",
              "from hypothesis.stateful import run_state_machine_as_test",
              "run_state_machine_as_test(machine_for(impl))  # the failing steps are printed above")
    # The suite's settings for this run (a fresh store per run of the machine: see StoreMachine.__init__).
    run_state_machine_as_test(machine_for(impl), settings=settings(
        conformance_settings, stateful_step_count=25,
        suppress_health_check=list(conformance_settings.suppress_health_check) + [HealthCheck.too_slow]))
