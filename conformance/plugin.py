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

The Hypothesis settings those options make (:func:`clause_settings`) are given to each clause's test when it
is collected; no profile is loaded for the process, so other tests in the same run keep their own. Claims
(markers ``requires`` and ``protocol``) are checked before a clause's test starts, never inside it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conformance.store_fixtures import make_store  # noqa: F401 - a fixture for every clause (and subclass)

__all__ = ["ImplementationChoiceError", "PROFILES", "USAGE_ERROR_STATUS", "apply_clause_settings", "clause_settings",
           "load_profile", "load_xfails", "xfails_problems"]

#: Hypothesis settings for the suite: ``ci`` is quick (the default), ``nightly`` thorough.
PROFILES: Dict[str, Dict[str, Any]] = {
    "ci": {"max_examples": 50},
    "nightly": {"max_examples": 400},
}

_IMPL_KEY = "_conformance_impl"

_HOW_TO_CHOOSE = (
    "the conformance suite needs an implementation to test: pass --impl NAME (or set CONFORMANCE_IMPL=NAME), "
    "where NAME is one of {names}, or 'package.module:factory' for a function that returns a "
    "conformance.api.Implementation. Example: pytest --pyargs conformance --impl reference"
)


#: The exit status of a run whose implementation cannot be chosen, loaded or built, or whose xfails file is
#: wrong: the same as ``objstore-conformance report``'s usage errors (pytest's own usage errors exit with 4).
USAGE_ERROR_STATUS = 2


class ImplementationChoiceError(pytest.UsageError):  # type: ignore[misc]  # final for typing only
    """The implementation (or its xfails file) cannot be used: the user's mistake, not a test failure.

    pytest prints its message as one ``ERROR:`` line on stderr and exits with :data:`USAGE_ERROR_STATUS`.
    (A subclass of pytest's ``UsageError`` because pytest turns any other exception raised during
    collection into an ``INTERNALERROR`` traceback.)
    """


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


def _impl_name(config: Any) -> Optional[str]:
    return config.getoption("impl") or os.environ.get("CONFORMANCE_IMPL") or None


def clause_settings(name: Optional[str] = None, *, max_examples: Optional[int] = None,
                    hypothesis_profile: Optional[str] = None, database: Optional[str] = None,
                    shrink: bool = True, derandomize: Optional[bool] = None) -> Any:
    """Returns the Hypothesis ``settings`` object the suite applies to each of its clauses: profile ``name``
    (``ci``/``nightly``; default ``$CONFORMANCE_PROFILE`` or ``ci``), or the Hypothesis profile
    ``hypothesis_profile`` as the base, with ``max_examples`` on top, and the example database in the folder
    ``database`` when given. No deadline (stores and children vary in speed), failure blobs printed,
    slow-generation health checks off. ``shrink=False`` leaves out Hypothesis' shrink phase (failures as
    found). ``derandomize=True`` draws the same examples on every run of the same code and uses no example
    database (``database`` is ignored: Hypothesis' rule); ``False`` draws random ones even where Hypothesis
    would derandomize (its default when ``$CI`` is set); ``None`` keeps Hypothesis' default.

    Nothing process-wide changes: the plugin applies this object to the clauses' tests only (see
    :func:`apply_clause_settings`), so a user's own tests keep their own profile. Raises ``ValueError`` for
    an unknown profile or a ``max_examples`` below 1."""
    from hypothesis import HealthCheck, settings

    name = name or os.environ.get("CONFORMANCE_PROFILE") or "ci"
    if name not in PROFILES:
        raise ValueError(f"unknown conformance profile {name!r}: choose one of {sorted(PROFILES)}")
    base = settings.get_profile(hypothesis_profile) if hypothesis_profile else settings(**PROFILES[name])
    overrides: Dict[str, Any] = {
        "deadline": None,
        "print_blob": True,
        "suppress_health_check": list(base.suppress_health_check) + [
            HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture],  # impl is loaded once; stores are made per example
    }
    if max_examples is not None:
        if max_examples < 1:
            raise ValueError(f"--max-examples must be a positive integer, got {max_examples}")
        overrides["max_examples"] = max_examples
    if derandomize:
        overrides.update(derandomize=True, database=None)
    else:
        if derandomize is not None:
            overrides["derandomize"] = False
        if database:
            from hypothesis.database import DirectoryBasedExampleDatabase

            overrides["database"] = DirectoryBasedExampleDatabase(database)
    found = settings(base, **overrides)
    return found if shrink else _confirming(found)


def load_profile(name: Optional[str] = None, *, max_examples: Optional[int] = None,
                 hypothesis_profile: Optional[str] = None, database: Optional[str] = None) -> None:
    """Register :func:`clause_settings` as the Hypothesis profile ``conformance`` and load it for the whole
    process. The suite itself never calls this (it applies its settings to its clauses alone); it is for a
    script that wants every Hypothesis test it runs to use the suite's settings."""
    from hypothesis import settings

    settings.register_profile("conformance", clause_settings(
        name, max_examples=max_examples, hypothesis_profile=hypothesis_profile, database=database))
    settings.load_profile("conformance")


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


def apply_clause_settings(function: Any, settings_: Any) -> None:
    """Give the Hypothesis test ``function`` (a clause) the settings ``settings_`` for its next runs.

    ``@given`` reads its settings when the test is called, from the attribute that ``@settings`` sets; the
    suite sets it per clause instead of loading a profile for the whole process. A function that is not a
    Hypothesis test is left alone."""
    if getattr(function, "is_hypothesis_test", False):
        function = getattr(function, "__func__", function)  # a method of a ConformanceTests subclass
        function._hypothesis_internal_use_settings = settings_


def pytest_configure(config: Any) -> None:
    if config.getoption("ray_address", None):
        os.environ["RAY_ADDRESS"] = config.getoption("ray_address")
    config.addinivalue_line("markers", "clause(id): the conformance clause a test checks")
    config.addinivalue_line("markers", "requires(*capabilities): capabilities a clause needs claimed")
    config.addinivalue_line("markers", "protocol(n): the pickle protocol a clause (or one of its parametrized "
                                       "items) needs claimed")
    if _impl_name(config):
        _clause_settings(config)  # a wrong profile or --max-examples is a usage error before collection


@pytest.fixture
def conformance_settings(request: Any) -> Any:
    """The Hypothesis ``settings`` of this run's clauses (for a clause that runs Hypothesis itself, such as
    a state machine); without the shrink phase for a clause the xfails file lists (:func:`_confirming`)."""
    found = _clause_settings(request.config)
    return _confirming(found) if getattr(request.node, _LISTED_XFAIL, False) else found


def load_xfails(path: str) -> List[Tuple[int, str]]:
    """The (line number, test id) entries of an xfails file: one id a line, ``#`` starts a comment."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if text:
                entries.append((n, text))
    return entries


def _known_entry(entry: str, ids: Any, functions: Any) -> bool:
    if entry in ids:
        return True
    test = entry.rsplit("::", 1)[-1].split("[", 1)[0]
    return test in functions


def xfails_problems(path: str) -> List[str]:
    """What is wrong with the xfails file at ``path``, one line each: a missing file, or an entry that
    names neither a clause id nor a clause's test (by its function name, or a node id ending in it).

    An entry that is known but matches no collected test (its clause was deselected) is not a problem.
    """
    from conformance.clauses import all_clauses

    try:
        entries = load_xfails(path)
    except OSError as exc:
        return [f"cannot read the xfails file {path!r} ({exc.strerror or exc}); give the path of a file of "
                f"clause ids or node ids, one a line"]
    except UnicodeDecodeError:
        return [f"the xfails file {path!r} is not UTF-8 text; give a file of clause ids or node ids, one a line"]
    infos = all_clauses()
    functions = {info.function for info in infos.values()}
    return [f"the xfails file {path}, line {lineno}, names {entry!r}, which is no clause id and no clause's "
            f"test; fix the id (`objstore-conformance list` prints every clause) or delete the line"
            for lineno, entry in entries if not _known_entry(entry, infos, functions)]


def _clause_of(item: Any) -> Optional[str]:
    mark = item.get_closest_marker("clause")
    return mark.args[0] if mark is not None else None


def _matches(entry: str, item: Any) -> bool:
    nodeid = item.nodeid
    clause_id = _clause_of(item)
    return (entry == clause_id or nodeid == entry or nodeid.endswith("/" + entry)
            or nodeid.endswith("::" + entry) or nodeid.split("::", 1)[-1] == entry)


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


def _xfails_path(config: Any) -> Optional[str]:
    return config.getoption("xfails_file") or os.environ.get("CONFORMANCE_XFAILS") or None


def _load_chosen(config: Any, name: str) -> Any:
    """The implementation ``name``, after checking the xfails file; :class:`ImplementationChoiceError`
    (one line, exit status 2) for any mistake in either."""
    from conformance.registry import ImplementationError, check_name, load_implementation

    xfails_path = _xfails_path(config)
    if xfails_path:
        problems = xfails_problems(xfails_path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ImplementationChoiceError(problems[0] + more)
    try:
        impl = load_implementation(name)
        check_name(name, impl)
    except ImplementationError as exc:
        raise ImplementationChoiceError(str(exc)) from exc
    return impl


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: Any) -> None:
    # Under pytest-xdist (-n) the controller collects nothing and a worker's usage error would surface as a
    # crashed worker: check the choice here, once, before any worker starts.
    config = session.config
    name = _impl_name(config)
    if name and not hasattr(config, "workerinput") and config.pluginmanager.hasplugin("dsession"):
        _load_chosen(config, name)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: List[Any]) -> None:
    clause_items = [it for it in items if _clause_of(it) is not None
                    and getattr(getattr(it, "cls", None), "conformance_implementation", None) is None]
    if not clause_items:
        return  # not a conformance run (or only ConformanceTests subclasses): nothing to choose
    name = _impl_name(config)
    if not name:
        from conformance.registry import available

        raise ImplementationChoiceError(_HOW_TO_CHOOSE.format(names=", ".join(available())))
    impl = _load_chosen(config, name)
    setattr(config, _IMPL_KEY, impl)
    xfails_path = _xfails_path(config)

    patterns = config.getoption("clause")
    if patterns:
        clause_ids = {it: _clause_of(it) for it in items}
        keep = [it for it in items if clause_ids[it] is None or _selected(patterns, str(clause_ids[it]))]
        drop = [it for it in items if it not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    if xfails_path:
        entries = load_xfails(xfails_path)
        for lineno, entry in entries:
            hits = [it for it in items if _matches(entry, it)]
            if not hits:
                warnings.warn(f"{xfails_path}:{lineno}: xfail entry {entry!r} matches no collected test",
                              UserWarning, stacklevel=2)
            for it in hits:
                it.add_marker(pytest.mark.xfail(reason=f"listed in {xfails_path}:{lineno}", strict=False))
                setattr(it, _LISTED_XFAIL, True)


#: Set on an item that the xfails file lists: its failure is expected, so it is confirmed, not minimized.
_LISTED_XFAIL = "_conformance_listed_xfail"


def _confirming(settings_: Any) -> Any:
    """``settings_`` without Hypothesis' shrink phase: for a clause the xfails file lists, whose failure is
    expected, finding it is enough. (Shrinking a stateful run through a slow store, Ray's, took six of a
    CI run's minutes.) Run without the xfails file to see the smallest failing example."""
    from hypothesis import Phase, settings

    return settings(settings_, phases=[phase for phase in settings_.phases if phase is not Phase.shrink])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Any:
    function = getattr(item, "obj", None)
    if not getattr(item, _LISTED_XFAIL, False) or not getattr(function, "is_hypothesis_test", False):
        yield
        return
    apply_clause_settings(function, _confirming(_clause_settings(item.config)))
    try:
        yield
    finally:
        apply_clause_settings(function, _clause_settings(item.config))


def pytest_runtest_setup(item: Any) -> None:
    # Claims are checked here, before the test runs, never inside a Hypothesis test: a skip raised inside
    # @given abandons the whole test at the first such example, so a claimed clause would not run at all.
    if _clause_of(item) is None:
        return
    impl = _class_impl(item) or getattr(item.config, _IMPL_KEY, None)
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
    found = getattr(request.config, _IMPL_KEY, None)
    if found is None:
        pytest.fail("no implementation chosen: pass --impl NAME or set CONFORMANCE_IMPL", pytrace=False)
    return found


def pytest_report_header(config: Any) -> Optional[List[str]]:
    name = _impl_name(config)
    if not name:
        return None
    modes = [m for m, on in (("derandomized", config.getoption("derandomize")),
                             ("exploring", config.getoption("explore")), ("no shrink", config.getoption("no_shrink")))
             if on]
    return [f"conformance: implementation {name!r}, profile "
            f"{config.getoption('conformance_profile') or os.environ.get('CONFORMANCE_PROFILE') or 'ci'}"
            + "".join(f", {m}" for m in modes)]
