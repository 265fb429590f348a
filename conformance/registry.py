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
import os
from typing import Callable, Dict, List

from conformance.api import Implementation

__all__ = ["ENTRY_POINT_GROUP", "FactoryError", "ImplementationError", "ImplementationImportError",
           "NotAnImplementationError", "UnknownImplementationError", "available", "builtin_names", "check_name",
           "load_implementation"]

ENTRY_POINT_GROUP = "objstore_conformance.adapters"


class ImplementationError(Exception):
    """The implementation asked for cannot be loaded or built.

    The message is one line that names the spec, what went wrong (with the file and line where the user's
    code raised, when it did) and how to fix it; the original exception is chained as ``__cause__``.
    Subclasses keep the built-in base that callers caught before this class existed.
    """


class UnknownImplementationError(ImplementationError, LookupError):
    """No adapter goes by the name asked for, or the module of ``package.module:factory`` lacks the factory."""


class ImplementationImportError(ImplementationError, ImportError):
    """The adapter's module, or something the adapter needs, cannot be imported."""


class FactoryError(ImplementationError):
    """The factory raised while building the implementation (an unknown capability, a claim without the
    operation it needs, ...): the adapter is wrong, not the suite."""


class NotAnImplementationError(ImplementationError, TypeError):
    """The factory returned something other than a :class:`conformance.api.Implementation`."""


def _one_line(text: str, limit: int = 400) -> str:
    """``text`` as one line of at most ``limit`` characters (a report cell, a terminal line)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _where(exc: BaseException) -> str:
    """`` (at file:line)``: where the user's code raised ``exc`` (the innermost frame of its traceback
    outside this package and importlib; the innermost one if all are inside), or ``""``."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {exc.filename}:{exc.lineno})"
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    innermost = ours = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<") and "importlib" not in filename:
            innermost = f" (at {filename}:{tb.tb_lineno})"
            if not os.path.abspath(filename).startswith(here):
                ours = innermost
        tb = tb.tb_next
    return ours or innermost


def _describe(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}") + _where(exc)


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
        found = eps.get(ENTRY_POINT_GROUP, [])  # type: ignore[arg-type]
    return {ep.name: ep for ep in found}


#: Adapters of peer systems and the module each needs: ``available()`` lists them only where it is installed.
_PEERS = {"ray": "ray", "plasma": "pyarrow.plasma", "dask": "distributed", "dask-serialize": "distributed",
          "joblib": "joblib", "srsly": "srsly", "torch": "torch", "vineyard": "vineyard", "vineyard-native": "vineyard"}


def _peer_installed(name: str) -> bool:
    module = _PEERS.get(name)
    if module is None:
        return True
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:  # the parent package (pyarrow) is missing
        return False
    # A folder of that name on sys.path (e.g. ./ray of a checkout) is a namespace package, not the peer.
    return spec is not None and spec.origin not in (None, "namespace")


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


def _import_factory(spec: str) -> object:
    """The object ``package.module:factory`` names, or an :class:`ImplementationError` saying why not."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UnknownImplementationError(
            f"cannot load implementation {spec!r}: a factory spec is 'package.module:function', with both "
            f"parts; e.g. --impl mypackage.adapter:implementation")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ImplementationImportError(
                f"cannot load implementation {spec!r}: there is no module {exc.name!r}; check the spelling "
                f"and install the package that holds it (pip install -e .) or put its folder on PYTHONPATH",
                name=exc.name) from exc
        raise ImplementationImportError(
            f"cannot load implementation {spec!r}: importing {module_name!r} failed with {_describe(exc)}; "
            f"install what it needs", name=exc.name) from exc
    except Exception as exc:  # noqa: BLE001 - any error while importing the user's module is theirs
        raise ImplementationImportError(
            f"cannot load implementation {spec!r}: importing {module_name!r} failed with {_describe(exc)}; "
            f"fix the module so that it imports") from exc
    factory: object = module
    for part in attr.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            raise UnknownImplementationError(
                f"cannot load implementation {spec!r}: module {module_name!r} has no attribute {attr!r}; "
                f"give the name of a function there that returns a conformance.api.Implementation") from None
    return factory


def load_implementation(spec: str) -> Implementation:
    """The implementation called ``spec``: a shipped adapter, an entry point, a mutant
    (``mutant.<defect>``) or ``package.module:factory``.

    Raises an :class:`ImplementationError` whose message is one line naming the problem and the fix:
    :class:`UnknownImplementationError` (a ``LookupError``) naming the choices when ``spec`` matches
    nothing, :class:`ImplementationImportError` (an ``ImportError``) when the adapter's module or what it
    needs cannot be imported, :class:`FactoryError` when the factory raises (for instance
    ``conformance.api.Implementation`` refusing an unknown capability or a claim without its operation),
    and :class:`NotAnImplementationError` (a ``TypeError``) when it returns something else.
    """
    spec = spec.strip()
    factory: object
    if ":" in spec:
        factory = _import_factory(spec)
    elif spec.startswith("mutant."):
        from conformance import mutants

        try:
            factory = mutants.MUTANTS[spec[len("mutant."):]].factory
        except KeyError:
            raise UnknownImplementationError(
                f"cannot load implementation {spec!r}: there is no such mutant; the mutants are "
                f"{', '.join(mutant_names())}") from None
    else:
        table: Dict[str, object] = dict(_builtins())
        eps = _entry_points()
        if spec in table:
            factory = table[spec]
        elif spec in eps:
            try:
                factory = eps[spec].load()  # type: ignore[attr-defined]
            except ImportError as exc:
                raise ImplementationImportError(
                    f"cannot load implementation {spec!r}: its entry point {eps[spec].value!r} "  # type: ignore[attr-defined]
                    f"failed to import with {_describe(exc)}; install what it needs") from exc
            except Exception as exc:  # noqa: BLE001 - the third party's module or entry point is wrong
                raise ImplementationImportError(
                    f"cannot load implementation {spec!r}: its entry point {eps[spec].value!r} "  # type: ignore[attr-defined]
                    f"failed to load with {_describe(exc)}; fix the module or the entry point") from exc
        else:
            raise UnknownImplementationError(
                f"cannot load implementation {spec!r}: no adapter has that name. Choose one of "
                f"{', '.join(available())}, a mutant "
                f"(mutant.<defect>), or give 'package.module:factory' for a function that returns a "
                f"conformance.api.Implementation; adapters register under the entry-point group "
                f"{ENTRY_POINT_GROUP!r}.")
    if isinstance(factory, Implementation) or not callable(factory):
        impl = factory
    else:
        try:
            impl = factory()
        except ImportError as exc:
            raise ImplementationImportError(
                f"cannot load implementation {spec!r}: its factory raised {_describe(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - whatever the factory raises, the adapter is at fault
            raise FactoryError(
                f"cannot load implementation {spec!r}: its factory raised {_describe(exc)}; fix the adapter "
                f"so that it builds a valid conformance.api.Implementation (see conformance/README.md, "
                f"'Test your own implementation')") from exc
    if not isinstance(impl, Implementation):
        raise NotAnImplementationError(
            f"cannot load implementation {spec!r}: it gave {_one_line(repr(impl), 120)} (a "
            f"{type(impl).__name__}), not a conformance.api.Implementation; make the factory return "
            f"Implementation(name=..., serializer=..., ...)")
    return impl


def check_name(spec: str, impl: Implementation) -> None:
    """Raise :class:`FactoryError` unless ``impl``, loaded from ``spec``, can be loaded again by its own
    ``name``: clauses load it by name in fresh interpreters, and every ``# reproduce:`` snippet names it.

    A name equal to ``spec`` passes at once; another name is loaded (so its factory runs once more)."""
    if impl.name == spec.strip():
        return
    try:
        load_implementation(impl.name)
    except ImplementationError:
        raise FactoryError(
            f"cannot use implementation {spec!r}: it is named {impl.name!r}, which does not load (the suite "
            f"loads it again by name in fresh interpreters, and its snippets name it); set "
            f"name={spec.strip()!r} in its Implementation, or register {impl.name!r} under the entry-point group "
            f"{ENTRY_POINT_GROUP!r}") from None
