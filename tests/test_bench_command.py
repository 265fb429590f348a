"""``objstore-conformance bench`` without timing anything: what an implementation's claims let run, asv
results read back, the ratios, the ``--compare`` gate's decision and the report's performance section, on
fabricated asv results files (asv 0.6's layout), so nothing here depends on this machine's speed.

The one real run of the command is in ``test_bench_run.py`` (tox's ``bench-check``, where asv is installed).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from report_checks import assert_valid_report

from conformance.adapters import reference_implementation
from conformance.bench import asvrun, command
from conformance.bench.gate import compare, parse_threshold
from conformance.bench.plan import skip_reason, skipped
from conformance.bench.ratios import format_table, rows
from conformance.bench.results import Results, decode_param
from conformance.registry import load_implementation
from conformance.report import performance
from conformance.report.export import to_json, write
from conformance.report.render import html_page, markdown
from conformance.report.results import ClauseResult, ImplResult, Report

SPEC = "shared_memory"
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25",
           "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]

#: benchmark -> (parameter lists, {combination: median}); a missing combination is NaN (asv: skipped).
Bench = Dict[str, Tuple[List[List[str]], Dict[Tuple[str, ...], float]]]


def _write_results(path: Path, benches: Bench, *, spread: float = 0.02, commit: str = "ab" * 20,
                   machine: str = "box--shared_memory--quick") -> Path:
    """An asv results file with ``benches``; quartiles at median -/+ ``spread`` (relative)."""
    import itertools

    results = {}
    for name, (lists, values) in benches.items():
        combos = list(itertools.product(*lists))
        medians = [values.get(c, math.nan) for c in combos]
        row: List[object] = [None] * len(COLUMNS)
        row[0] = medians
        row[1] = [[repr(v) for v in values_] for values_ in lists]
        row[3] = 1_000
        row[7] = [m * (1 - spread) for m in medians]
        row[8] = [m * (1 + spread) for m in medians]
        results[name] = row
    data = {"commit_hash": commit, "env_name": "existing-py", "date": 0, "python": "3.11", "requirements": {},
            "env_vars": {}, "params": {"machine": machine, "python": "3.11"}, "result_columns": COLUMNS,
            "results": results, "durations": {}, "version": 2}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))  # json writes NaN as asv does
    return path


def _put_run(path: Path, impl: Dict[str, float], ref: Dict[str, float], **kwargs: object) -> Path:
    """A run of Put (by value), Memcpy and Dumps with the given put medians of the implementation and the
    reference."""
    values = ["int", "1MiB"]
    put = {(SPEC, v): t for v, t in impl.items()}
    put.update({("reference", v): t for v, t in ref.items()})
    benches: Bench = {
        "bench_store.Put.time_put": ([["reference", SPEC], values], put),
        "bench_limits.Memcpy.time_copy": ([["1MiB"], ["warm", "cold"], ["np.copyto", "memoryview"]],
                                          {("1MiB", "warm", "np.copyto"): 50e-6, ("1MiB", "warm", "memoryview"): 40e-6,
                                           ("1MiB", "cold", "np.copyto"): 400e-6}),
        "bench_serializer.Dumps.time_dumps": ([["reference", SPEC], ["3", "5"], ["dict-100"]],
                                              {("reference", "5", "dict-100"): 10e-6, (SPEC, "5", "dict-100"): 30e-6}),
        "bench_limits.PickleBound.time_dumps": ([["dict-100"]], {("dict-100",): 15e-6}),
    }
    return _write_results(path, benches, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# What runs: only what the implementation claims.

def test_a_serializer_is_timed_only_at_its_claimed_protocols_and_payloads() -> None:
    dill = load_implementation("pickle4")  # protocols (4,), no by-value functions
    assert skip_reason(dill, "Dumps", protocol="4", payload="dict-100") is None
    assert "protocol 5 not claimed" in str(skip_reason(dill, "Dumps", protocol="5", payload="dict-100"))
    assert "by_value_functions" in str(skip_reason(dill, "Loads", protocol="4", payload="closure"))


def test_store_benchmarks_need_the_store_and_other_process_needs_multiprocess() -> None:
    ser_only = load_implementation("cloudpickle")
    assert "capability 'store' not claimed" in str(skip_reason(ser_only, "Put", payload="int"))
    shm = load_implementation("shared_memory")
    assert skip_reason(shm, "Put", payload="1MiB") is None
    no_mp = reference_implementation()
    object.__setattr__(no_mp, "capabilities", no_mp.capabilities - {"multiprocess"})
    assert "'multiprocess' not claimed" in str(skip_reason(no_mp, "GetOtherProcess", payload="1KiB"))
    with pytest.raises(ValueError, match="unknown benchmark"):
        skip_reason(shm, "Compress")


def test_skips_are_grouped_with_their_reason() -> None:
    out = skipped(load_implementation("cloudpickle"), [("Put", {"payload": "int"}), ("Put", {"payload": "1MiB"}),
                                                       ("Dumps", {"protocol": "5", "payload": None})])
    assert out == [("Put [int, 1MiB]", "no store: capability 'store' not claimed")]


# ---------------------------------------------------------------------------------------------------------
# Results and ratios, from one run.

def test_results_decode_params_and_leave_out_skipped(tmp_path: Path) -> None:
    res = Results(_put_run(tmp_path / "r.json", {"int": 5e-6}, {"int": 10e-6, "1MiB": 100e-6}))
    assert decode_param("'1MiB'") == "1MiB" and decode_param("not a literal(") == "not a literal("
    assert res.get("bench_store.Put.time_put", SPEC, "int") == 5e-6
    assert res.get("bench_store.Put.time_put", SPEC, "1MiB") is None  # NaN: skipped
    entry = res.entry("bench_store.Put.time_put", "reference", "1MiB")
    assert entry is not None and entry.q25 == pytest.approx(98e-6) and entry.q75 == pytest.approx(102e-6)
    with pytest.raises(KeyError, match="not an asv results file"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"result_columns": ["x"], "results": {}}))
        Results(bad)


def test_ratios_to_the_reference_and_to_the_limits(tmp_path: Path) -> None:
    res = Results(_put_run(tmp_path / "r.json", {"int": 5e-6, "1MiB": 120e-6}, {"int": 10e-6, "1MiB": 100e-6}))
    table = {(r.benchmark.split(".")[1], tuple(r.params)): r for r in rows(res, SPEC)}
    put = table[("Put", ("1MiB",))]
    assert put.vs_reference == pytest.approx(1.2) and put.limit == 40e-6 and put.vs_limit == pytest.approx(3.0)
    small = table[("Put", ("int",))]
    assert small.vs_reference == pytest.approx(0.5) and small.limit_name is None  # no copy to compare a small put with
    dumps = table[("Dumps", ("5", "dict-100"))]
    assert dumps.vs_reference == pytest.approx(3.0) and dumps.vs_limit == pytest.approx(2.0)
    text = format_table(rows(res, SPEC), SPEC)
    assert "memcpy (warm) 40 us" in text and "3.00x" in text and "1.20x" in text


# ---------------------------------------------------------------------------------------------------------
# The gate's decision.

@pytest.mark.parametrize("text,value", [("1.25", 1.25), ("25%", 1.25), (" 10% ", 1.10)])
def test_threshold_takes_a_factor_or_a_percentage(text: str, value: float) -> None:
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["1", "0.9", "-5%", "fast", ""])
def test_threshold_refuses_what_cannot_be_a_slowdown(text: str) -> None:
    with pytest.raises(ValueError, match="--threshold"):
        parse_threshold(text)


def _verdict(tmp_path: Path, impl_new: Dict[str, float], ref_new: Dict[str, float], *, spread: float = 0.02,
             normalize: bool = True, threshold: float = 1.10) -> Tuple[bool, List[str]]:
    base = Results(_put_run(tmp_path / "base.json", {"int": 10e-6, "1MiB": 100e-6}, {"int": 10e-6, "1MiB": 100e-6},
                            spread=spread))
    new = Results(_put_run(tmp_path / "new.json", impl_new, ref_new, spread=spread))
    verdict = compare(base, new, SPEC, threshold=threshold, normalize=normalize)
    return verdict.failed, ["/".join(c.params) for c in verdict.regressions]


def test_gate_fails_on_a_slowdown_past_the_threshold(tmp_path: Path) -> None:
    same_ref = {"int": 10e-6, "1MiB": 100e-6}
    assert _verdict(tmp_path, {"int": 12.5e-6, "1MiB": 100e-6}, same_ref) == (True, ["int"])
    assert _verdict(tmp_path, {"int": 10.5e-6, "1MiB": 104e-6}, same_ref) == (False, [])


def test_gate_discounts_a_machine_that_is_slower_for_everyone(tmp_path: Path) -> None:
    """Everything 2x slower (a busier machine): the reference beside it says so, and nothing regressed; without
    normalization it would."""
    doubled = {"int": 20e-6, "1MiB": 200e-6}
    assert _verdict(tmp_path, doubled, doubled) == (False, [])
    assert _verdict(tmp_path, doubled, doubled, normalize=False)[0]
    assert _verdict(tmp_path, {"int": 25e-6, "1MiB": 200e-6}, doubled) == (True, ["int"])


def test_gate_needs_the_distributions_apart(tmp_path: Path) -> None:
    """A median 1.2x higher whose quartiles overlap the base's (+-15 %) is noise, not a regression."""
    same_ref = {"int": 10e-6, "1MiB": 100e-6}
    assert _verdict(tmp_path, {"int": 12e-6, "1MiB": 100e-6}, same_ref, spread=0.15) == (False, [])
    assert _verdict(tmp_path, {"int": 14e-6, "1MiB": 100e-6}, same_ref, spread=0.15) == (True, ["int"])


def test_gate_compares_only_what_both_runs_hold(tmp_path: Path) -> None:
    base = Results(_put_run(tmp_path / "base.json", {"int": 10e-6}, {"int": 10e-6}))
    new = Results(_put_run(tmp_path / "new.json", {"1MiB": 900e-6}, {"1MiB": 100e-6}))
    changes = compare(base, new, SPEC, threshold=1.1).changes
    assert [c.benchmark for c in changes] == ["bench_serializer.Dumps.time_dumps"]  # the one both hold


def _versus_run(path: Path, put_ratio: float, put_median: float) -> Path:
    """A run with the interleaved ratio of a put (``bench_versus``) and its median (``bench_store.Put``)."""
    return _write_results(path, {
        "bench_versus.VersusReference.track_ratio": ([["reference", SPEC], ["put:1MiB", "get:1MiB"]],
                                                     {(SPEC, "put:1MiB"): put_ratio, (SPEC, "get:1MiB"): 1.0}),
        "bench_store.Put.time_put": ([["reference", SPEC], ["1MiB"]],
                                     {("reference", "1MiB"): 100e-6, (SPEC, "1MiB"): put_median}),
    })


def test_gate_reads_the_interleaved_ratios_when_both_runs_hold_them(tmp_path: Path) -> None:
    """The interleaved ratio decides: 1.05 -> 1.35 (1.29x) regresses whatever the medians say; 1.05 -> 1.10
    (1.05x) does not, though the put's median moved 1.5x (noise a second apart, on a busy machine)."""
    base = Results(_versus_run(tmp_path / "base.json", 1.05, 100e-6))
    slowed = compare(base, Results(_versus_run(tmp_path / "slow.json", 1.35, 100e-6)), SPEC, threshold=1.10)
    assert slowed.failed and [(c.benchmark.split(".")[1], c.params) for c in slowed.regressions] == [
        ("VersusReference", ["put:1MiB"])]
    noisy = compare(base, Results(_versus_run(tmp_path / "noisy.json", 1.10, 150e-6)), SPEC, threshold=1.10)
    assert not noisy.failed
    info = [c for c in noisy.changes if not c.gated]
    assert info and "information: the interleaved ratios decide" in info[0].describe()


# ---------------------------------------------------------------------------------------------------------
# The command's usage errors: one line, exit status 2, nothing run.

def _args(**kw: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    argv: List[str] = []
    for key, value in kw.items():
        for v in (value if isinstance(value, list) else [value]):
            argv += [f"--{key.replace('_', '-')}", str(v)]
    return parser.parse_args(argv)


@pytest.mark.parametrize("kw,message", [
    ({"impl": SPEC, "threshold": "0.8"}, "--threshold must be above 1"),
    ({"impl": "no_such_module:impl"}, "there is no module 'no_such_module'"),
    ({"impl": [SPEC, "reference"], "compare": "HEAD"}, "one implementation at a time"),
])
def test_usage_errors_exit_2_before_running(kw: Dict[str, object], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(_args(**kw), echo=lambda line: pytest.fail(f"printed {line!r}")) == command.EXIT_USAGE
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------
# The report's performance section.

def _bench_dir(tmp_path: Path) -> Path:
    workdir = tmp_path / ".objstore-bench"
    machine = "box--shared_memory--quick"
    results = _put_run(workdir / "results" / machine / "abababab-existing-py.json", {"int": 5e-6, "1MiB": 120e-6},
                       {"int": 10e-6, "1MiB": 100e-6})
    asvrun._record(workdir, asvrun.Run(SPEC, machine, "ab" * 20, results, True))
    asvrun.record_skips(workdir, SPEC, [{"what": "GetOtherProcess [1KiB]", "reason": "capability 'x' not claimed"}])
    return workdir


def _report(perf: Optional[performance.Performance]) -> Report:
    impl = ImplResult(name=SPEC, clauses={"store.put_get.roundtrip": ClauseResult(status="pass")}, seconds=1.0,
                      exitstatus=0)
    return Report(impls=[impl], clause_ids=["store.put_get.roundtrip"], summaries={}, seconds=1.0,
                  settings={"max_examples": None, "profile": "ci", "python": "3.11"}, performance=perf)


def test_report_holds_a_table_per_implementation_with_its_ratios(tmp_path: Path) -> None:
    perf = performance.load(_bench_dir(tmp_path))
    assert perf is not None
    paths = write(_report(perf), str(tmp_path / "out"))
    data = assert_valid_report(tmp_path / "out" / "report.json")
    (impl,) = data["performance"]["implementations"]
    put = next(r for r in impl["rows"] if r["benchmark"] == "bench_store.Put.time_put" and r["params"] == ["1MiB"])
    assert put["vs_reference"] == pytest.approx(1.2) and put["vs_limit"] == pytest.approx(3.0)
    assert impl["skipped"][0]["what"] == "GetOtherProcess [1KiB]"
    md = paths[0].read_text()
    assert "## Performance" in md
    assert "| store put | 1MiB | 120 us | 100 us | 1.20x | memcpy (warm): 40 us | 3.00x |" in md


def test_report_charts_are_inline_svg_that_load_nothing(tmp_path: Path) -> None:
    page = html_page(_report(performance.load(_bench_dir(tmp_path))))
    assert page.count("<svg") == 2 and "vs the reference" in page and "vs the limits" in page
    without_namespace = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http" not in without_namespace and "<script" not in page and "src=" not in page


def test_chart_bars_lie_on_each_side_of_1x() -> None:
    svg = performance.svg_chart(["faster", "slower", "missing"], [0.5, 4.0, None], title="t", against="x")
    rects = [part for part in svg.split("<rect ")[1:]]
    assert len(rects) == 2 and "#27ae60" in rects[0] and "#c0392b" in rects[1] and "n/a" in svg
    assert "0.50x" in svg and "4.00x" in svg


def test_report_without_benchmarks_has_no_performance(tmp_path: Path) -> None:
    assert performance.load(tmp_path / "nothing-here") is None
    data = to_json(_report(None))
    assert data["performance"] is None and "Performance" not in markdown(_report(None))
    assert_valid_report(data)


def test_report_bench_without_a_run_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.__main__ import main

    assert main(["report", "--impl", "reference", "--bench", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no bench-index.json there; run `objstore-conformance bench" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_the_gate_measurements_slowed_implementation_loads_and_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tests/bench_slow_put.py`` (the 25 %-slower put of the gate's catch-rate runs) is a valid adapter whose
    store round-trips; its wait is ``OBJSTORE_BENCH_SLOW_PUT`` times the put's own time."""
    import bench_slow_put

    monkeypatch.setenv("OBJSTORE_BENCH_SLOW_PUT", "0.25")
    impl = load_implementation("bench_slow_put:implementation")
    made = impl.store_factory.create(capacity=1 << 22)  # type: ignore[union-attr]
    try:
        oid = made.put({"a": 1})
        assert made.get(oid) == {"a": 1} and made.contains(oid) and made._extra == 0.25
        assert isinstance(made, bench_slow_put._SlowPutStore)
    finally:
        impl.store_factory.destroy(made)  # type: ignore[union-attr]
