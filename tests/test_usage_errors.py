"""Every mistake a user can make choosing or writing an implementation ends both `pytest --pyargs
conformance --impl X` and `objstore-conformance report --impl X` with one line naming the problem and the
fix, and exit status 2: never a traceback, an INTERNALERROR, or a run that starts anyway."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

#: A module of broken adapters, as a third party might write them.
BROKEN = textwrap.dedent('''
    from conformance.adapters import pickle_implementation
    from conformance.api import Implementation


    def raising():
        raise RuntimeError("the daemon is not running\\nstart it first")


    def wrong_type():
        return {"name": "mine"}


    def unknown_capability():
        impl = pickle_implementation(5)
        return Implementation(name="mine", serializer=impl.serializer, capabilities=frozenset({"zero-copy"}))


    def claims_store_without_one():
        impl = pickle_implementation(5)
        return Implementation(name="mine", serializer=impl.serializer, capabilities=frozenset({"store"}))
''')

#: (case, --impl spec, extra pytest arguments, what the one line must say)
CASES = [
    ("bad spec", "no-such-adapter", [], "no adapter has that name"),
    ("missing module", "no_such_module_xyz:implementation", [], "there is no module 'no_such_module_xyz'"),
    ("missing factory", "broken_adapters:nothing_here", [], "has no attribute 'nothing_here'"),
    ("import error", "imports_missing:implementation", [], "importing 'imports_missing' failed with "
                                                           "ModuleNotFoundError"),
    ("factory raises", "broken_adapters:raising", [], "its factory raised RuntimeError: the daemon is not running"),
    ("wrong type", "broken_adapters:wrong_type", [], "not a conformance.api.Implementation"),
    ("unknown capability", "broken_adapters:unknown_capability", [], "unknown capabilities ['zero-copy']"),
    ("claim without operation", "broken_adapters:claims_store_without_one", [], "claims 'store'"),
    ("unknown xfails clause", "pickle5", ["XFAILS"], "names 'serializer.no_such.clause', which is no clause"),
]


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "broken_adapters.py").write_text(BROKEN)
    (tmp_path / "imports_missing.py").write_text("import no_such_dependency_xyz  # noqa\n")
    (tmp_path / "xfails.txt").write_text("serializer.native.roundtrip\nserializer.no_such.clause\n")
    return tmp_path


def _env(user_dir):
    env = dict(os.environ)
    env.pop("CONFORMANCE_IMPL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(user_dir), env.get("PYTHONPATH", "")])
    return env


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in lines[0] and "INTERNALERROR" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("case, spec, extra, says", CASES, ids=[c[0] for c in CASES])
def test_pytest_run_says_what_is_wrong_in_one_line(user_dir, case, spec, extra, says):
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance", "--impl", spec]
    if "XFAILS" in extra:
        args += ["--xfails-file", str(user_dir / "xfails.txt")]
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(user_dir), cwd=user_dir, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith("ERROR: ") and says in line, line
    assert "INTERNALERROR" not in proc.stdout and " passed" not in proc.stdout


@pytest.mark.parametrize("case, spec, extra, says", CASES, ids=[c[0] for c in CASES])
def test_report_says_what_is_wrong_in_one_line(user_dir, case, spec, extra, says):
    args = [sys.executable, "-m", "conformance", "report", "--impl", spec, "--out", str(user_dir / "out")]
    if "XFAILS" in extra:
        args += ["--xfails", f"{spec}={user_dir / 'xfails.txt'}"]
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(user_dir), cwd=user_dir, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith("objstore-conformance: ") and says in line, line
    assert not (user_dir / "out").exists()  # nothing ran, nothing written


def test_no_implementation_chosen_is_one_line_and_status_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance"],
                          capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=300)
    assert proc.returncode == 2
    assert "--impl NAME" in _one_line(proc.stderr)


@pytest.mark.parametrize("args, says", [
    (["--max-examples", "0"], "--max-examples must be a positive integer"),
    (["--jobs", "0"], "--jobs must be a positive integer"),
    (["--xfails", "pickle5"], "--xfails wants NAME=PATH"),
    (["--xfails", "pickle5=/no/such/xfails.txt"], "cannot read the xfails file"),
    (["-n", "many"], "-n must be a positive integer or 'auto'"),
])
def test_report_options_are_checked_before_anything_runs(tmp_path, args, says):
    proc = subprocess.run([sys.executable, "-m", "conformance", "report", "--impl", "pickle5",
                           "--out", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, env=_env(tmp_path), timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in _one_line(proc.stderr)


def test_a_name_that_does_not_load_again_is_a_usage_error(tmp_path):
    """Clauses load the implementation again by its name in fresh interpreters, and snippets name it: a
    factory spec whose Implementation calls itself something unloadable is refused up front."""
    (tmp_path / "misnamed.py").write_text(
        "import dataclasses\n"
        "from conformance.adapters import pickle_implementation\n\n"
        "def implementation():\n"
        "    return dataclasses.replace(pickle_implementation(5), name='mystore')\n")
    for args, prefix in (([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance"],
                          "ERROR: "),
                         ([sys.executable, "-m", "conformance", "report", "--out", str(tmp_path / "out")],
                          "objstore-conformance: ")):
        proc = subprocess.run(args + ["--impl", "misnamed:implementation"], capture_output=True, text=True,
                              env=_env(tmp_path), cwd=tmp_path, timeout=300)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        line = _one_line(proc.stderr)
        assert line.startswith(prefix) and "named 'mystore'" in line and "name='misnamed:implementation'" in line
