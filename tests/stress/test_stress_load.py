"""Load: N processes doing M mixed put/get/delete operations, every value checked by content hash.

Issue 7, "Load": report operations per second and zero mismatches. Each worker puts values derived from
fresh IDs of its own series, reads its own and the other workers' objects (any value can be checked from its
ID alone, see ``_stresslib.value_for``), and deletes some of its own. The store is large enough that nothing
is evicted, so at the end every object a worker put and did not delete must still be there, intact: an
object missing then is an object lost.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from _stresslib import TempStore, check_value, make_id, scaled, size_for, value_for

from reference.arena import verify
from reference.errors import GetTimeoutError, ObjectNotFoundError
from reference.store import ObjectStore

_CTX = multiprocessing.get_context("fork")


def _kinds(tag: str, w: int, ops: int) -> List[str]:
    """The kind of each operation of worker ``w``: one draw each from the worker's own stream."""
    rng = random.Random(f"{tag}/{w}/kinds")
    kinds = []
    for _ in range(ops):
        r = rng.random()
        kinds.append("put" if r < 0.35 else "get" if r < 0.75 else "delete")
    kinds[0] = "put"
    return kinds


def _plan(tag: str, w: int, nworkers: int, ops: int) -> List[Tuple[str, bytes]]:
    """Worker ``w``'s operations, fixed in advance: [(kind, object ID)]. Gets name objects some worker puts
    (its own live ones or any of another's, which may not be there yet or may be gone already)."""
    puts = [[make_id(f"{tag}/{v}", i) for i, k in enumerate(_kinds(tag, v, ops)) if k == "put"]
            for v in range(nworkers)]
    rng = random.Random(f"{tag}/{w}/ids")
    plan = []
    mine: List[bytes] = []
    for i, kind in enumerate(_kinds(tag, w, ops)):
        if kind == "put":
            oid = make_id(f"{tag}/{w}", i)
            mine.append(oid)
        elif kind == "delete" and mine:
            oid = mine.pop(rng.randrange(len(mine)))
        else:
            kind = "get"
            if rng.random() < 0.5 and mine:
                oid = mine[rng.randrange(len(mine))]
            else:
                theirs = puts[rng.randrange(nworkers)]
                oid = theirs[rng.randrange(len(theirs))]
        plan.append((kind, oid))
    return plan


def _worker(name: str, tag: str, w: int, nworkers: int, ops: int, conn: Any) -> None:
    counts: Counter = Counter()
    problems = []
    plan = _plan(tag, w, nworkers, ops)
    store = ObjectStore.attach(name)
    live = set()
    t0 = time.perf_counter()
    for kind, oid in plan:
        if kind == "put":
            store.put(value_for(oid), oid)
            live.add(oid)
            counts["puts"] += 1
        elif kind == "get":
            try:
                value = store.get(oid, timeout=0)
            except GetTimeoutError:
                counts["get_misses"] += 1  # another worker's object, not put yet or deleted already
                if oid in live:
                    problems.append(f"worker {w}: its own live object {oid.hex()} is missing")
                continue
            problem, nbytes = check_value(oid, value)
            del value
            counts["gets"] += 1
            counts["bytes_verified"] += nbytes
            if problem:
                problems.append(f"worker {w}: {problem}")
        else:
            live.discard(oid)
            store.delete(oid)
            counts["deletes"] += 1
            try:
                store.delete(oid)
            except ObjectNotFoundError:
                pass
            else:
                problems.append(f"worker {w}: deleted {oid.hex()} twice without an error")
    elapsed = time.perf_counter() - t0
    # Everything this worker put and did not delete must be there, intact.
    for oid in sorted(live):
        try:
            value = store.get(oid, timeout=0)
        except GetTimeoutError:
            problems.append(f"worker {w}: lost {oid.hex()} (put, never deleted, gone)")
            counts["lost"] += 1
            continue
        problem, nbytes = check_value(oid, value)
        del value
        counts["bytes_verified"] += nbytes
        if problem:
            problems.append(f"worker {w}: at the end, {problem}")
    store.close()
    conn.send((dict(counts), problems, elapsed, sorted(live)))
    conn.close()


def test_mixed_load_every_value_checked(figures: Dict[str, Any]) -> None:
    """N processes x M mixed put/get/delete: zero mismatches, zero lost objects, a sound table after."""
    nworkers = scaled(4, 8)
    ops = scaled(4000, 25000)
    tag = f"load-{random.getrandbits(32)}"
    # Live objects grow by ~10% of the operations; the mean value is ~40 KB. Nothing may be evicted.
    capacity = scaled(256 << 20, 2 << 30)
    with TempStore("load", capacity=capacity, max_objects=scaled(8192, 65536)) as store:
        pipes, procs = [], []
        t0 = time.perf_counter()
        for w in range(nworkers):
            parent, child = _CTX.Pipe(duplex=False)
            p = _CTX.Process(target=_worker, args=(store.name, tag, w, nworkers, ops, child))
            p.start()
            child.close()
            pipes.append(parent)
            procs.append(p)
        results = []
        for w, (conn, p) in enumerate(zip(pipes, procs)):
            if not conn.poll(scaled(120, 1800)):
                p.kill()
                pytest.fail(f"load worker {w} did not finish in time (hang?)")
            results.append(conn.recv())
            p.join(30)
        wall = time.perf_counter() - t0
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]

        total: Counter = Counter()
        problems = []
        live = set()
        for counts, worker_problems, _elapsed, worker_live in results:
            total.update(counts)
            problems.extend(worker_problems)
            live.update(worker_live)
        # The parent's view: exactly the live objects are in the store, each intact; the table is sound.
        present = {info.object_id.binary() for info in store.list()}
        for oid in live - present:
            problems.append(f"lost {oid.hex()}")
        for oid in present - live:
            problems.append(f"unexpected object {oid.hex()} (deleted, yet visible)")
        for oid in sorted(present & live):
            value = store.get(oid, timeout=0)
            problem, nbytes = check_value(oid, value)
            del value
            total["bytes_verified"] += nbytes
            if problem:
                problems.append(problem)
        stats = store.stats()
        problems.extend(verify(store.arena))
        n_ops = total["puts"] + total["gets"] + total["get_misses"] + total["deletes"]
        figures.update({
            "processes": nworkers,
            "operations": n_ops,
            "operations per second": n_ops / wall,
            "puts": total["puts"],
            "gets (found and checked)": total["gets"],
            "gets (absent)": total["get_misses"],
            "deletes": total["deletes"],
            "objects live at the end": len(present),
            "bytes verified": total["bytes_verified"],
            "evictions": stats.evictions,
            "mismatches": len(problems),
            "lost": len(live - present),
        })
        assert stats.evictions == 0, "the load test's store was too small: objects were evicted"
        assert not problems, "\n".join(problems[:20])
        assert n_ops == nworkers * ops
        assert total["puts"] and total["gets"] and total["deletes"]
        assert sum(size_for(oid) for oid in present) <= stats.used_bytes
