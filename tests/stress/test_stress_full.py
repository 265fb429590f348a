"""Full store under load: puts fail cleanly with the store-full error and readers are unaffected.

Issue 7, "Full store under load". Readers pin most of a small store (they hold views of large objects) and
keep re-hashing what they hold and reading more; writers put objects of mixed sizes as fast as they can, some
larger than anything that could be freed. Every failed put must raise ``ObjectStoreFullError`` and nothing
else, every other put must succeed and read back intact, the readers' views must never change, and the table
must be sound and hold no leftovers of the failed puts afterwards.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from typing import Any, Dict, List

import pytest
from _stresslib import TempStore, check_value, digest, make_id, scaled, value_for

from reference.arena import verify
from reference.errors import GetTimeoutError, ObjectStoreFullError
from reference.store import ObjectStore

_CTX = multiprocessing.get_context("fork")
MiB = 1 << 20


def _reader(name: str, pinned: List[bytes], stop: Any, conn: Any) -> None:
    counts: Counter = Counter()
    problems: List[str] = []
    store = ObjectStore.attach(name)
    held = []
    for oid in pinned:
        value = store.get(oid, timeout=0)
        held.append((oid, value, digest(value["payload"])))
    rng = random.Random()
    while not stop.is_set():  # until every writer is done: the pins hold the whole time
        for oid, value, first in held:  # views already held must never change
            if digest(value["payload"]) != first:
                problems.append(f"reader: the view of {oid.hex()} changed while held")
            counts["bytes verified"] += value["n"]
            counts["held views re-checked"] += 1
        infos = store.list()  # and reading whatever else is there keeps working
        for info in rng.sample(infos, min(4, len(infos))):
            oid = info.object_id.binary()
            try:
                value = store.get(oid, timeout=0)
            except GetTimeoutError:
                continue  # evicted since list()
            problem, nbytes = check_value(oid, value, value["n"])
            del value
            counts["gets"] += 1
            counts["bytes verified"] += nbytes
            if problem:
                problems.append(f"reader: {problem}")
    conn.send((dict(counts), problems))


def _writer(name: str, tag: str, seconds: float, conn: Any) -> None:
    counts: Counter = Counter()
    problems: List[str] = []
    store = ObjectStore.attach(name)
    rng = random.Random(tag)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        oid = make_id(tag, i)
        # 8 MiB never fits beside the readers' 9 MiB of pins; 6 MiB fits only when nothing else is held
        size = rng.choice((64 * 1024, 512 * 1024, MiB, 3 * MiB, 6 * MiB, 8 * MiB))
        try:
            store.put(value_for(oid, size), oid)
            counts["puts that fit"] += 1
        except ObjectStoreFullError:
            counts["puts refused: store full"] += 1
            if store.contains(oid):
                problems.append(f"writer: a refused put left {oid.hex()} visible")
        except Exception as exc:  # noqa: BLE001 - anything but store-full is a failure to report
            problems.append(f"writer: put of {size} bytes raised {type(exc).__name__}: {exc}")
        i += 1
    conn.send((dict(counts), problems))


def test_full_store_refuses_puts_cleanly_and_readers_are_unaffected(figures: Dict[str, Any]) -> None:
    """Under load on a full store: only ObjectStoreFullError, readers' views unchanged, no leftovers."""
    seconds = scaled(3.0, 30.0)
    nreaders, nwriters = scaled((2, 2), (4, 4))
    with TempStore("full", capacity=16 * MiB, max_objects=256) as store:
        # The readers will pin 3 x 3 MiB: what is left holds small puts, a 6 MiB one at best, never 8 MiB.
        pinned = [make_id("full-pinned", i) for i in range(3)]
        for oid in pinned:
            store.put(value_for(oid, 3 * MiB), oid)
        procs, pipes = [], []
        stop = _CTX.Event()
        for _ in range(nreaders):
            parent, child = _CTX.Pipe(duplex=False)
            procs.append(_CTX.Process(target=_reader, args=(store.name, pinned, stop, child)))
            pipes.append(parent)
        tag = f"full-{random.getrandbits(32)}"
        for w in range(nwriters):
            parent, child = _CTX.Pipe(duplex=False)
            procs.append(_CTX.Process(target=_writer, args=(store.name, f"{tag}/{w}", seconds, child)))
            pipes.append(parent)
        for p in procs[:nreaders]:
            p.start()
        time.sleep(0.5)  # readers hold their views before the writers start
        for p in procs[nreaders:]:
            p.start()
        counts: Counter = Counter()
        problems: List[str] = []
        writers_first = list(zip(procs, pipes))[nreaders:] + list(zip(procs, pipes))[:nreaders]
        for k, (p, conn) in enumerate(writers_first):
            if k == nwriters:
                stop.set()  # every writer is done: the readers may let go
            if not conn.poll(seconds + 60):
                p.kill()
                pytest.fail("a full-store worker hung")
            c, probs = conn.recv()
            counts.update(c)
            problems.extend(probs)
            p.join(10)
        stats = store.stats()
        problems.extend(verify(store.arena))
        if stats.num_unsealed or stats.pinned_objects:
            problems.append(f"after the run: {stats.num_unsealed} unsealed, {stats.pinned_objects} pinned")
        if stats.used_bytes != stats.sealed_bytes:
            problems.append(f"after the run: used {stats.used_bytes} != sealed {stats.sealed_bytes}")
        for oid in pinned:  # the readers' objects were pinned the whole time: never evicted
            problem, _ = check_value(oid, store.get(oid, timeout=0), 3 * MiB)
            if problem:
                problems.append(problem)
        figures.update({"processes": nreaders + nwriters, "seconds": seconds})
        figures.update(counts)
        figures["evictions"] = stats.evictions
        figures["problems"] = len(problems)
        assert not problems, "\n".join(problems[:30])
        assert counts["puts refused: store full"] > 0, "the store never filled: the test tested nothing"
        assert counts["puts that fit"] > 0
