"""Mutants that bring back the reference's own fixed bugs (issue 13): each is the reference with one fix
undone, so the clause written for that bug proves it would have caught it.

a. a ``typing.NamedTuple`` class rebuilt with ``__slots__`` in its namespace (NamedTupleMeta refuses it);
b. a by-reference memo that trusts a function's name after its module changed;
c. an error-message builder that reads the refused value's attributes unguarded;
d. every exception raised while pickling wrapped as the serialization error;
e. classes whose metaclass makes them unhashable, and their instances, refused;
#4. a store that evicts every unpinned object before failing a put that could never fit.

The serializer mutants subclass the reference's public :class:`reference.Serializer` and
:class:`reference.pickler.Pickler` (reaching into ``Serializer._pickle`` and ``Pickler._reduce_class``, the
two seams the fixes changed); the store mutant wraps the reference store's adapter.
"""

from __future__ import annotations

import dataclasses
import types
import weakref
from typing import Any, Callable, Dict, List, Optional

import cloudpickle

from conformance.adapters.reference import ReferenceSerializer
from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import StoreWrapper, WrappingFactory, reference_mutant


def _bent_reference(pickler_class: Optional[type] = None, serializer_class: Optional[type] = None) -> Any:
    """A :class:`ReferenceSerializer` whose ``reference.Serializer`` is ``serializer_class`` (default: the
    reference's) pickling with ``pickler_class`` (default: the reference's)."""
    import reference

    base = serializer_class or reference.Serializer

    class _Serializer(base):  # type: ignore[misc, valid-type]
        def _pickle(self, obj: Any, protocol: int, file: Any, buffer_callback: Any) -> None:
            if pickler_class is None:
                super()._pickle(obj, protocol, file, buffer_callback)
            else:
                pickler_class(file, protocol, buffer_callback, self._custom).dump(obj)

    adapter = ReferenceSerializer()
    adapter._ser = _Serializer()
    return adapter


def _reference_pickler() -> type:
    from reference.pickler import Pickler

    return Pickler


# -- a. NamedTuple ---------------------------------------------------------------------------------------------
def _slots_always_pickler() -> type:
    make_skeleton = getattr(getattr(cloudpickle, "cloudpickle", None), "_make_skeleton_class", None)

    class _SlotsAlways(_reference_pickler()):  # type: ignore[misc]
        def _reduce_class(self, cls: type) -> Any:
            # The fix before issue 13a: __slots__ into the rebuilt class's namespace, whatever its metaclass.
            rv = cloudpickle.Pickler.reducer_override(self, cls)
            if (isinstance(rv, tuple) and rv and rv[0] is make_skeleton and "__slots__" in vars(cls)
                    and isinstance(rv[1][3], dict)):
                type_kwargs = dict(rv[1][3], __slots__=vars(cls)["__slots__"])
                rv = (rv[0], rv[1][:3] + (type_kwargs,) + rv[1][4:]) + rv[2:]
            return rv

    return _SlotsAlways


@mutant("named_tuple_slots", "serializer.classes.named_tuple")
def named_tuple_slots() -> Implementation:
    """Rebuilds every slotted dynamic class with __slots__ in its namespace: a NamedTuple fails to load."""
    return reference_mutant("named_tuple_slots", _bent_reference(_slots_always_pickler()))


# -- b. the by-reference memo ------------------------------------------------------------------------------
#: id -> object pickled by reference once, trusted for ever after (the stale memo).
_TRUSTED: Dict[int, Any] = {}


def _stale_memo_pickler() -> type:
    class _StaleMemo(_reference_pickler()):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            named = type(obj) is types.FunctionType or isinstance(obj, type)
            if named and _TRUSTED.get(id(obj)) is obj:
                return NotImplemented  # by reference, as the first time: pickle's save_global then fails
            rv = super().reducer_override(obj)
            if named and rv is NotImplemented:
                _TRUSTED[id(obj)] = obj
            return rv

    return _StaleMemo


@mutant("stale_by_reference_memo", "serializer.functions.rebound_module")
def stale_by_reference_memo() -> Implementation:
    """Remembers a function pickled by reference and pickles it so again after its module changed."""
    return reference_mutant("stale_by_reference_memo", _bent_reference(_stale_memo_pickler()))


# -- c. the error-message builder ----------------------------------------------------------------------------
def _unguarded_describe_serializer() -> type:
    import reference

    class _UnguardedDescribe(reference.Serializer):
        def _serialization_error(self, obj: Any, exc: BaseException, protocol: int) -> Any:
            getattr(obj, "__qualname__", None)  # the old _describe's read: only AttributeError is absorbed
            return super()._serialization_error(obj, exc, protocol)

    return _UnguardedDescribe


@mutant("describe_raises", "serializer.errors.hostile_attributes")
def describe_raises() -> Implementation:
    """Builds the error message by reading the value's __qualname__ unguarded: its own errors escape."""
    return reference_mutant("describe_raises", _bent_reference(serializer_class=_unguarded_describe_serializer()))


# -- d. errors that are not refusals -------------------------------------------------------------------------
def _wraps_everything_serializer() -> type:
    import reference

    class _WrapsEverything(reference.Serializer):
        def serialize(self, obj: Any, *, protocol: Optional[int] = None) -> Any:
            try:
                return super().serialize(obj, protocol=protocol)
            except reference.SerializationError:
                raise
            except Exception as exc:  # noqa: BLE001 - the defect: every exception becomes the declared one
                # The declared error alone (the reference's own error path now also makes it an instance of
                # the original type, which is the fix, not the defect).
                raise reference.SerializationError(
                    f"cannot serialize {type(obj).__name__}: {type(exc).__name__}: {exc}") from exc

    return _WrapsEverything


@mutant("wraps_every_error", "serializer.errors.original_type")
def wraps_every_error() -> Implementation:
    """Turns every exception raised while pickling into its SerializationError, RuntimeError included."""
    return reference_mutant("wraps_every_error", _bent_reference(serializer_class=_wraps_everything_serializer()))


# -- e. unhashable metaclasses -------------------------------------------------------------------------------
def _hash_needing_pickler() -> type:
    class _NeedsHash(_reference_pickler()):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            meta = type(obj) if isinstance(obj, type) else type(type(obj))
            if meta.__hash__ is None:
                # cloudpickle's way: class lookups in dicts (its tracker; pickle's dispatch table) fail.
                return cloudpickle.Pickler.reducer_override(self, obj)
            return super().reducer_override(obj)

    return _NeedsHash


@mutant("unhashable_metaclass_refused", "serializer.classes.unhashable_metaclass")
def unhashable_metaclass_refused() -> Implementation:
    """Pickles classes of an unhashable metaclass, and their instances, as cloudpickle does: it cannot."""
    return reference_mutant("unhashable_metaclass_refused", _bent_reference(_hash_needing_pickler()))


# -- #4. eviction before a put that cannot fit ------------------------------------------------------------
class _EvictsThenFails(StoreWrapper):
    """On a full store, deletes every object whose values nobody holds (what an eviction pass that counts
    free bytes, not contiguous ones, does), then tries the put once more and lets it fail."""

    def __init__(self, inner: Any, serializer: Any, full_error: Any) -> None:
        super().__init__(inner, serializer)
        self.full_error = full_error
        self.held: Dict[bytes, List[Callable[[], Any]]] = {}

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        value = super().get(object_id, timeout=timeout)
        try:
            self.held.setdefault(bytes(object_id), []).append(weakref.ref(value))
        except TypeError:
            pass  # a value that cannot be weakly referenced is a copy: it holds nothing
        return value

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        try:
            return super().put(value, object_id)
        except self.full_error:
            for oid in self.list():
                if not any(ref() is not None for ref in self.held.get(oid, ())):
                    self.delete(oid)
            return super().put(value, object_id)


@mutant("store_evicts_then_fails", "store.full.no_needless_eviction")
def store_evicts_then_fails() -> Implementation:
    """A put that cannot fit evicts every unpinned object first, then raises the store-full error."""
    from conformance.adapters.reference import reference_implementation

    base = reference_implementation()
    factory = WrappingFactory(base.store_factory,
                              lambda inner: _EvictsThenFails(inner, base.serializer, base.store_full_error))
    return dataclasses.replace(base, name="mutant.store_evicts_then_fails", store_factory=factory,
                               description="a store mutant")


# -- issue 21. the stdlib fast path hashed a value's type ------------------------------------------------------
def _hashes_type_serializer() -> type:
    import reference

    atoms = frozenset({type(None), bool, int, float, str, bytes})

    class _HashesType(reference.Serializer):
        def serialize(self, obj: Any, *, protocol: Optional[int] = None) -> Any:
            type(obj) in atoms  # noqa: B015 - the fast path's test before issue 21: hashes type(obj) by its metaclass
            return super().serialize(obj, protocol=protocol)

    return _HashesType


@mutant("unhashable_type_lookup", "serializer.classes.unhashable_metaclass")
def unhashable_type_lookup() -> Implementation:
    """Looks a value's type up in a set first: an instance of an unhashable metaclass's class raises TypeError."""
    return reference_mutant("unhashable_type_lookup", _bent_reference(serializer_class=_hashes_type_serializer()))
