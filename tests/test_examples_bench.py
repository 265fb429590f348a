"""The benchmarks workflow under examples/github-actions works as written: it keeps asv's results between
runs and gates on ``objstore-conformance bench --compare``, and its benchmark step passes locally against
both sample adapters (examples/dill-serializer, examples/dict-store).

Substituted locally, as in tests/test_examples.py: the interpreter (this environment's bin folder first on
PATH), the `env:` variables (one adapter at a time), the install step (the sample package goes on
PYTHONPATH), and BASE (HEAD: the run compares with the results it has just recorded). To keep CI short the
step runs a subset of the suite (``--bench``: the put and dumps benchmarks); the whole quick run is what
the closing note times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e
pytest.importorskip("asv", reason="asv is in the `bench` extra (tox -e e2e installs it)")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "benchmarks.yml"
SAMPLES = [("dill-serializer", "objstore_dill.conformance:implementation"),
           ("dict-store", "objstore_dictstore.conformance:implementation")]
SUBSET = r"Put\.time_put|Dumps"


def _workflow():
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data, data["jobs"]["benchmarks"]


def test_workflow_keeps_the_results_and_gates_on_compare():
    data, job = _workflow()
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0  # BASE must be in the clone
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == ".objstore-bench/results" and "restore-keys" in cache
    step = next(s for s in job["steps"] if "objstore-conformance bench" in s.get("run", ""))
    assert '--compare "$BASE"' in step["run"] and '--threshold "$THRESHOLD"' in step["run"]
    assert "--quick" in step["run"] and "--host" in step["run"]  # a fixed host: cached results stay comparable
    assert set(data["env"]) == {"ADAPTER", "SUITE", "THRESHOLD"} and data["env"]["SUITE"].endswith("[bench]")


@pytest.mark.parametrize("folder, spec", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_benchmark_step_passes_against_the_sample_adapter(tmp_path, folder, spec):
    data, job = _workflow()
    project = tmp_path / folder
    shutil.copytree(ROOT / "examples" / folder, project)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the sample"]):
        subprocess.run(git + args, cwd=project, check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OBJSTORE_BENCH_"))}
    env.update(data["env"])
    env.update({"ADAPTER": spec, "BASE": "HEAD", "HOME": str(tmp_path)})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(project), env.get("PYTHONPATH", "")])
    step = next(s for s in job["steps"] if "objstore-conformance bench" in s.get("run", ""))
    command = step["run"].replace("--quick", f"--quick --bench '{SUBSET}'")
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]  # BASE=HEAD: the results just recorded, so nothing slowed
    assert f"{spec}: ratios to the reference and to the limits" in out and "timings compared" in out, out[-4000:]
    assert "pickle p5 zero-copy" in out  # dumps beside stdlib pickle's zero-copy bound
    if folder == "dict-store":
        assert "memcpy (warm)" in out  # a store's put beside memcpy
    else:
        assert "skipped Put" in out and "no store" in out  # a serializer alone: no store benchmark runs
    assert (project / ".objstore-bench" / "results").is_dir()
