"""Choosing the implementation a pytest run tests: ``--impl NAME`` or ``$CONFORMANCE_IMPL``, loaded once.

A mistake in choosing or writing the implementation, or in its xfails file, is the user's, not a test
failure: :class:`ImplementationChoiceError`, which the plugin turns into one ``ERROR:`` line and exit status
:data:`USAGE_ERROR_STATUS`. The implementation, once loaded, is kept on the pytest config
(:func:`chosen`), where the plugin's ``impl`` fixture and the report's event writer find it.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import pytest

__all__ = ["HOW_TO_CHOOSE", "ImplementationChoiceError", "USAGE_ERROR_STATUS", "choose", "chosen",
           "impl_name", "load_chosen", "xfails_path"]

#: The exit status of a run whose implementation cannot be chosen, loaded or built, or whose xfails file is
#: wrong: the same as ``objstore-conformance report``'s usage errors (pytest's own usage errors exit with 4).
USAGE_ERROR_STATUS = 2

#: What a run without an implementation says (``{names}``: the registered adapters).
HOW_TO_CHOOSE = (
    "the conformance suite needs an implementation to test: pass --impl NAME (or set CONFORMANCE_IMPL=NAME), "
    "where NAME is one of {names}, or 'package.module:factory' for a function that returns a "
    "conformance.api.Implementation. Example: pytest --pyargs conformance --impl reference"
)

_IMPL_KEY = "_conformance_impl"


class ImplementationChoiceError(pytest.UsageError):  # type: ignore[misc]  # final for typing only
    """The implementation (or its xfails file) cannot be used: the user's mistake, not a test failure.

    pytest prints its message as one ``ERROR:`` line on stderr and exits with :data:`USAGE_ERROR_STATUS`.
    (A subclass of pytest's ``UsageError`` because pytest turns any other exception raised during
    collection into an ``INTERNALERROR`` traceback.)
    """


def impl_name(config: Any) -> Optional[str]:
    """The implementation this run names: ``--impl``, else ``$CONFORMANCE_IMPL``, else ``None``."""
    return config.getoption("impl") or os.environ.get("CONFORMANCE_IMPL") or None


def xfails_path(config: Any) -> Optional[str]:
    """The xfails file this run names: ``--xfails-file``, else ``$CONFORMANCE_XFAILS``, else ``None``."""
    return config.getoption("xfails_file") or os.environ.get("CONFORMANCE_XFAILS") or None


def load_chosen(config: Any, name: str) -> Any:
    """The implementation ``name``, after checking the xfails file; :class:`ImplementationChoiceError`
    (one line, exit status 2) for any mistake in either."""
    from conformance.registry import ImplementationError, check_name, load_implementation
    from conformance.xfails_file import xfails_problem

    path = xfails_path(config)
    problem = xfails_problem(path) if path else None
    if problem:
        raise ImplementationChoiceError(problem)
    try:
        impl = load_implementation(name)
        check_name(name, impl)
    except ImplementationError as exc:
        raise ImplementationChoiceError(str(exc)) from exc
    return impl


def choose(config: Any) -> Any:
    """Load the implementation this run names and keep it on ``config``; :class:`ImplementationChoiceError`
    telling how to choose one when the run names none."""
    name = impl_name(config)
    if not name:
        from conformance.registry import available

        raise ImplementationChoiceError(HOW_TO_CHOOSE.format(names=", ".join(available())))
    impl = load_chosen(config, name)
    setattr(config, _IMPL_KEY, impl)
    return impl


def chosen(config: Any) -> Any:
    """The implementation :func:`choose` loaded for this run, or ``None`` before (or without) it."""
    return getattr(config, _IMPL_KEY, None)
