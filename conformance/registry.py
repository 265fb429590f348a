"""Finding implementations by name: the shipped adapters, entry points, and ``package.module:factory``.

A third party registers an adapter in its ``pyproject.toml``::

    [project.entry-points."objstore_conformance.adapters"]
    mystore = "mystore.conformance:implementation"

where ``implementation()`` returns a :class:`conformance.api.Implementation`. Then
``pytest --pyargs conformance --impl mystore`` tests it.
"""

from __future__ import annotations

import importlib
import importlib.util

from typing import Callable, Dict, List

from conformance.api import Implementation

__all__ = ["ENTRY_POINT_GROUP", "UnknownImplementationError", "available", "builtin_names",
           "load_implementation"]

ENTRY_POINT_GROUP = "objstore_conformance.adapters"


class UnknownImplementationError(LookupError):
    """No adapter goes by the name asked for."""


def _builtins() -> Dict[str, Callable[[], Implementation]]:
    from conformance import adapters

    table: Dict[str, Callable[[], Implementation]] = {
        "reference": adapters.reference_implementation,
        "pickle3": lambda: adapters.pickle_implementation(3),
        "pickle4": lambda: adapters.pickle_implementation(4),
        "pickle5": lambda: adapters.pickle_implementation(5),
        "cloudpickle": adapters.cloudpickle_implementation,
        "shared_memory": adapters.shared_memory_implementation,
    }
    return table


def _entry_points() -> Dict[str, object]:
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        found = eps.select(group=ENTRY_POINT_GROUP)
    else:  # Python 3.8 / 3.9: a dict of groups
        found = eps.get(ENTRY_POINT_GROUP, ())
    return {ep.name: ep for ep in found}


#: Adapters of peer systems and the module each needs: ``available()`` lists them only where it is installed.
_PEERS = {"ray": "ray", "plasma": "pyarrow.plasma"}


def _peer_installed(name: str) -> bool:
    module = _PEERS.get(name)
    if module is None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package (pyarrow) is missing
        return False


def builtin_names() -> List[str]:
    """The names of the adapters shipped with the suite."""
    return list(_builtins())


def mutant_names() -> List[str]:
    """The names of the mutants (``mutant.<defect>``), which are loadable but never "available"."""
    from conformance import mutants

    return [f"mutant.{name}" for name in mutants.MUTANTS]


def available() -> List[str]:
    """Every implementation name a report covers by default: shipped adapters, then entry points."""
    names = builtin_names()
    names += [n for n in sorted(_entry_points()) if n not in names and _peer_installed(n)]
    return names


def load_implementation(spec: str) -> Implementation:
    """The implementation called ``spec``: a shipped adapter, an entry point, a mutant
    (``mutant.<defect>``) or ``package.module:factory``.

    Raises :class:`UnknownImplementationError` naming the choices when ``spec`` matches nothing, and
    ``TypeError`` when the factory returns something other than an ``Implementation``.
    """
    spec = spec.strip()
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        module = importlib.import_module(module_name)
        factory = module
        for part in attr.split("."):
            factory = getattr(factory, part)
    elif spec.startswith("mutant."):
        from conformance import mutants

        try:
            factory = mutants.MUTANTS[spec[len("mutant."):]].factory
        except KeyError:
            raise UnknownImplementationError(
                f"no mutant called {spec!r}; the mutants are {', '.join(mutant_names())}") from None
    else:
        table: Dict[str, object] = dict(_builtins())
        eps = _entry_points()
        if spec in table:
            factory = table[spec]
        elif spec in eps:
            factory = eps[spec].load()  # type: ignore[attr-defined]
        else:
            raise UnknownImplementationError(
                f"no implementation called {spec!r}. Choose one of {', '.join(available())}, a mutant "
                f"(mutant.<defect>), or give 'package.module:factory' for a function that returns a "
                f"conformance.api.Implementation; adapters register under the entry-point group "
                f"{ENTRY_POINT_GROUP!r}.")
    impl = factory() if callable(factory) and not isinstance(factory, Implementation) else factory
    if not isinstance(impl, Implementation):
        raise TypeError(f"{spec!r} gave {impl!r}, not a conformance.api.Implementation")
    return impl


