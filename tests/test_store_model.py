"""The store against a model (a dict), with its internal invariants checked after every step (issue 3).

Random sequences of put / get-and-hold / release / delete / create-abort on a small store (so eviction,
tombstones and index rebuilds all happen) must agree with the model: a present object has its value, a
held view never changes, a deleted object is gone, and the arena's bookkeeping adds up.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reference import ObjectID, ObjectStore, ObjectStoreFullError
from reference.arena import _H_DIRTY, _H_IUSED, _H_NSTACK, _TOMB, CREATED, FREE, SEALED, ZOMBIE


def check_arena(arena) -> None:
    """Assert every structural invariant of the arena (call with no table update in flight)."""
    lay = arena.lay
    with arena:
        k = arena.get_u32(56)
        fo = arena.free_off[:k].astype(np.int64)
        fl = arena.free_len[:k].astype(np.int64)
        assert (fl > 0).all(), "empty free block"
        assert (np.diff(fo) > 0).all(), "free list not sorted"
        assert (fo[:-1] + fl[:-1] < fo[1:]).all(), "free blocks overlap or are not coalesced"
        ent = arena.entries
        state = ent["state"]
        used = np.flatnonzero(state != FREE)
        spans = sorted([(int(ent["offset"][e]), int(ent["alloc"][e])) for e in used]
                       + list(zip(fo.tolist(), fl.tolist())))
        pos = lay.data
        for off, n in spans:
            assert off == pos, f"gap or overlap at {off} (expected {pos})"
            assert off % 64 == 0
            pos = off + n
        assert pos == lay.data + lay.capacity, "the data region is not exactly covered"
        assert arena.get_u64(80) == int(ent["alloc"][used].sum())
        assert arena.get_u32(_H_NSTACK) + len(used) == lay.max_objects
        assert arena.get_u32(_H_IUSED) * 4 < 3 * lay.index_size, "the index has too few empty slots"
        stack = np.frombuffer(arena.mm, dtype="<u4", count=arena.get_u32(_H_NSTACK), offset=lay.stack)
        assert sorted(stack.tolist()) == np.flatnonzero(state == FREE).tolist(), "stack != free records"
        del stack
        assert len(used) == 0 or used.max() < len(arena.used_entries()), "a record beyond the high-water mark"
        index = np.frombuffer(arena.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
        indexed = sorted((index[(index != 0) & (index != _TOMB)] - 1).tolist())
        del index
        live = np.flatnonzero((state == CREATED) | (state == SEALED)).tolist()
        assert indexed == live, "index and live records differ"
        assert (ent["pins"] == arena.ledger.sum(axis=0)).all(), "pins disagree with the ledger"
        assert not ((state == ZOMBIE) & (ent["pins"] == 0)).any(), "an unpinned zombie was not freed"


class StoreModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = ObjectStore.create(f"test-{os.getpid()}-{uuid.uuid4().hex[:12]}", capacity=64 << 10,
                                        max_objects=8)
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
        arena = self.store._arena
        with arena:
            lay = arena.lay
            if what == "free list":
                arena.set_u32(56, 0)
            elif what == "stack":
                arena.set_u32(_H_NSTACK, 0)
            elif what == "index":
                index = np.frombuffer(arena.mm, dtype="<u4", count=lay.index_size, offset=lay.index)
                index[:] = 0
                del index
            elif what == "pins":
                arena.used_entries()["pins"] = 7
            else:
                arena.set_u64(80, 12345)
        arena.set_u32(_H_DIRTY, 999_999)

    @invariant()
    def agrees_with_model(self):
        for (fill, n), v in self.held:
            assert v.shape == (n,) and (v == fill).all(), "a held view changed"
        for info in self.store.list():
            assert info.object_id in self.model, "an object the model deleted is visible"
        check_arena(self.store._arena)


# max_examples comes from the Hypothesis profile (conftest.py): 40 in CI, 2000 nightly.
StoreModel.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestStoreModel = StoreModel.TestCase
