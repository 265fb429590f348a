"""The suite as a base class to subclass in your own tests (as zarr's ``StoreTests``).

::

    # tests/test_conformance.py of your project
    from conformance.testing import ConformanceTests

    class TestMyStore(ConformanceTests):
        implementation = "mypackage.adapter:implementation"   # or a registered adapter name

Every clause then runs as a test of ``TestMyStore`` (``pytest tests/test_conformance.py``), with the
same capability skips, ids and snippets as ``pytest --pyargs conformance --impl ...``. The implementation
is given by name (not as an object) because some clauses load it again in a fresh interpreter.
The plugin gives each clause the suite's Hypothesis settings (``$CONFORMANCE_PROFILE``, default ``ci``,
or ``--conformance-profile`` / ``--max-examples``); importing this module changes no settings, so the
other tests of your project keep their own Hypothesis profile.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import pytest

from conformance.clauses import all_clauses

__all__ = ["ConformanceTests"]


class ConformanceTests:
    """Every conformance clause, as test methods bound to ``implementation`` (a spec string)."""

    implementation: Optional[str] = None
    #: The loaded implementation, set on each subclass by conformance_implementation().
    _conformance_loaded: ClassVar[Any]

    @pytest.fixture
    def impl(self) -> Any:
        return self.conformance_implementation()

    @classmethod
    def conformance_implementation(cls) -> Any:
        """The implementation under test, loaded once per class."""
        from conformance.registry import load_implementation

        cached = cls.__dict__.get("_conformance_loaded")
        if cached is not None:
            return cached
        if not isinstance(cls.implementation, str):
            raise TypeError(f"{cls.__name__}.implementation must name an implementation ('reference' or "
                            f"'package.module:factory'), got {cls.implementation!r}")
        loaded = load_implementation(cls.implementation)
        cls._conformance_loaded = loaded
        return loaded


def _install() -> None:
    import importlib

    for info in all_clauses().values():
        fn = getattr(importlib.import_module(info.module), info.function)
        setattr(ConformanceTests, info.function, staticmethod(fn))


_install()
