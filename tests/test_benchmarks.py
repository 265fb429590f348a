"""The asv suite itself: every benchmark runs, the leak benchmarks detect a leak, and ``asv check`` passes.

These run on the current interpreter only and take seconds: the benchmarks are called directly (setup,
method, teardown) with small parameters, as asv would call them, so a broken benchmark fails CI without
an asv run on every interpreter.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # benchmarks/ is not part of the installed distribution

import benchmarks  # noqa: E402
from benchmarks import bench_leaks  # noqa: E402
from benchmarks.common import MiB, size_bytes  # noqa: E402

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
    names = [m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")]
    return [importlib.import_module(f"benchmarks.{name}") for name in sorted(names)]


def _benchmarks() -> Iterator[Tuple[str, type, str]]:
    for module in _modules():
        for cls_name, cls in sorted(vars(module).items()):
            if not inspect.isclass(cls) or cls.__module__ != module.__name__ or cls_name.startswith("_"):
                continue
            for attr in sorted(dir(cls)):
                if attr.startswith(BENCHMARK_PREFIXES):
                    yield f"{module.__name__.split('.')[-1]}.{cls_name}.{attr}", cls, attr


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
    """setup + the benchmark + teardown, for every parameter value (<= 1 MiB) at least once."""
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
            result = getattr(instance, attr)(*combo)
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
