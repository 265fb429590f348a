"""The operations a typing ``Protocol`` declares, and whether an object (or a class) provides them.

:mod:`conformance.api` writes the contract once, as Protocols; this module reads it: :func:`operations`
turns a Protocol's methods into calls that must bind (``get(object_id, *, timeout)`` is called with one
positional argument and the keyword ``timeout``), and :func:`missing_operation` says what an object lacks.
A method that a class only inherits from the Protocol it types against (the Protocol's stub) counts as
missing. Nothing here knows which capability needs which Protocol: that table is the contract's.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["Operation", "annotated_return", "missing_operation", "operation_problem", "operations",
           "protocol_attributes", "protocol_members"]


class Operation(typing.NamedTuple):
    """A Protocol's method as the contract calls it: its name, how it is called (for messages), and a call
    (placeholder arguments) that must bind to an implementation's method."""

    name: str
    signature: str
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any]


def _is_protocol(cls: type) -> bool:
    return bool(cls.__dict__.get("_is_protocol", False))


def protocol_members(protocol: type) -> Tuple[str, ...]:
    """The public methods ``protocol`` declares, its own and those of the Protocols it extends, in the order
    they are written (data members and properties are not operations)."""
    names: List[str] = []
    for cls in reversed(protocol.__mro__):
        if not _is_protocol(cls) or cls is typing.Protocol:
            continue
        names += [name for name, value in vars(cls).items()
                  if not name.startswith("_") and inspect.isfunction(value) and name not in names]
    return tuple(names)


def protocol_attributes(protocol: type) -> Tuple[str, ...]:
    """The public data members ``protocol`` declares (its annotations, and those of the Protocols it extends):
    what an instance has, which a class need not show."""
    names: List[str] = []
    for cls in reversed(protocol.__mro__):
        if _is_protocol(cls) and cls is not typing.Protocol:
            names += [name for name in vars(cls).get("__annotations__", {})
                      if not name.startswith("_") and name not in names]
    return tuple(names)


def operations(protocol: type) -> Tuple[Operation, ...]:
    """Each method of ``protocol`` (:func:`protocol_members`) as an :class:`Operation`: every parameter it
    declares is passed, positionally or by keyword as the Protocol declares it."""
    found = []
    for name in protocol_members(protocol):
        parameters = list(inspect.signature(getattr(protocol, name)).parameters.values())[1:]  # not self
        positional = [p.name for p in parameters
                      if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        keywords = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
        shown = positional + (["*", *keywords] if keywords else [])
        found.append(Operation(name, f"{name}({', '.join(shown)})", (None,) * len(positional),
                               dict.fromkeys(keywords)))
    return tuple(found)


def _method(target: Any, name: str) -> Any:
    """``target``'s method ``name``, or None when it has none or only the stub of a Protocol it subclasses."""
    cls = target if isinstance(target, type) else type(target)
    for klass in cls.__mro__:
        if name in vars(klass):
            if _is_protocol(klass):
                return None
            break
    return getattr(target, name, None)


def operation_problem(target: Any, operation: Operation) -> Optional[str]:
    """None when ``target`` (an object, or a class: its methods are then unbound) has the operation and it
    accepts the contract's call; otherwise what is wrong, as the end of a sentence."""
    method = _method(target, operation.name)
    if not callable(method):
        return f"has no {operation.signature} method"
    args = operation.args
    if isinstance(target, type) and inspect.isfunction(method):
        args = (None, *args)  # the unbound method's self
    try:
        inspect.signature(method).bind(*args, **operation.kwargs)
    except TypeError as exc:
        return (f"has {operation.name}{inspect.signature(method)}, which cannot be called as "
                f"{operation.signature} ({exc})")
    except ValueError:
        return None  # no signature to read (a builtin): trust it
    return None


def missing_operation(target: Any, protocol: type) -> Optional[str]:
    """What ``target`` lacks of ``protocol`` (the first problem of :func:`operation_problem`, or, for an
    instance, a data member it does not have), or None."""
    for operation in operations(protocol):
        problem = operation_problem(target, operation)
        if problem is not None:
            return problem
    if not isinstance(target, type):
        for name in protocol_attributes(protocol):
            if not hasattr(target, name):
                return f"has no {name} attribute"
    return None


def annotated_return(function: Callable[..., Any]) -> Optional[type]:
    """The class ``function`` is annotated to return, when the annotation resolves to a class (not ``Any``,
    not a Protocol); otherwise None."""
    try:
        hint = typing.get_type_hints(function).get("return")
    except Exception:  # noqa: BLE001 - an annotation that does not resolve says nothing either way
        return None
    if hint is Any or not isinstance(hint, type) or getattr(hint, "_is_protocol", False):
        return None
    return hint
