"""The asv suite itself: every benchmark runs, the leak benchmarks detect a leak, and ``asv check`` passes.

These run on the current interpreter only and take seconds: the benchmarks are called directly (setup,
method, teardown) with small parameters, as asv would call them, so a broken benchmark fails CI without
an asv run on every interpreter.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # benchmarks/ is not part of the installed distribution

# The shipped suite (objstore-conformance bench) is checked here too, with one implementation beside the
# reference: its modules read the variable when they are imported.
os.environ.setdefault("OBJSTORE_BENCH_IMPL", "shared_memory")

import benchmarks  # noqa: E402
from benchmarks import bench_leaks  # noqa: E402
from benchmarks.common import MiB, size_bytes  # noqa: E402
from conformance.bench import objstore_bench_suite  # noqa: E402

BENCHMARK_PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")
#: Parameter values above this size are left out here (asv runs them; a test need not).
MAX_TEST_BYTES = MiB


def _too_big(value: Any) -> bool:
    text = str(value)
    for token in text.replace("-", " ").split():
        try:
            if size_bytes(token) > MAX_TEST_BYTES:
                return True
        except ValueError:
            continue
    return False


def _modules() -> List[Any]:
    modules = []
    for package in (benchmarks, objstore_bench_suite):
        names = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_")]
        modules += [importlib.import_module(f"{package.__name__}.{name}") for name in sorted(names)]
    return modules


def _benchmarks() -> Iterator[Tuple[str, type, str]]:
    for module in _modules():
        for cls_name, cls in sorted(vars(module).items()):
            if not inspect.isclass(cls) or cls.__module__ != module.__name__ or cls_name.startswith("_"):
                continue
            for attr in sorted(dir(cls)):
                if attr.startswith(BENCHMARK_PREFIXES):
                    suite = "shipped." if module.__name__.startswith("conformance.") else ""
                    yield f"{suite}{module.__name__.split('.')[-1]}.{cls_name}.{attr}", cls, attr


def _param_sets(cls: type) -> List[Tuple[Any, ...]]:
    """Every parameter value at least once: vary one parameter at a time around the first values."""
    params = getattr(cls, "params", None)
    if params is None:
        return [()]
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]
    lists = [[v for v in values if not _too_big(v)] for values in params]
    base = tuple(values[0] for values in lists)
    combos = [base]
    for i, values in enumerate(lists):
        for value in values[1:]:
            combos.append(base[:i] + (value,) + base[i + 1:])
    return combos


ALL = list(_benchmarks())


def test_the_suite_is_found() -> None:
    kinds = {attr.split("_")[0] for _, _, attr in ALL}
    assert {"time", "peakmem", "track"} <= kinds, kinds
    assert len(ALL) >= 8


@pytest.mark.parametrize("name,cls,attr", ALL, ids=[name for name, _, _ in ALL])
def test_benchmark_runs_once(name: str, cls: type, attr: str) -> None:
    """setup + the benchmark + teardown, for every parameter value (<= 1 MiB) at least once. A skip is
    raised by setup, or by the first call of a class without setup (``benchmarks.common.skip``)."""
    ran, skipped = 0, []
    for combo in _param_sets(cls):
        instance = cls()
        setup = getattr(instance, "setup", None)
        try:
            if setup is not None:
                setup(*combo)
        except NotImplementedError as exc:  # asv's skip
            skipped.append(f"{combo}: {exc}")
            continue
        try:
            try:
                result = getattr(instance, attr)(*combo)
            except NotImplementedError as exc:  # asv's skip from the body (SkipNotImplemented)
                skipped.append(f"{combo}: {exc}")
                continue
            if attr.startswith("track_"):
                assert isinstance(result, (int, float)), f"{name}{combo} returned {result!r}"
        finally:
            teardown = getattr(instance, "teardown", None)
            if teardown is not None:
                teardown(*combo)
        ran += 1
    if not ran:
        pytest.skip(f"{name}: every parameter set skipped: {skipped[0]}")


# ---------------------------------------------------------------------------------------------------------
# The leak benchmarks must tell a leak from no leak (bpo-39492).

def _pickler_leak(pickler: str) -> Tuple[int, int]:
    bench = bench_leaks.PicklerLeak()
    bench.setup(pickler)
    return bench.track_objects_alive(pickler), bench.track_gc_objects_growth(pickler)


@pytest.mark.parametrize("pickler", ["reference", "cloudpickle", "pickle"])
def test_a_sound_pickler_leaks_nothing(pickler: str) -> None:
    alive, growth = _pickler_leak(pickler)
    n = bench_leaks.PicklerLeak.N
    assert alive <= n // 100, f"{pickler}: {alive} of {n} pickled objects still alive with gc disabled"
    assert growth <= n // 10, f"{pickler}: {growth} more gc-tracked objects after {n} serializations"


def test_the_leaky_pickler_makes_each_pickler_benchmark_jump() -> None:
    alive, growth = _pickler_leak("leaky")
    n = bench_leaks.PicklerLeak.N
    assert alive >= n * 9 // 10, f"the leaky Pickler left only {alive} of {n} objects alive"
    assert growth >= 3 * n, f"the leaky Pickler grew the gc-tracked objects by only {growth}"


def test_the_leaky_pickler_makes_store_rss_jump() -> None:
    values = {}
    for pickler in ("reference", "leaky"):
        bench = bench_leaks.StoreRSSGrowth()
        try:
            bench.setup(pickler)
        except NotImplementedError as exc:
            pytest.skip(str(exc))
        try:
            values[pickler] = bench.track_rss_growth(pickler)
        finally:
            bench.teardown(pickler)
    leaked_kib = bench_leaks.StoreRSSGrowth.CYCLES * 64  # each cycle's payload is 64 KiB
    assert values["reference"] < leaked_kib / 10, values
    assert values["leaky"] > leaked_kib / 2, values


def test_store_heap_benchmark_sees_an_extra_copy() -> None:
    """``StoreHeap`` reads about 0 for the reference's put and get, and about 1 (the payload once more) for
    a put that builds its frame as bytes before writing it, as a careless store would."""
    from benchmarks import bench_store
    from reference.serializer import dumps

    bench = bench_store.StoreHeap()
    try:
        bench.setup("1MiB")
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    try:
        assert bench.track_put("1MiB") < 0.05 and bench.track_get("1MiB") < 0.05
        copying_put = bench._heap_peak(lambda: bench.store.put(dumps(bench.value)))
        assert copying_put >= 0.95, copying_put
    finally:
        bench.teardown("1MiB")


# ---------------------------------------------------------------------------------------------------------
# asv's own view of the suite.

def test_asv_check() -> None:
    """``asv check --python=same``: asv imports every benchmark and validates its signature and params."""
    pytest.importorskip("asv", reason="asv is in the `bench` extra; install it to run this check")
    # asv drops PYTHONPATH: the benchmarks import the project installed in this interpreter's environment.
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "asv", "--config", str(ROOT / "asv.conf.json"), "check", "--python=same"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------------------
# The summary merges the peers' results files: Ray and Plasma run in environments of their own.

_COLUMNS = ["result", "params", "version", "started_at", "duration"]
_VALUES = ["int", "dict-10", "1KiB", "1MiB", "64MiB"]


def _asv_file(directory: Path, name: str, python: str, peers: Dict[str, Dict[str, float]], *,
              started_ms: int = 1_000, commit: str = "c0ffee" * 6 + "abcd", get_1kib: float = 0.0) -> Path:
    """A small asv results file (asv 0.6's layout). With ``peers`` (implementation -> time by size), the
    generic suite's ``bench_store.Put.time_put`` as ``objstore-conformance bench --impl PEER`` records it:
    the reference and the one peer, every other value NaN, as asv writes a skipped benchmark. ``get_1kib``
    adds the repository suite's ``bench_store.StoreGet.time_get`` at 1 KiB, as the main run records it."""
    data = {
        "commit_hash": commit, "env_name": name, "date": 0, "python": python, "requirements": {},
        "env_vars": {}, "params": {"machine": "testbox", "python": python},
        "result_columns": _COLUMNS, "version": 2, "results": {},
    }
    if peers:
        impls = ["reference"] + [p for p in peers if p != "reference"]
        values = [peers.get(impl, {}).get(size, float("nan")) for impl in impls for size in _VALUES]
        params = [[repr(i) for i in impls], [repr(v) for v in _VALUES]]
        data["results"]["bench_store.Put.time_put"] = [values, params, "v", started_ms, 1.0]
    if get_1kib:
        data["results"]["bench_store.StoreGet.time_get"] = [[get_1kib], [["'1KiB'"]], "v", started_ms, 1.0]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{commit[:8]}-{name}.json"
    path.write_text(json.dumps(data))  # json writes NaN as asv does
    return path


def _put_row(text: str, size: str) -> List[str]:
    """Section 6's cells of the put row of ``size``."""
    section = text[text.index("\n6. "):]
    return next(line.split() for line in section.splitlines() if line.split()[:2] == ["put", size])


@pytest.fixture()
def peer_files(tmp_path: Path) -> Dict[str, Path]:
    """A main run (the repository suite's results), a Ray env run and a Plasma env run of the generic suite
    (``objstore-conformance bench --dir .asv/impl``), each with its own reference figures (different on
    purpose: a ratio taken across files would show)."""
    results = tmp_path / "results" / "testbox"
    impl = tmp_path / "impl" / "results"
    return {
        "main": _asv_file(results, "existing-py_same", "/no/such/same/python", {}, get_1kib=7e-6),
        "ray": _asv_file(impl / "testbox--ray", "existing-py_ray", "/no/such/ray/python",
                         {"reference": {"1MiB": 2e-3, "64MiB": 40e-3}, "ray": {"1MiB": 4e-3, "64MiB": 50e-3}}),
        "plasma": _asv_file(impl / "testbox--plasma", "existing-py_plasma", "/no/such/plasma/python",
                            {"reference": {"1MiB": 3e-3, "64MiB": 30e-3}, "plasma": {"1MiB": 1.5e-3}}),
    }


def test_summary_merges_both_peers_each_from_its_own_file(peer_files: Dict[str, Path]) -> None:
    from benchmarks import summary

    main = summary.Results(peer_files["main"])
    sources = summary.peer_sources(main, [summary.Results(peer_files[p]) for p in ("ray", "plasma")])
    assert {peer: res.path for peer, res in sources.items()} == {"ray": peer_files["ray"],
                                                                  "plasma": peer_files["plasma"]}
    text = summary.summary(main, sources)
    # op size | reference (ray env) ray ref/ray | reference (plasma env) plasma ref/plasma
    assert _put_row(text, "1MiB") == ["put", "1MiB", "2", "ms", "4", "ms", "0.50x", "3", "ms", "1.5", "ms",
                                      "2.00x"]
    assert f"ray: Python /no/such/ray/python, commit c0ffeec0ffee, results {peer_files['ray']}" in text
    assert f"plasma: Python /no/such/plasma/python, commit c0ffeec0ffee, results {peer_files['plasma']}" in text
    assert "ref/ray 0.80x, ref/plasma n/a" in text  # section 0, 64 MiB: Plasma has no 64 MiB figure


def test_summary_never_takes_a_ratio_across_files(peer_files: Dict[str, Path], tmp_path: Path) -> None:
    """Ray's file lacks the reference at 1 MiB: ref/ray is n/a, not Ray over another file's reference."""
    from benchmarks import summary

    ray = _asv_file(tmp_path / "other", "existing-py_ray", "/no/such/ray/python",
                    {"reference": {"64MiB": 40e-3}, "ray": {"1MiB": 4e-3, "64MiB": 50e-3}})
    main = summary.Results(peer_files["main"])
    candidates = [summary.Results(ray), summary.Results(peer_files["plasma"])]
    text = summary.summary(main, summary.peer_sources(main, candidates))
    row = _put_row(text, "1MiB")
    assert row[2:7] == ["n/a", "4", "ms", "n/a", "3"], row  # main's 1.0 s and Plasma's 3 ms are not used
    assert "ref/ray 0.80x, ref/plasma n/a" in text  # section 0, 64 MiB: both sides in Ray's file


def test_summary_prints_n_a_for_a_missing_peer(peer_files: Dict[str, Path], tmp_path: Path) -> None:
    """Only Ray ran: Plasma's columns print n/a, and Ray's environment is named by its Python and numpy."""
    import numpy

    from benchmarks import summary

    ray = _asv_file(tmp_path / "ray-env", "existing-py_ray", sys.executable,
                    {"reference": {"1MiB": 2e-3}, "ray": {"1MiB": 4e-3}})
    main = summary.Results(peer_files["main"])
    sources = summary.peer_sources(main, [summary.Results(ray)])
    assert set(sources) == {"ray"}
    text = summary.summary(main, sources)
    row = _put_row(text, "1MiB")
    assert row[6] == "0.50x" and row[7:] == ["n/a", "n/a", "n/a"], row
    assert f"ray: CPython {'%d.%d.%d' % sys.version_info[:3]}, numpy {numpy.__version__}, commit" in text
    assert "plasma: n/a: no results file holds plasma beside the reference" in text
    assert "get 1MiB: ray n/a, plasma n/a" in text  # section 0: no get figures at all


def test_summary_main_merges_only_this_runs_peer_files(peer_files: Dict[str, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``--since`` (ci/bench-summary's run mode) drops an older run's Ray file; ``--no-run`` takes the main
    file from the results directory and the peers' files from the generic runs' folder (``--impl-dir``)."""
    from benchmarks import summary

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.asv-machine.json: every machine directory
    results_dir = tmp_path / "results"
    impl_dir = tmp_path / "impl"
    for path, mtime in ((peer_files["main"], 100), (peer_files["ray"], 200), (peer_files["plasma"], 300)):
        os.utime(path, (mtime, mtime))
    summary.main(["--results-dir", str(results_dir), "--impl-dir", str(impl_dir)])
    text = capsys.readouterr().out
    assert f"results: {peer_files['main']}" in text and "7.00 us" in text  # section 0's get
    assert _put_row(text, "1MiB")[6::5] == ["0.50x", "2.00x"]

    _asv_file(impl_dir / "results" / "testbox--plasma", "existing-py_plasma2", "/no/such/plasma/python",
              {"reference": {"1MiB": 3e-3}, "plasma": {"1MiB": 1.5e-3}}, started_ms=5_000)
    summary.main(["--results", str(peer_files["main"]), "--results-dir", str(results_dir), "--impl-dir",
                  str(impl_dir), "--since", "2000"])
    row = _put_row(capsys.readouterr().out, "1MiB")
    assert row[2:] == ["n/a", "n/a", "n/a", "3", "ms", "1.5", "ms", "2.00x"], row
