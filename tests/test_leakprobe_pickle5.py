"""The real-bug control of the leak clauses: the probe they run (``conformance/leakprobe.py``) catches the leak
of the pickle5 backport 0.0.9 (bpo-39492: a Pickler with a ``reducer_override`` kept every object it pickled
alive until the cyclic GC ran) on CPython 3.7, and passes 0.0.12, which has the fix.

Each pickle5 version gets a CPython 3.7 venv of its own, made once and kept in ``.cache/leakprobe/`` of the
checkout (git ignores it), so later runs take a second or two; the first builds pickle5 0.0.9 from its
source (there is no cp37 wheel of it: it needs a C compiler and CPython's headers, which a pyenv CPython
has). The probe runs there as a file, with nothing of the project installed. The test skips, saying why,
when no CPython 3.7 is found (``python3.7`` on PATH, or pyenv's 3.7.x) or pickle5 cannot be installed.
tox runs it in the ``meta`` environment (it proves the suite's leak clauses on a real bug).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import pytest

from conformance import leakprobe

pytestmark = [pytest.mark.meta, pytest.mark.timeout(900)]

#: The venvs, one per pickle5 version, kept between runs.
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "leakprobe"
#: The round trips of each probe (the probe's default).
CALLS = 1000


def _python37() -> Optional[str]:
    """A CPython 3.7 that runs: ``python3.7`` on PATH, else the newest 3.7.x pyenv has (its shim runs only
    versions PYENV_VERSION activates, so the interpreter is taken from pyenv's versions folder)."""
    candidates = [shutil.which("python3.7")]
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        try:
            roots.insert(0, subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=60,
                                           check=True).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for root in filter(None, roots):
        versions = sorted(Path(root, "versions").glob("3.7.*"),
                          key=lambda p: [int(x) if x.isdigit() else -1 for x in p.name.split(".")])
        candidates += [str(v / "bin" / "python3.7") for v in reversed(versions)]
    for python in filter(None, candidates):
        try:
            out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] == (3, 7))"],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.stdout.strip() == "True":
            return python
    return None


def _venv(python37: str, version: str) -> Path:
    """The cached CPython 3.7 venv with ``pickle5==version``, made (in a temporary folder, then renamed into
    place) when missing or broken. Skips the test, with pip's last lines, when pickle5 cannot be installed."""
    target = CACHE / f"py37-pickle5-{version}"
    python = target / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import pickle5"], capture_output=True,
                                          timeout=120).returncode == 0:
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".py37-pickle5-{version}-", dir=CACHE))
    try:
        subprocess.run([python37, "-m", "venv", str(build)], check=True, capture_output=True, timeout=300)
        pip = subprocess.run([str(build / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                              "--no-input", "--quiet", f"pickle5=={version}"],
                             capture_output=True, text=True, timeout=600)
        if pip.returncode != 0:
            tail = "\n".join((pip.stdout + pip.stderr).strip().splitlines()[-8:])
            pytest.skip(f"pickle5=={version} cannot be installed for {python37} (0.0.9 builds from source: it "
                        f"needs a C compiler and CPython's headers): pip says\n{tail}")
        shutil.rmtree(target, ignore_errors=True)
        build.rename(target)  # the venv's scripts name their interpreter by path: it keeps working once moved
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return python


def _probe(python: Path) -> dict:
    """Run the probe file in ``python`` (isolated: its own folder is not on sys.path, nothing of the project
    is importable) and return its JSON, with its exit status under ``status``."""
    out = subprocess.run([str(python), "-I", leakprobe.__file__, "--json", "--calls", str(CALLS)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), f"the probe could not run (exit {out.returncode}): {out.stderr}"
    result = json.loads(out.stdout)
    result["status"] = out.returncode
    print(json.dumps(result, sort_keys=True))  # the figures, for the log (pytest -s, or a failure)
    return result


@pytest.fixture(scope="module")
def python37() -> str:
    python = _python37()
    if python is None:
        pytest.skip("no CPython 3.7 found (python3.7 on PATH, or pyenv's versions/3.7.*): install one, e.g. "
                    "`pyenv install 3.7.16`, to run the pickle5 0.0.9/0.0.12 control")
    return python


def test_leakprobe_catches_pickle5_0_0_9(python37):
    """pickle5 0.0.9 on CPython 3.7 leaks: every object given to a Pickler with reducer_override stays alive
    (gc disabled), in-band and out-of-band, and the probe exits 1."""
    result = _probe(_venv(python37, "0.0.9"))
    assert (result["module"], result["version"], result["python"][:11]) == ("pickle5", "0.0.9", "CPython 3.7")
    assert result["status"] == 1 and result["leaked"], result
    inband, oob = result["probes"]["inband"], result["probes"]["out_of_band"]
    assert inband["given"] == {"tracked": CALLS, "alive": CALLS, "uncollected": 0}, inband
    assert oob["given"] == {"tracked": 2 * CALLS, "alive": 2 * CALLS, "uncollected": 0}, oob


def test_leakprobe_passes_pickle5_0_0_12(python37):
    """pickle5 0.0.12 on CPython 3.7 (bpo-39492's fix) keeps nothing alive: the probe exits 0 with 0 alive."""
    result = _probe(_venv(python37, "0.0.12"))
    assert (result["module"], result["version"]) == ("pickle5", "0.0.12")
    assert result["status"] == 0 and not result["leaked"], result
    for name, probe in result["probes"].items():
        assert probe["given"]["alive"] == probe["returned"]["alive"] == 0, (name, probe)
        assert probe["given"]["tracked"] >= CALLS, (name, probe)


def test_leakprobe_runs_here():
    """The same probe file on this interpreter's stdlib pickle (fixed since CPython 3.8.2) finds nothing."""
    if sys.version_info < (3, 8, 2):
        pytest.skip(f"CPython {sys.version.split()[0]} has bpo-39492 itself")
    result = _probe(Path(sys.executable))
    assert result["status"] == 0 and result["module"] == "pickle", result
