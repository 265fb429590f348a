"""The summary's figures of the reference beside Ray and Plasma (section 0's peer column and section 6).

They come from ``objstore-conformance bench --impl ray`` and ``--impl plasma`` (``ci/bench-summary`` runs each
in an environment of its own, into ``.asv/impl``): the peer through its adapter, the very one the
conformance suite validates, beside the reference in the same run, so each reference/peer ratio is taken
within one results file, never across two environments or runs.

Not a benchmark module: asv imports it while discovering benchmarks and finds nothing to run.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

#: The peers, each benchmarked beside the reference in an environment of its own.
PEERS = ("ray", "plasma")
#: Array sizes shown (Ray's object store is bounded at 200 MiB here, so 256 MiB is left out).
PEER_SIZES = ["1KiB", "1MiB", "64MiB"]
#: The timed operation of each row, from the shipped suite (``conformance/bench/objstore_bench_suite``): a put
#: (one per sample, deleted between), the first get of an object just put (one per sample), and the
#: steady-state get (batched, as the retired ``bench_peers.py`` timed its gets).
PEER_BENCHMARKS = {"put": "bench_store.Put.time_put", "first get": "bench_store.FirstGet.time_get",
                   "get": "bench_store.Get.time_get"}
REFERENCE = "reference"


def side_by_side(res: Any, name: str, peer: str, *params: str) -> Tuple[Optional[float], Optional[float]]:
    """The reference's and ``peer``'s figures of benchmark ``name`` (``params`` after the implementation)
    from the one results file ``res`` (``None``: no file, both ``None``)."""
    if res is None:
        return None, None
    return res.get(name, REFERENCE, *params), res.get(name, peer, *params)


def holds_peer(res: Any, peer: str) -> bool:
    """Whether results ``res`` hold the reference and ``peer`` side by side, for some benchmark and size."""
    return any(None not in side_by_side(res, name, peer, size)
               for name in PEER_BENCHMARKS.values() for size in PEER_SIZES)


def peer_ratios(fmt_time: Callable[[Optional[float]], str],
                ratio: Callable[[Optional[float], Optional[float]], str],
                table: Callable[[Sequence[str], Sequence[Sequence[str]]], str], *,
                sources: Mapping[str, Any], envs: Optional[Mapping[str, str]] = None) -> str:
    """Section 6: the reference store vs Ray and vs Plasma, put and get by size, each peer's columns from its
    results file in ``sources`` (peer -> results); ``envs`` (peer -> text) says where each came from."""
    envs = envs or {}
    rows = []
    for op, name in PEER_BENCHMARKS.items():
        for size in PEER_SIZES:  # a quick run's results print n/a at 64 MiB
            row = [op, size]
            for peer in PEERS:
                ref, other = side_by_side(sources.get(peer), name, peer, size)
                row += [fmt_time(ref), fmt_time(other), ratio(ref, other)]
            rows.append(row)
    header = ["op", "size"]
    for peer in PEERS:
        header += [f"reference ({peer} env)", peer, f"ref/{peer}"]
    notes = []
    for peer in PEERS:
        if sources.get(peer) is None:
            where = (f"n/a: no results file holds {peer} beside the reference (not installed, or the run "
                     f"skipped it: ci/bench-summary runs `objstore-conformance bench --impl {peer}` in "
                     f".venv-bench-{peer} unless --no-peers)")
        else:
            where = envs.get(peer, "")
        notes.append(f"  {peer}: {where}")
    return ("\n6. the reference store vs the peers through their adapters (objstore-conformance bench), same "
            "array, each peer beside the reference in one run of its own environment: put (one per sample, "
            "deleted between), first get (one per sample, of an object just put) and get (batched; zero-copy "
            "everywhere); a ratio < 1 means the reference is faster\n"
            + table(header, rows) + "\n" + "\n".join(notes))
