"""The "Use it in your CI" example works as written: the GitHub Actions workflow under examples/ parses, has
the matrix, gate and artifact the README promises, and each of its `run:` commands passes locally against
both sample adapters (examples/dill-serializer, examples/dict-store).

Substituted locally: the interpreter (the commands run with this environment's bin folder first on PATH,
so `python` and `objstore-conformance` are this environment's), the `env:` variables (one adapter at a
time) and the install step (the suite is installed here; the sample package goes on PYTHONPATH instead of
`pip install -e .`, which would need the network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from report_checks import assert_valid_report

# End to end (each sample adapter through the whole suite and the report): tox runs it once, in `e2e`.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
WORKFLOW = EXAMPLES / "github-actions" / "conformance.yml"
#: The sample adapters: (folder, --impl spec).
SAMPLES = [("dill-serializer", "objstore_dill.conformance:implementation"),
           ("dict-store", "objstore_dictstore.conformance:implementation")]


def _workflow():
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data, data["jobs"]["conformance"]


def test_workflow_has_the_matrix_the_gate_and_the_artifact():
    data, job = _workflow()
    assert data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert job["strategy"]["matrix"]["python-version"] == ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
    uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    assert uses["actions/setup-python"]["with"]["python-version"] == "${{ matrix.python-version }}"
    upload = uses["actions/upload-artifact"]
    assert upload["if"] == "always()"  # the report is kept when the gate fails too
    runs = " ".join(s["run"] for s in job["steps"] if "run" in s)
    assert "--pyargs conformance --impl" in runs
    assert "objstore-conformance report" in runs and "--strict-xfail" in runs and "--junitxml" in runs
    out = runs.split("--out ", 1)[1].split()[0]
    assert upload["with"]["path"].rstrip("/") == out
    assert set(data["env"]) == {"ADAPTER", "XFAILS", "SUITE"}
    assert data["env"]["SUITE"].startswith("objstore-conformance[test]")  # pytest and Hypothesis come with it


def test_workflow_keeps_the_hypothesis_database_between_runs():
    """The example database is restored before the suite runs and saved after it, even when a step failed
    (a new failure is what it is for), under a key per interpreter that changes every run (a cache entry is
    never overwritten) with a prefix to restore the newest; the exploring pytest step writes it there, and
    the gate (--strict-xfail, derandomized) does not depend on it."""
    _data, job = _workflow()
    steps = job["steps"]
    names = [s.get("uses", "").split("@")[0] or s.get("run", "") for s in steps]
    restore = steps[names.index("actions/cache/restore")]
    save = steps[names.index("actions/cache/save")]
    explore = next(i for i, s in enumerate(steps) if "--pyargs conformance" in s.get("run", ""))
    assert names.index("actions/cache/restore") < explore < names.index("actions/cache/save")
    assert save["if"] == "always()"
    path = restore["with"]["path"]
    assert save["with"]["path"] == path and save["with"]["key"] == restore["with"]["key"]
    key, prefix = restore["with"]["key"], restore["with"]["restore-keys"]
    assert "${{ matrix.python-version }}" in key and key.startswith(prefix) and "${{ github.run_id }}" in key
    database = steps[explore]["run"].split("--conformance-database", 1)[1].split()[0]
    assert database.startswith(path.rstrip("/") + "/"), (database, path)
    gate = next(s["run"] for s in steps if "objstore-conformance report" in s.get("run", ""))
    assert "--strict-xfail" in gate


def _run_step(command: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", command], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=900)


@pytest.mark.parametrize("folder, spec", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_workflow_commands_pass_against_the_sample_adapter(tmp_path, folder, spec):
    data, job = _workflow()
    project = tmp_path / folder
    shutil.copytree(EXAMPLES / folder, project)  # the workflow writes its report into the checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env.update(data["env"])
    env.update({"ADAPTER": spec, "XFAILS": "conformance-xfails.txt"})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(project), env.get("PYTHONPATH", "")])
    ran = 0
    for step in job["steps"]:
        command = step.get("run")
        if command is None:
            continue
        if "pip install" in command:
            assert "-e ." in command and '"$SUITE"' in command  # the package and the suite
            continue
        proc = _run_step(command, env, project)
        assert proc.returncode == 0, f"step {step.get('name')!r} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran == 2
    report = assert_valid_report(project / "conformance-report" / "report.json")
    (impl,) = report["implementations"]
    assert impl["name"] == spec and report["exit_status"] == 0 and report["strict_xfail"]
    statuses = {c: r["status"] for c, r in impl["results"].items()}
    assert "pass" in statuses.values() and "fail" not in statuses.values()
    listed = [ln.split("#")[0].strip() for ln in (project / "conformance-xfails.txt").read_text().splitlines()]
    assert all(statuses[c] == "xfail" for c in listed if c)
    suites = ET.parse(project / "conformance-report" / "junit.xml").getroot()
    assert suites.get("failures") == "0" and suites.find("testsuite").get("name") == spec


def test_strict_xfail_fails_the_gate_on_a_fixed_bug(tmp_path):
    """A known failure that passes (XPASS: the bug is fixed) is fine by default and fails the gate with
    --strict-xfail, so that it leaves the xfails file."""
    project = EXAMPLES / "dict-store"
    spec = SAMPLES[1][1]
    xfails = tmp_path / "xfails.txt"
    # the example's own known failures, and one that passes
    xfails.write_text((project / "conformance-xfails.txt").read_text() + "store.put_get.roundtrip  # fixed long ago\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")]))
    base = [sys.executable, "-m", "conformance", "report", "--impl", spec, "--xfails", f"{spec}={xfails}"]
    outcomes = {}
    for strict in (False, True):
        out = tmp_path / f"out-{strict}"
        proc = subprocess.run(base + ["--out", str(out), "--junitxml", str(out / "junit.xml")]
                              + (["--strict-xfail"] if strict else []),
                              capture_output=True, text=True, env=env, timeout=900)
        data = assert_valid_report(out / "report.json")
        assert data["implementations"][0]["results"]["store.put_get.roundtrip"]["status"] == "xpass"
        failures = ET.parse(out / "junit.xml").getroot().get("failures")
        outcomes[strict] = (proc.returncode, data["exit_status"], failures, json.dumps(data["verdict"]))
    assert outcomes[False][:3] == (0, 0, "0")
    assert outcomes[True][:3] == (1, 1, "1") and "XPASS" in outcomes[True][3]


def test_readme_shows_the_workflow_as_it_is():
    """conformance/README.md's "Use it in your CI" shows the workflow file verbatim (so that what a
    maintainer copies is what these tests run)."""
    readme = (ROOT / "conformance" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it in your CI", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block == WORKFLOW.read_text(encoding="utf-8")
