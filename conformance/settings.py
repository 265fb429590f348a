"""The suite's Hypothesis settings: the profiles ``ci`` and ``nightly``, and how a clause gets them.

The pytest plugin (:mod:`conformance.plugin`) gives the object :func:`clause_settings` makes to each clause's
test when it is collected (:func:`apply_clause_settings`); no profile is loaded for the process, so other
tests in the same run keep their own. :func:`load_profile` is for a script that wants the suite's settings
for every Hypothesis test it runs.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

__all__ = ["PROFILES", "apply_clause_settings", "clause_settings", "load_profile", "without_shrinking"]

#: Hypothesis settings for the suite: ``ci`` is quick (the default), ``nightly`` thorough.
PROFILES: Dict[str, Dict[str, Any]] = {
    "ci": {"max_examples": 50},
    "nightly": {"max_examples": 400},
}


def clause_settings(name: Optional[str] = None, *, max_examples: Optional[int] = None,
                    hypothesis_profile: Optional[str] = None, database: Optional[str] = None,
                    shrink: bool = True, derandomize: Optional[bool] = None) -> Any:
    """Returns the Hypothesis ``settings`` object the suite applies to each of its clauses: profile ``name``
    (``ci``/``nightly``; default ``$CONFORMANCE_PROFILE`` or ``ci``), or the Hypothesis profile
    ``hypothesis_profile`` as the base, with ``max_examples`` on top, and the example database in the folder
    ``database`` when given. No deadline (stores and children vary in speed), failure blobs printed,
    slow-generation health checks off. ``shrink=False`` leaves out Hypothesis' shrink phase (failures as
    found: :func:`without_shrinking`). ``derandomize=True`` draws the same examples on every run of the same
    code and uses no example database (``database`` is ignored: Hypothesis' rule), the deterministic gate;
    ``False`` draws random ones even where Hypothesis would derandomize (its default when ``$CI`` is set);
    ``None`` keeps Hypothesis' default.

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
    return found if shrink else without_shrinking(found)


def load_profile(name: Optional[str] = None, *, max_examples: Optional[int] = None,
                 hypothesis_profile: Optional[str] = None, database: Optional[str] = None) -> None:
    """Register :func:`clause_settings` as the Hypothesis profile ``conformance`` and load it for the whole
    process. The suite itself never calls this (it applies its settings to its clauses alone); it is for a
    script that wants every Hypothesis test it runs to use the suite's settings."""
    from hypothesis import settings

    settings.register_profile("conformance", clause_settings(
        name, max_examples=max_examples, hypothesis_profile=hypothesis_profile, database=database))
    settings.load_profile("conformance")


def apply_clause_settings(function: Any, settings_: Any) -> None:
    """Give the Hypothesis test ``function`` (a clause) the settings ``settings_`` for its next runs.

    ``@given`` reads its settings when the test is called, from the attribute that ``@settings`` sets; the
    suite sets it per clause instead of loading a profile for the whole process. A function that is not a
    Hypothesis test is left alone."""
    if getattr(function, "is_hypothesis_test", False):
        function = getattr(function, "__func__", function)  # a method of a ConformanceTests subclass
        function._hypothesis_internal_use_settings = settings_


def without_shrinking(settings_: Any) -> Any:
    """``settings_`` without Hypothesis' shrink phase: for a clause the xfails file lists, whose failure is
    expected, finding it is enough. (Shrinking a stateful run through a slow store, Ray's, took six of a
    CI run's minutes.) Run without the xfails file to see the smallest failing example."""
    from hypothesis import Phase, settings

    return settings(settings_, phases=[phase for phase in settings_.phases if phase is not Phase.shrink])
