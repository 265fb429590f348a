"""The Protocols of ``conformance.api`` are the build-time check, and nothing else is.

For each row of ``CAPABILITY_PROTOCOLS`` an implementation is built whose parts have exactly the
Protocols' methods (copied from the Protocols themselves): it builds. Taking any one method away makes the
build (or ``check_store`` / ``check_cluster``, for a store or cluster the factory does not describe) raise
``ContractError`` naming that method. So the operations checked for a capability are its Protocol's
members, no more and no less.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conformance.adapters.frames import PickleFrame
from conformance.api import (
    CAPABILITIES,
    CAPABILITY_PROTOCOLS,
    DECLARED_ERRORS,
    ContractError,
    Implementation,
    Serialized,
    Store,
    check_cluster,
    check_store,
)

#: Every capability with an operation of its own, so that every row of the table applies.
ALL = frozenset({"custom_serializers", "inspect", "store", "raw_buffers", "nodes"})
ERRORS = {field: (LookupError,) for field in DECLARED_ERRORS}


def members(protocol: type) -> List[str]:
    """The Protocol's public methods, read with ``dir`` (independently of conformance.operations)."""
    return sorted(name for name in dir(protocol)
                  if not name.startswith("_") and inspect.isfunction(getattr(protocol, name)))


def _fake(owner: str, *, without: Optional[str] = None, store_class: Any = None,
          cluster_class: Any = None) -> type:
    """A plain class with every method of the Protocols ``owner`` meets (copied from them), but ``without``."""
    methods: Dict[str, Any] = {}
    for _capability, row_owner, protocol in CAPABILITY_PROTOCOLS:
        if row_owner == owner:
            methods.update({name: getattr(protocol, name) for name in members(protocol)})
    if owner == "store_factory" and store_class is not None:
        def create(self: Any, *, capacity: int) -> Any:
            return store_class()

        create.__annotations__ = {"return": store_class}  # what the build-time check reads
        methods["create"] = create
    if owner == "store_factory" and cluster_class is not None:
        def create_cluster(self: Any, n: int, *, capacity: int) -> Any:
            return cluster_class()

        create_cluster.__annotations__ = {"return": cluster_class}
        methods["create_cluster"] = create_cluster
    if owner == "store":
        methods["name"] = "fake"  # Store's one data member
    methods.pop(without, None)
    return type(f"Fake_{owner}", (), methods)


def _build(missing: Tuple[str, str] = ("", ""), *, annotate: bool = True) -> Implementation:
    owner, name = missing
    store_class = _fake("store", without=name if owner == "store" else None)
    cluster_class = _fake("cluster", without=name if owner == "cluster" else None)
    factory_class = _fake("store_factory", without=name if owner == "store_factory" else None,
                          store_class=store_class if annotate else None,
                          cluster_class=cluster_class if annotate else None)
    serializer_class = _fake("serializer", without=name if owner == "serializer" else None)
    return Implementation(name="x", serializer=serializer_class(), capabilities=ALL,
                          store_factory=factory_class(), **ERRORS)


def _rows() -> List[Any]:
    return [pytest.param(capability, owner, name, id=f"{capability or 'always'}-{owner}-{name}")
            for capability, owner, protocol in CAPABILITY_PROTOCOLS for name in members(protocol)]


def test_every_row_names_a_known_capability_and_an_owner():
    for capability, owner, protocol in CAPABILITY_PROTOCOLS:
        assert capability is None or capability in CAPABILITIES
        assert owner in ("serializer", "store_factory", "store", "cluster")
        assert members(protocol), f"{protocol.__name__} declares no operation"


def test_an_implementation_with_exactly_the_protocols_methods_builds():
    impl = _build()
    check_store(impl, impl.store_factory.create(capacity=1))
    check_cluster(impl, impl.store_factory.create_cluster(2, capacity=1))


@pytest.mark.parametrize("capability, owner, name", _rows())
def test_each_checked_operation_is_a_protocol_member(capability, owner, name):
    """Taking one method of a Protocol away is refused, naming it: at build time for the serializer, the
    factory and the store (cluster) class ``create`` (``create_cluster``) is annotated with, by check_store
    (check_cluster) for a store (cluster) it does not name."""
    with pytest.raises(ContractError) as info:
        _build((owner, name))
    message = str(info.value)
    assert f"has no {name}(" in message, message
    assert (f"claims {capability!r}" if capability else "needs") in message, message
    if owner in ("store", "cluster"):
        impl = _build(annotate=False)  # create() says nothing: the store (cluster) itself is checked
        check = check_store if owner == "store" else check_cluster
        with pytest.raises(ContractError, match=rf"its {owner} \(Fake_{owner}\) has no {name}\("):
            check(impl, _fake(owner, without=name)())


class TypedStore(Store):
    """Types against the contract's ``Store`` but leaves ``delete`` out (it inherits only the stub)."""

    name = "typed"

    def put(self, value: Any, object_id: Optional[bytes] = None) -> bytes:
        return bytes(20)

    def get(self, object_id: bytes, *, timeout: Optional[float] = None) -> Any:
        return None

    def contains(self, object_id: bytes) -> bool:
        return False

    def list(self) -> List[bytes]:
        return []

    def close(self) -> None:
        pass


class TypedFactory:
    def create(self, *, capacity: int) -> TypedStore:
        return TypedStore()

    def attach(self, name: str) -> TypedStore:
        return TypedStore()

    def destroy(self, store: Any) -> None:
        pass


class PlainSerializer:
    def serialize(self, obj: Any, *, protocol: int) -> Any:
        return None

    def deserialize(self, frame: Any) -> Any:
        return None


def test_a_store_typed_against_Store_without_delete_is_refused_at_build_time():
    with pytest.raises(ContractError, match=r"implementation 'typed' claims 'store' but its store "
                                            r"\(TypedStore\) has no delete\(object_id\) method"):
        Implementation(name="typed", serializer=PlainSerializer(), capabilities=frozenset({"store"}),
                       store_factory=TypedFactory(), **ERRORS)


def test_a_store_without_a_name_is_refused_when_the_suite_makes_one():
    """``Store.name`` is an attribute, which only an instance shows: check_store, not the build, asks for it."""
    impl = _build(annotate=False)
    with pytest.raises(ContractError, match=r"claims 'store' but its store \(Fake_store\) has no name attribute"):
        check_store(impl, _fake("store", without="name")())


def test_a_serializer_without_deserialize_is_refused_whatever_it_claims():
    class HalfSerializer:
        def serialize(self, obj: Any, *, protocol: int) -> Any:
            return None

    with pytest.raises(ContractError, match=r"implementation 'half' needs its serializer .*has no "
                                            r"deserialize\(frame\) method; add the method"):
        Implementation(name="half", serializer=HalfSerializer(), **ERRORS)


# -- the checks, one capability at a time ----------------------------------------------------------------
def test_implementation_rejects_unknown_capabilities():
    with pytest.raises(ValueError, match="unknown capabilities"):
        Implementation(name="x", serializer=object(), capabilities=frozenset({"teleport"}))
    with pytest.raises(ValueError, match="store_factory"):
        Implementation(name="x", serializer=object(), capabilities=frozenset({"store"}))



class _Serializer:
    def serialize(self, obj, *, protocol):
        return PickleFrame(b"")

    def deserialize(self, frame):
        return None


class _BadInspect(_Serializer):
    def inspect(self, value):  # no ``name`` keyword
        return True, set()


class _RegisterOnly(_Serializer):
    def register_serializer(self, cls, *, serializer, deserializer):
        pass


class _Store:
    name = "s"

    def put(self, value, object_id=None):
        return bytes(20)

    def get(self, object_id, *, timeout=None):
        return None

    def contains(self, object_id):
        return False

    def delete(self, object_id):
        pass

    def list(self):
        return []

    def close(self):
        pass


class _RawStore(_Store):
    def create(self, object_id, size):
        return memoryview(bytearray(size))

    def seal(self, object_id):
        pass

    def abort(self, object_id):
        pass

    def get_buffer(self, object_id, *, timeout=None):
        return memoryview(b"")


class _Factory:
    def create(self, *, capacity):
        return _Store()

    def attach(self, name):
        return _Store()

    def destroy(self, store):
        pass


class _NoAbortStore(_RawStore):
    abort = None


class _NoAbortFactory(_Factory):
    def create(self, *, capacity) -> _NoAbortStore:
        return _NoAbortStore()


@pytest.mark.parametrize("capability, serializer, factory, missing", [
    ("inspect", _Serializer(), None, "inspect(value, *, name)"),
    ("inspect", _BadInspect(), None, "inspect(value, *, name)"),
    ("custom_serializers", _Serializer(), None, "register_serializer(cls, *, serializer, deserializer)"),
    ("custom_serializers", _RegisterOnly(), None, "deregister_serializer(cls)"),
    ("nodes", _Serializer(), _Factory(), "create_cluster(n, *, capacity)"),
    ("raw_buffers", _Serializer(), _NoAbortFactory(), "abort(object_id)"),
])
def test_claiming_a_missing_operation_is_refused_by_name(capability, serializer, factory, missing):
    caps = {capability} | ({"store"} if factory is not None else set())
    with pytest.raises(ContractError) as info:
        Implementation(name="x", serializer=serializer, capabilities=frozenset(caps), store_factory=factory)
    message = str(info.value)
    assert f"implementation 'x' claims {capability!r}" in message and missing in message, message
    assert "drop the claim or add the method" in message
    assert isinstance(info.value, TypeError)


def test_raw_buffers_are_checked_on_the_store_itself():
    impl = Implementation(name="x", serializer=_Serializer(), store_factory=_Factory(),
                          capabilities=frozenset({"store", "raw_buffers"}),  # create() says nothing
                          **{field: (LookupError,) for field in DECLARED_ERRORS})
    with pytest.raises(ContractError, match=r"claims 'raw_buffers' but its store \(_Store\) has no create"):
        check_store(impl, impl.store_factory.create(capacity=1))
    check_store(impl, _RawStore())
    with pytest.raises(ValueError, match="claim both or neither"):
        Implementation(name="x", serializer=_Serializer(), capabilities=frozenset({"raw_buffers"}))


def test_shipped_frames_are_frames():
    import reference

    assert isinstance(PickleFrame(b"x"), Serialized)
    assert isinstance(reference.serialize([1]), Serialized)
