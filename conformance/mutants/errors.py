"""Mutants of failures and of the optional serializer operations: unserializable values, corrupt frames,
inspection, custom serializers."""

from __future__ import annotations

import io
import pickle
import socket
import threading
import types
from typing import Any, Callable, Dict, Set, Tuple

import cloudpickle

from conformance.adapters.reference import ReferenceSerializer
from conformance.api import Implementation
from conformance.mutants import mutant
from conformance.mutants.base import (
    SERIALIZER_CAPS,
    MutantSerializer,
    pickler_dumps,
    reference_mutant,
    serializer_mutant,
)


class _SwallowsLocks(cloudpickle.Pickler):
    _culprits = (type(threading.Lock()), type(threading.RLock()), types.GeneratorType)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._culprits):
            return type(None), ()
        return super().reducer_override(obj)


@mutant("swallows_locks", "serializer.errors.unserializable")
def swallows_locks() -> Implementation:
    """Serializes locks and generators silently, as None."""
    return serializer_mutant("swallows_locks", MutantSerializer(pickler_dumps(_SwallowsLocks)))


@mutant("untyped_errors", "serializer.errors.corrupt")
def untyped_errors() -> Implementation:
    """Declares pickle.UnpicklingError for corrupt frames, but its frame reader raises other errors."""
    return serializer_mutant("untyped_errors", MutantSerializer(),
                             deserialization_error=(pickle.UnpicklingError,))


class _InspectFirstOnly(ReferenceSerializer):
    def inspect(self, value: Any, *, name: str = "value", depth: int = 64) -> Tuple[bool, Set[Any]]:
        ok, failures = super().inspect(value, name=name, depth=depth)
        return ok, set(sorted(failures, key=lambda f: f.path)[:1])


@mutant("inspect_first_only", "serializer.inspect.culprits")
def inspect_first_only() -> Implementation:
    """inspect reports only the first culprit it finds."""
    return reference_mutant("inspect_first_only", _InspectFirstOnly())


class _RegisterIgnored(ReferenceSerializer):
    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        pass

    def deregister_serializer(self, cls: type) -> None:
        pass


@mutant("register_ignored", "serializer.custom.register")
def register_ignored() -> Implementation:
    """register_serializer does nothing."""
    return reference_mutant("register_ignored", _RegisterIgnored())


class _DeregisterIgnored(ReferenceSerializer):
    def deregister_serializer(self, cls: type) -> None:
        pass


@mutant("deregister_ignored", "serializer.custom.deregister")
def deregister_ignored() -> Implementation:
    """deregister_serializer does nothing: the custom serializer stays in force."""
    return reference_mutant("deregister_ignored", _DeregisterIgnored())


class _CustomByPersistentId(MutantSerializer):
    """Custom serializers through persistent ids: pickle memoizes no persistent id, so two references to one
    instance are written, and rebuilt, twice."""

    def __init__(self) -> None:
        self._custom: Dict[type, Tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}
        super().__init__(self._dumps, loads=_load_persistent)

    def register_serializer(self, cls: type, *, serializer: Callable[[Any], Any],
                            deserializer: Callable[[Any], Any]) -> None:
        self._custom[cls] = (serializer, deserializer)

    def deregister_serializer(self, cls: type) -> None:
        self._custom.pop(cls, None)

    def _dumps(self, obj: Any, *, protocol: int, buffer_callback: Any = None) -> bytes:
        custom = self._custom

        class _Pickler(cloudpickle.Pickler):
            def persistent_id(self, value: Any) -> Any:
                pair = custom.get(type(value))
                return None if pair is None else (pair[1], pair[0](value))

        out = io.BytesIO()
        _Pickler(out, protocol=protocol, buffer_callback=buffer_callback).dump(obj)
        return out.getvalue()


class _PersistentUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        deserializer, payload = pid
        return deserializer(payload)


def _load_persistent(inband: Any, *, buffers: Any) -> Any:
    return _PersistentUnpickler(io.BytesIO(bytes(inband)), buffers=buffers).load()


@mutant("custom_drops_sharing", "serializer.custom.register")
def custom_drops_sharing() -> Implementation:
    """Writes custom-serialized objects as persistent ids, which pickle never memoizes: [p, p] comes back as two."""
    return serializer_mutant("custom_drops_sharing", _CustomByPersistentId(),
                             capabilities=SERIALIZER_CAPS | {"custom_serializers"})


class _DeregisterDropsAll(ReferenceSerializer):
    def deregister_serializer(self, cls: type) -> None:
        for registered in self._ser.registered_classes():
            self._ser.deregister_serializer(registered)  # every class's, not only cls's


@mutant("deregister_drops_all", "serializer.custom.deregister")
def deregister_drops_all() -> Implementation:
    """deregister_serializer(A) drops every class's custom serializer, B's too."""
    return reference_mutant("deregister_drops_all", _DeregisterDropsAll())


class _ForeignLoadsNone(MutantSerializer):
    def deserialize(self, frame: Any) -> Any:
        head = bytes(memoryview(frame).cast("B")[:4])
        if not b"CFPK".startswith(head):
            return None  # not one of ours: nothing to load (silently)
        return super().deserialize(frame)


@mutant("foreign_loads_none", "serializer.errors.corrupt")
def foreign_loads_none() -> Implementation:
    """Gives None back for bytes that are not one of its frames, instead of raising its declared error."""
    return serializer_mutant("foreign_loads_none", _ForeignLoadsNone())


def _pathless_serializer() -> type:
    import reference

    class _Pathless(reference.Serializer):
        def _serialization_error(self, obj: Any, exc: BaseException, protocol: int) -> Any:
            return reference.SerializationError(f"cannot serialize {type(obj).__name__}: {type(exc).__name__}: {exc}")

    return _Pathless


@mutant("error_without_path", "serializer.errors.culprit_path")
def error_without_path() -> Implementation:
    """Its serialization error repeats the pickler's message: no culprit's path, at most one type named."""
    from conformance.mutants.regressions import _bent_reference

    return reference_mutant("error_without_path", _bent_reference(serializer_class=_pathless_serializer()))


def _reopened(name: Any, mode: str) -> Any:
    return open(name, mode)  # noqa: SIM115 - a mutant's reconstructor: the handle is the defect


class _PicklesResources(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, socket.socket):
            return socket.socket, (obj.family, obj.type, obj.proto)  # a fresh socket of the same kind
        if isinstance(obj, (io.BufferedReader, io.BufferedWriter, io.TextIOWrapper, io.FileIO)):
            return _reopened, (obj.name, obj.mode)  # the file opened again by name
        return super().reducer_override(obj)


@mutant("pickles_sockets_and_files", "serializer.errors.unserializable")
def pickles_sockets_and_files() -> Implementation:
    """Serializes sockets as fresh sockets of the same kind, and open files as their name and mode."""
    return serializer_mutant("pickles_sockets_and_files", MutantSerializer(pickler_dumps(_PicklesResources)))
