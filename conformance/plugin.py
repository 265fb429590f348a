"""The pytest plugin: choose the implementation, turn capabilities into skips, apply xfails and settings.

Loaded in every pytest run of an environment where this project is installed (entry point ``pytest11``),
or explicitly with ``-p conformance.plugin``. It only adds options and markers until conformance clauses
are collected; then it needs an implementation::

    pytest --pyargs conformance --impl reference
    CONFORMANCE_IMPL=cloudpickle pytest --pyargs conformance
    pytest --pyargs conformance --impl mypackage.adapter:implementation --xfails-file xfails.txt

Options: ``--impl NAME`` (or ``CONFORMANCE_IMPL``), ``--xfails-file PATH`` (or ``CONFORMANCE_XFAILS``),
``--max-examples N``, ``--conformance-profile ci|nightly`` (or ``CONFORMANCE_PROFILE``; default ``ci``),
``--clause ID`` (repeatable: run only these clauses), ``--conformance-database DIR`` (Hypothesis' example
database), ``--ray-address ADDRESS`` (the Ray adapter joins that cluster; same as ``RAY_ADDRESS``). A mistake
in choosing or writing the implementation, or in its xfails file, ends the run with one ``ERROR:`` line and
exit status 2.

The Hypothesis settings those options make (:func:`conformance.settings.clause_settings`) are given to each
clause's test when it is collected; no profile is loaded for the process, so other tests in the same run keep
their own. Claims (markers ``requires`` and ``protocol``) are checked before a clause's test starts, never
inside it. This module holds the hooks alone: the settings are :mod:`conformance.settings`'s, the xfails
file's format :mod:`conformance.xfails_file`'s, and choosing the implementation :mod:`conformance.choice`'s.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, List, Optional

import pytest

from conformance.choice import (
    USAGE_ERROR_STATUS,
    ImplementationChoiceError,
    choose,
    chosen,
    impl_name,
    load_chosen,
    xfails_path,
)
from conformance.settings import PROFILES, apply_clause_settings, clause_settings, without_shrinking
from conformance.store_fixtures import make_store  # noqa: F401 - a fixture for every clause (and subclass)
from conformance.xfails_file import load_xfails, matches

__all__: List[str] = []  # hooks and fixtures only, found by pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_cmdline_main(config: Any) -> Any:
    # A mistake in choosing or writing the implementation ends the run with one line and status 2, as the
    # report's own usage errors do, instead of pytest's status 4 (or an INTERNALERROR traceback).
    outcome = yield
    excinfo = outcome.excinfo
    if excinfo is not None and isinstance(excinfo[1], ImplementationChoiceError):
        import sys

        sys.stderr.write(f"ERROR: {excinfo[1]}\n")
        sys.stderr.flush()
        outcome.force_result(USAGE_ERROR_STATUS)


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("conformance", "object store conformance suite")
    group.addoption("--impl", default=None, metavar="NAME",
                    help="the implementation to test: a registered adapter or package.module:factory "
                         "(default: $CONFORMANCE_IMPL)")
    group.addoption("--xfails-file", default=None, metavar="PATH",
                    help="a file of test ids (node ids or clause ids) expected to fail, one a line, "
                         "'#' comments (default: $CONFORMANCE_XFAILS)")
    group.addoption("--max-examples", type=int, default=None, metavar="N",
                    help="Hypothesis examples per property clause (overrides the profile)")
    group.addoption("--conformance-profile", default=None, choices=sorted(PROFILES),
                    help="Hypothesis settings: 'ci' (quick, the default) or 'nightly' (thorough); "
                         "default $CONFORMANCE_PROFILE")
    group.addoption("--conformance-database", default=None, metavar="DIR",
                    help="keep Hypothesis' example database in DIR, so that a failure found once is replayed "
                         "first on the next run (default: Hypothesis' own, .hypothesis/ in the current folder)")
    group.addoption("--no-shrink", action="store_true", default=False,
                    help="run Hypothesis without its shrink phase: a failure is reported as found, not minimized "
                         "(for a first run of a new implementation)")
    group.addoption("--derandomize", action="store_true", default=False,
                    help="the same examples on every run of the same code (Hypothesis derandomize=True, no example "
                         "database): a deterministic gate; objstore-conformance report --strict-xfail uses it")
    group.addoption("--explore", action="store_true", default=False,
                    help="random examples even where Hypothesis would derandomize (its default when $CI is set), "
                         "with the example database: the exploring run beside a derandomized gate")
    group.addoption("--clause", action="append", default=[], metavar="ID",
                    help="run only this clause (repeatable; a trailing '*' matches a prefix)")
    group.addoption("--ray-address", default=None, metavar="ADDRESS",
                    help="the Ray adapter joins this existing cluster instead of starting a Ray "
                         "(sets $RAY_ADDRESS for this run and its child processes)")




_SETTINGS_KEY = "_conformance_settings"


def _clause_settings(config: Any) -> Any:
    """The settings of this run's clauses, made once per run from its options."""
    found = getattr(config, _SETTINGS_KEY, None)
    if found is None:
        try:
            if config.getoption("derandomize") and config.getoption("explore"):
                raise ValueError("--derandomize and --explore exclude each other: choose the same examples every "
                                 "run (a gate) or random ones (exploring)")
            found = clause_settings(config.getoption("conformance_profile"),
                                    max_examples=config.getoption("max_examples"),
                                    hypothesis_profile=config.getoption("hypothesis_profile", None),
                                    database=config.getoption("conformance_database"),
                                    shrink=not config.getoption("no_shrink"),
                                    derandomize=True if config.getoption("derandomize") else
                                    False if config.getoption("explore") else None)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        setattr(config, _SETTINGS_KEY, found)
    return found


def pytest_configure(config: Any) -> None:
    if config.getoption("ray_address", None):
        os.environ["RAY_ADDRESS"] = config.getoption("ray_address")
    config.addinivalue_line("markers", "clause(id): the conformance clause a test checks")
    config.addinivalue_line("markers", "requires(*capabilities): capabilities a clause needs claimed")
    config.addinivalue_line("markers", "protocol(n): the pickle protocol a clause (or one of its parametrized "
                                       "items) needs claimed")
    if impl_name(config):
        _clause_settings(config)  # a wrong profile or --max-examples is a usage error before collection


@pytest.fixture
def conformance_settings(request: Any) -> Any:
    """The Hypothesis ``settings`` of this run's clauses (for a clause that runs Hypothesis itself, such as
    a state machine); without the shrink phase for a clause the xfails file lists
    (:func:`conformance.settings.without_shrinking`)."""
    found = _clause_settings(request.config)
    return without_shrinking(found) if getattr(request.node, _LISTED_XFAIL, False) else found


def _clause_of(item: Any) -> Optional[str]:
    mark = item.get_closest_marker("clause")
    return mark.args[0] if mark is not None else None


def _selected(patterns: List[str], clause_id: str) -> bool:
    for p in patterns:
        if p.endswith("*") and clause_id.startswith(p[:-1]) or p == clause_id:
            return True
    return False


def _class_impl(item: Any) -> Any:
    """The implementation of a ``conformance.testing.ConformanceTests`` subclass, if the item is in one."""
    cls = getattr(item, "cls", None)
    getter = getattr(cls, "conformance_implementation", None)
    return getter() if getter is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item: Any) -> None:
    clause_id = _clause_of(item)
    if clause_id:
        item.extra_keyword_matches.add(clause_id)  # so that -k selects by clause id too
        # The suite's Hypothesis settings go to its clauses alone, never to the process (a user's own
        # tests in the same run keep their profile).
        apply_clause_settings(getattr(item, "obj", None), _clause_settings(item.config))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: Any) -> None:
    # Under pytest-xdist (-n) the controller collects nothing and a worker's usage error would surface as a
    # crashed worker: check the choice here, once, before any worker starts.
    config = session.config
    name = impl_name(config)
    if name and not hasattr(config, "workerinput") and config.pluginmanager.hasplugin("dsession"):
        load_chosen(config, name)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: List[Any]) -> None:
    clause_items = [it for it in items if _clause_of(it) is not None
                    and getattr(getattr(it, "cls", None), "conformance_implementation", None) is None]
    if not clause_items:
        return  # not a conformance run (or only ConformanceTests subclasses): nothing to choose
    choose(config)
    xfails = xfails_path(config)

    patterns = config.getoption("clause")
    if patterns:
        clause_ids = {it: _clause_of(it) for it in items}
        keep = [it for it in items if clause_ids[it] is None or _selected(patterns, str(clause_ids[it]))]
        drop = [it for it in items if it not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    if xfails:
        for lineno, entry in load_xfails(xfails):
            hits = [it for it in items if matches(entry, it.nodeid, _clause_of(it))]
            if not hits:
                warnings.warn(f"{xfails}:{lineno}: xfail entry {entry!r} matches no collected test",
                              UserWarning, stacklevel=2)
            for it in hits:
                it.add_marker(pytest.mark.xfail(reason=f"listed in {xfails}:{lineno}", strict=False))
                setattr(it, _LISTED_XFAIL, True)


#: Set on an item that the xfails file lists: its failure is expected, so it is confirmed, not minimized.
_LISTED_XFAIL = "_conformance_listed_xfail"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Any:
    function = getattr(item, "obj", None)
    if not getattr(item, _LISTED_XFAIL, False) or not getattr(function, "is_hypothesis_test", False):
        yield
        return
    apply_clause_settings(function, without_shrinking(_clause_settings(item.config)))
    try:
        yield
    finally:
        apply_clause_settings(function, _clause_settings(item.config))


def pytest_runtest_setup(item: Any) -> None:
    # Claims are checked here, before the test runs, never inside a Hypothesis test: a skip raised inside
    # @given abandons the whole test at the first such example, so a claimed clause would not run at all.
    if _clause_of(item) is None:
        return
    impl = _class_impl(item) or chosen(item.config)
    if impl is None:
        return
    mark = item.get_closest_marker("requires")
    missing = sorted(impl.missing(mark.args)) if mark is not None else []
    if missing:
        pytest.skip(f"not claimed: {impl.name} does not claim {', '.join(missing)}")
    protocol = item.get_closest_marker("protocol")
    if protocol is not None and protocol.args[0] not in impl.protocols:
        pytest.skip(f"not claimed: {impl.name} does not claim protocol {protocol.args[0]}")


@pytest.fixture(scope="session")
def impl(request: Any) -> Any:
    """The implementation under test (a :class:`conformance.api.Implementation`)."""
    found = chosen(request.config)
    if found is None:
        pytest.fail("no implementation chosen: pass --impl NAME or set CONFORMANCE_IMPL", pytrace=False)
    return found


def pytest_report_header(config: Any) -> Optional[List[str]]:
    name = impl_name(config)
    if not name:
        return None
    modes = [m for m, on in (("derandomized", config.getoption("derandomize")),
                             ("exploring", config.getoption("explore")), ("no shrink", config.getoption("no_shrink")))
             if on]
    return [f"conformance: implementation {name!r}, profile "
            f"{config.getoption('conformance_profile') or os.environ.get('CONFORMANCE_PROFILE') or 'ci'}"
            + "".join(f", {m}" for m in modes)]
