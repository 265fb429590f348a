"""Specimen classes: importable values of the kinds the strategies draw (:mod:`conformance.strategies`).

A serializer pickles these by reference, so they live in a module of their own that a child interpreter
or a printed reproduction can import (``from conformance.specimens import *``): holders of culprits,
objects whose attribute access fails or recurses, values that raise while pickled, builtin subclasses with
exact equality, and enums with custom values.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, Tuple

__all__ = [
    "Access",
    "BUILTIN_SUBCLASSES",
    "BytesSubclass",
    "Colour",
    "DictSubclass",
    "HOSTILE_CLASSES",
    "Holder",
    "IntSubclass",
    "Level",
    "ListSubclass",
    "MutatesWhilePickled",
    "OWN_ERRORS",
    "RaisesOnReduce",
    "RaisesWhilePickled",
    "RaisingGetattr",
    "RecursingGetattr",
    "RecursingGetattribute",
    "ReduceError",
    "SaveError",
    "SetSubclass",
    "SlottedHolder",
    "StateError",
    "StrSubclass",
    "TupleSubclass",
]


# -- attribute holders, for culprits nested in objects ------------------------------------------------------

class Holder:
    """A plain, importable class with attributes: the object nesting in :func:`unserializable_nestings`."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)

    def __repr__(self) -> str:
        return f"Holder({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class SlottedHolder:
    """An importable class with ``__slots__``, for culprits held in a slot."""

    __slots__ = ("first", "second")

    def __init__(self, first: Any = None, second: Any = None) -> None:
        self.first = first
        self.second = second

    def __repr__(self) -> str:
        return f"SlottedHolder({self.first!r}, {self.second!r})"


# -- objects that make an error path work hard -------------------------------------------------------------

class RaisingGetattr:
    """Holds ``held`` (drawn unserializable); reading any attribute it lacks raises ``RuntimeError``.

    An error path that describes the value it refuses (``getattr(value, "__qualname__", None)``) meets the
    ``RuntimeError``, not an ``AttributeError`` a default would absorb.
    """

    def __init__(self, held: Any) -> None:
        self.held = held

    def __getstate__(self) -> Any:
        return self.__dict__

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"RaisingGetattr has no attribute {name!r} and says so loudly")

    def __repr__(self) -> str:
        return f"RaisingGetattr({self.__dict__['held']!r})"


class RecursingGetattr:
    """Holds ``held``; reading any attribute it lacks recurses without end (``RecursionError``)."""

    def __init__(self, held: Any) -> None:
        self.held = held

    def __getstate__(self) -> Any:
        return self.__dict__

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)  # _target is never set: __getattr__ again, for ever

    def __repr__(self) -> str:
        return f"RecursingGetattr({self.__dict__['held']!r})"


class RecursingGetattribute:
    """Holds ``held``; its ``__getattribute__`` recurses without end on ``__qualname__`` and ``__name__``."""

    def __init__(self, held: Any) -> None:
        self.held = held

    def __getattribute__(self, name: str) -> Any:
        if name in ("__qualname__", "__name__"):
            return getattr(self, name)
        return object.__getattribute__(self, name)

    def __repr__(self) -> str:
        return f"RecursingGetattribute({object.__getattribute__(self, 'held')!r})"


#: The classes :func:`hostile_objects` draws from.
HOSTILE_CLASSES: Tuple[type, ...] = (RaisingGetattr, RecursingGetattr, RecursingGetattribute)


class ReduceError(Exception):
    """An error of a value's own, raised while it is pickled: not a way of refusing a value."""


class RaisesOnReduce:
    """Raises :class:`ReduceError` from ``__reduce__`` (say, a resource that fails while being saved)."""

    def __init__(self, message: str = "the value's own failure") -> None:
        self.message = message

    def __reduce__(self) -> Any:
        raise ReduceError(self.message)

    def __repr__(self) -> str:
        return f"RaisesOnReduce({self.message!r})"


class StateError(RuntimeError):
    """A ``RuntimeError`` of a value's own, raised while it is saved (a state that cannot be captured now)."""


class SaveError(OSError):
    """An ``OSError`` of a value's own, raised while it is saved (a resource it reads from fails)."""


#: The errors of the values' own that :class:`RaisesWhilePickled` raises, by name (none is a pickling
#: refusal: not ``PicklingError``, ``TypeError``, ``AttributeError``, ``ValueError`` or ``RecursionError``).
OWN_ERRORS: Dict[str, type] = {"ReduceError": ReduceError, "StateError": StateError, "SaveError": SaveError}


class RaisesWhilePickled:
    """Raises ``OWN_ERRORS[error](message)`` from ``hook`` when pickled: ``"__reduce_ex__"`` (asked first by
    every pickler), ``"__reduce__"`` or ``"__getstate__"`` (asked by the default reduction). Every
    pickler, C or pure-Python, meets the error, whatever the value around it."""

    def __init__(self, hook: str = "__reduce__", error: str = "ReduceError", message: str = "") -> None:
        if hook not in ("__reduce_ex__", "__reduce__", "__getstate__") or error not in OWN_ERRORS:
            raise ValueError(f"hook {hook!r} or error {error!r} is not one RaisesWhilePickled knows")
        self.hook = hook
        self.error = error
        self.message = message

    def _raise_if(self, hook: str) -> None:
        if self.hook == hook:
            raise OWN_ERRORS[self.error](self.message or f"{self.error} from {hook}")

    def __reduce_ex__(self, protocol: Any) -> Any:
        self._raise_if("__reduce_ex__")
        return self.__reduce__()

    def __reduce__(self) -> Any:
        self._raise_if("__reduce__")
        return _rebuild_raiser, (self.hook, self.error, self.message), self.__getstate__()

    def __getstate__(self) -> Any:
        self._raise_if("__getstate__")
        return None

    def __repr__(self) -> str:
        return f"RaisesWhilePickled({self.hook!r}, {self.error!r}, {self.message!r})"


def _rebuild_raiser(hook: str, error: str, message: str) -> RaisesWhilePickled:
    return RaisesWhilePickled(hook, error, message)


class MutatesWhilePickled:
    """Adds a key to the dict ``target`` when pickled: a dict holding it changes size while pickled, and
    pickle raises ``RuntimeError`` (what another thread changing a value being serialized does)."""

    def __init__(self, target: Dict[Any, Any]) -> None:
        self.target = target

    def __reduce__(self) -> Any:
        self.target[f"added-{len(self.target)}"] = 0
        return int, (0,)

    def __repr__(self) -> str:
        return "MutatesWhilePickled(<the dict that holds it>)"


# -- builtin subclasses and enums ----------------------------------------------------------------------------

def _same_items(a: Any, b: Any) -> bool:
    from conformance.compare import same

    return same(a, b, check_identity=False)


class _ExactSubclass:
    """Equality of a builtin subclass instance: the same subclass, the same builtin value compared exactly
    (:func:`conformance.compare.same`: ``nan`` matches ``nan``, ``-0.0`` is not ``0.0``), the same
    instance attributes."""

    _base: type = object

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and _same_items(self._base(self), self._base(other))
                and _same_items(getattr(self, "__dict__", {}), getattr(other, "__dict__", {})))

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        extra = getattr(self, "__dict__", {})
        return f"{type(self).__name__}({self._base(self)!r}{', ' + repr(extra) if extra else ''})"


def _exact_subclass(base: type) -> Any:
    """``<Base>Subclass``: a subclass of the builtin ``base`` with :class:`_ExactSubclass` equality, hashable
    when ``base`` is, and an instance ``__dict__``; importable from this module by its name (so it pickles by
    reference)."""
    name = f"{base.__name__.capitalize()}Subclass"
    return type(name, (_ExactSubclass, base), {
        "__doc__": f"A subclass of ``{base.__name__}``.", "__module__": __name__, "__qualname__": name,
        "_base": base, "__hash__": base.__hash__})


IntSubclass = _exact_subclass(int)
StrSubclass = _exact_subclass(str)
BytesSubclass = _exact_subclass(bytes)
TupleSubclass = _exact_subclass(tuple)
ListSubclass = _exact_subclass(list)
DictSubclass = _exact_subclass(dict)
SetSubclass = _exact_subclass(set)


#: The builtin subclasses :func:`builtin_subclass_values` draws, by the builtin they subclass.
BUILTIN_SUBCLASSES: Dict[type, type] = {int: IntSubclass, str: StrSubclass, bytes: BytesSubclass,
                                        tuple: TupleSubclass, list: ListSubclass, dict: DictSubclass,
                                        set: SetSubclass}


class Colour(enum.Enum):
    """An enum whose values are of several kinds: a tuple, a str, a float and a frozenset."""

    RED = (255, 0, 0)
    GREEN = "green"
    BLUE = 0.5
    ALPHA = frozenset({1, 2})


class Level(enum.IntEnum):
    """An ``IntEnum`` (its members are ints too)."""

    LOW = -1
    HIGH = 2 ** 70


class Access(enum.Flag):
    """A ``Flag``: combinations of members are values too."""

    READ = 1
    WRITE = 2
    EXEC = 4
