"""The store against a model (a dict), with its internal invariants checked after every step (issue 3).

Random sequences of put / get-and-hold / release / delete / create-abort on a small store (so eviction,
tombstones and index rebuilds all happen) must agree with the model: a present object has its value, a
held view never changes, a deleted object is gone, and the arena's bookkeeping adds up.
"""

from __future__ import annotations

import numpy as np
import pytest
from _names import unique_name
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reference import ObjectID, ObjectStore, ObjectStoreFullError
from reference.arena import verify
from reference.arena.layout import H_DIRTY, H_NFREE, H_NSTACK, H_USED, SEALED, ZOMBIE


class StoreModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = ObjectStore.create(unique_name(), capacity=64 << 10, max_objects=8)
        self.model = {}  # oid -> expected first element and length
        self.held = []  # (expected, view)

    def teardown(self) -> None:
        self.held.clear()
        self.store.destroy()

    @rule(n=st.integers(0, 3000), fill=st.integers(0, 100))
    def put(self, n, fill):
        try:
            oid = self.store.put(np.full(n, fill, dtype=np.uint8))
        except ObjectStoreFullError as exc:
            assert "does not fit" in str(exc) or "larger than" in str(exc)
            return
        self.model[oid] = (fill, n)

    @rule(data=st.data())
    def get_and_hold(self, data):
        present = [o for o in self.model if self.store.contains(o)]
        if not present:
            return
        oid = data.draw(st.sampled_from(present))
        v = self.store.get(oid, timeout=0)
        fill, n = self.model[oid]
        assert v.shape == (n,) and (v == fill).all()
        self.held.append(((fill, n), v))

    @rule(data=st.data())
    def release(self, data):
        if self.held:
            self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))

    @rule(data=st.data())
    def delete(self, data):
        if not self.model:
            return
        # The model's insertion order, not sorted(): ids are random, so a sorted order would differ when
        # Hypothesis replays the same steps, and the replay would draw a different object.
        oid = data.draw(st.sampled_from(list(self.model)))
        if self.store.contains(oid):
            self.store.delete(oid)
        del self.model[oid]
        assert not self.store.contains(oid)

    @rule(n=st.integers(0, 5000))
    def create_abort(self, n):
        oid = ObjectID.from_random()
        try:
            self.store.create(oid, n)
        except ObjectStoreFullError:
            return
        assert not self.store.contains(oid)
        self.store.abort(oid)

    @rule(what=st.sampled_from(["free list", "stack", "index", "pins", "bytes"]))
    def crash_inside_an_update(self, what):
        """Scramble one derived structure and leave the mark a holder that died mid-update leaves; the
        next lock holder must repair it (the invariants below take the lock)."""
        arena = self.store.arena
        with arena:
            lay = arena.lay
            if what == "free list":
                arena.set_u32(H_NFREE, 0)
            elif what == "stack":
                arena.set_u32(H_NSTACK, 0)
            elif what == "index":
                index = np.frombuffer(arena.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
                index[:] = 0
                del index
            elif what == "pins":  # pins on records that are free or being created: none can be
                state = arena.used_entries()["state"]
                arena.ledger[arena.ensure_client(), :len(state)][(state != SEALED) & (state != ZOMBIE)] = 7
                del state
            else:
                arena.set_u64(H_USED, 12345)
        arena.set_u32(H_DIRTY, 999_999)

    @invariant()
    def agrees_with_model(self):
        for (fill, n), v in self.held:
            assert v.shape == (n,) and (v == fill).all(), "a held view changed"
        for info in self.store.list():
            assert info.object_id in self.model, "an object the model deleted is visible"
        assert verify(self.store.arena) == []


# max_examples comes from the Hypothesis profile (conftest.py): 40 in CI, 2000 nightly.
StoreModel.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestStoreModel = StoreModel.TestCase


@pytest.mark.parametrize("damage, expected", [
    ("bytes", "bytes used"),
    ("free list", "blocks end at"),
    ("stack", "free records"),
    ("index", "index"),
    ("pins", "which are free or being created"),
])
def test_verify_names_each_kind_of_damage(name, damage, expected):
    """reference.arena.verify finds a damaged table (here without the mark that would make the lock's next
    holder repair it) and says what is wrong; a sound table gives no problem."""
    store = ObjectStore.create(name, capacity=64 << 10, max_objects=8)
    try:
        held = store.get_buffer(store.put(b"x" * 1000))
        store.put(b"y" * 3000)
        arena = store.arena
        assert verify(arena) == []
        with arena:
            if damage == "bytes":
                arena.set_u64(H_USED, 12345)
            elif damage == "free list":
                arena.set_u32(H_NFREE, 0)
            elif damage == "stack":
                arena.set_u32(H_NSTACK, arena.get_u32(H_NSTACK) - 1)
            elif damage == "index":
                index = np.frombuffer(arena.mm, dtype="<u4", count=arena.lay.index_size, offset=arena.lay.index)
                index[:] = 0
                del index
            else:  # a pin on an object being created (nothing can pin it before its seal)
                unsealed = ObjectID.from_random()
                store.create(unsealed, 10).release()
                arena.ledger[arena.ensure_client(), arena.creating[unsealed.binary()][0]] += 1
        problems = verify(arena)
        assert problems and any(expected in p for p in problems), problems
        del held
    finally:
        store.destroy()
