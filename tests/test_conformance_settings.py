"""The suite's Hypothesis settings belong to its clauses alone, and clauses that draw examples against a
store get a fresh store per example.

A user's project runs the suite inside its own tests (``conformance.testing.ConformanceTests``) next to
Hypothesis tests of its own under its own profile. Importing ``conformance.testing`` or loading the plugin
must not load the suite's profile for the process; ``--max-examples`` must still reach every clause; and
``store.put_get.roundtrip`` must make (and destroy) one store per example, so that a failure depends on its
example alone and replays and shrinks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

#: An adapter that logs each store made, destroyed and put to, around the reference.
COUNTING = textwrap.dedent('''
    import dataclasses
    import os

    from conformance.adapters import reference_implementation


    def _log(event):
        with open(os.environ["COUNT_LOG"], "a") as f:
            f.write(event + "\\n")


    class Store:
        def __init__(self, inner):
            self.inner = inner
            self.name = inner.name

        def put(self, value, object_id=None):
            _log("put")
            return self.inner.put(value, object_id)

        def __getattr__(self, name):
            return getattr(self.inner, name)


    class Factory:
        def __init__(self, inner):
            self.inner = inner

        def create(self, *, capacity):
            _log("create")
            return Store(self.inner.create(capacity=capacity))

        def attach(self, name):
            return Store(self.inner.attach(name))

        def destroy(self, store):
            _log("destroy")
            self.inner.destroy(store.inner)


    def implementation():
        base = reference_implementation()
        return dataclasses.replace(base, name="counting:implementation", store_factory=Factory(base.store_factory),
                                   capabilities=base.capabilities - {"nodes"})
''')

CONFTEST = textwrap.dedent('''
    from hypothesis import settings

    settings.register_profile("mine", max_examples=7)
    settings.load_profile("mine")
''')

USER_TESTS = textwrap.dedent('''
    from hypothesis import given, settings
    from hypothesis import strategies as st

    import conformance.testing  # noqa: F401 - importing the suite must not change this project's settings
    from conformance.testing import ConformanceTests

    CALLS = []


    @given(st.integers())
    def test_mine(n):
        CALLS.append(n)


    def test_mine_ran_under_my_profile():
        assert settings.default.max_examples == 7, settings.default
        assert len(CALLS) == 7, CALLS


    class TestCounting(ConformanceTests):
        implementation = "counting:implementation"
''')


@pytest.mark.parametrize("impl_env", [None, "reference"], ids=["plain", "CONFORMANCE_IMPL"])
def test_user_profile_survives_and_clauses_get_fresh_stores(tmp_path, impl_env):
    (tmp_path / "counting.py").write_text(COUNTING)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_project.py").write_text(USER_TESTS)
    log = tmp_path / "count.log"
    env = dict(os.environ, COUNT_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    env.pop("CONFORMANCE_IMPL", None)
    env.pop("HYPOTHESIS_PROFILE", None)
    if impl_env:
        env["CONFORMANCE_IMPL"] = impl_env
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                           "test_project.py", "-k", "mine or put_get_roundtrip", "--max-examples", "6"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
    events = log.read_text().split()
    puts, made, destroyed = (events.count(e) for e in ("put", "create", "destroy"))
    assert 1 < puts <= 6, f"--max-examples 6 did not reach the clause: {puts} examples"
    assert made == puts, f"{made} store(s) for {puts} examples: examples share a store"
    assert destroyed == made, f"{made} stores made, {destroyed} destroyed"


#: The counting adapter, with a store whose get loses any list it was given (a failure to shrink).
BROKEN = COUNTING + textwrap.dedent('''

    class LosesLists(Store):
        def get(self, object_id, timeout=None):
            value = self.inner.get(object_id, timeout)
            return None if isinstance(value, list) else value


    class BrokenFactory(Factory):
        def create(self, *, capacity):
            _log("create")
            return LosesLists(self.inner.create(capacity=capacity))


    def broken():
        base = reference_implementation()
        return dataclasses.replace(base, name="counting:broken", store_factory=BrokenFactory(base.store_factory),
                                   capabilities=base.capabilities - {"nodes"})
''')


def test_a_listed_xfail_is_confirmed_not_shrunk(tmp_path):
    """A clause the xfails file lists is expected to fail: the suite stops at the failure Hypothesis finds
    (no shrink phase) instead of minimizing it, which through a slow store (Ray's) took minutes of CI. The
    same failure unlisted is still shrunk to its smallest example."""
    (tmp_path / "counting.py").write_text(BROKEN)
    (tmp_path / "xfails.txt").write_text("store.put_get.roundtrip\n")
    runs = {}
    for listed in (True, False):
        log = tmp_path / f"count-{listed}.log"
        env = dict(os.environ, COUNT_LOG=str(log),
                   PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
        env.pop("CONFORMANCE_IMPL", None)
        args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q", "--pyargs",
                "conformance", "--impl", "counting:broken", "-k", "put_get_roundtrip", "--max-examples", "200",
                "--hypothesis-seed", "1"]
        if listed:
            args += ["--xfails-file", str(tmp_path / "xfails.txt")]
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert ("1 xfailed" if listed else "1 failed") in proc.stdout, proc.stdout + proc.stderr
        runs[listed] = log.read_text().split().count("put")
    # Listed: the failing example, and Hypothesis' replay of it. Unlisted: dozens more while shrinking.
    assert runs[True] <= 3 < runs[False], f"puts: listed {runs[True]}, unlisted {runs[False]}"
