"""Find every object inside a value that cannot be serialized, with its path from the top.

The search behind :class:`reference.SerializationError` and :func:`reference.inspect_serializability`. It
depends on no serializer module: it probes through any object with ``try_serialize`` (:class:`Probe`).

How it decides: an object is probed by pickling it into a sink (nothing is copied). A failing object whose
children all serialize is a culprit; a failing object with failing children is explained by them. It walks
closures (globals and nonlocals), default arguments, attributes (``__dict__`` and ``__slots__``), container
items and, when none of those explain a failure, the object's own reduction. Each culprit carries its full
path as a Python expression (``value.__globals__['state']['model'].cache._lock``) that evaluates to the
culprit from the top object. Each probe pickles a whole subtree, so the cost is O(size x depth): a tool for
the error path, not a hot path.
"""

from __future__ import annotations

import dis
import functools
import keyword
import types
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Protocol, Set, Tuple

import numpy as np

__all__ = ["FIND_DEPTH", "Failure", "Probe", "find_failures"]

#: How deep :func:`find_failures` looks by default: a limit (a culprit deeper than this is reported where the
#: search stopped, ``depth_limited`` set) far beyond the nesting of real values, and bounded because each
#: step pickles a whole subtree again.
FIND_DEPTH = 64


@dataclass(frozen=True, eq=False)
class Failure:
    """One object that cannot be serialized (Ray's ``FailureTuple`` plus where and why).

    ``obj`` is the culprit, ``name`` the last step of its path (Ray's name), ``parent`` the object holding
    it; ``path`` is a Python expression from the top object's name to the culprit; ``type_name`` its type;
    ``reason`` the pickler's message; ``depth_limited`` is true when the search stopped at its depth limit
    before it could look inside ``obj``. Instances compare by identity, so they can live in a set.
    """

    obj: Any
    name: str
    parent: Any
    path: str
    type_name: str
    reason: str
    depth_limited: bool = False


@dataclass(eq=False)
class _Node:
    label: str
    path: str
    type_name: str
    children: List["_Node"] = field(default_factory=list)
    failure: Optional[Failure] = None


class Probe(Protocol):
    """What the search needs of a serializer: its default protocol and a trial serialization."""

    protocol: int

    def try_serialize(self, obj: Any, *, protocol: Optional[int] = None) -> Optional[BaseException]:
        """The exception serializing ``obj`` raises, or ``None`` if it serializes."""
        ...


def _type_name(obj: Any) -> str:
    t = type(obj)
    if t.__module__ in ("builtins", None):
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def _is_literal_key(key: Any) -> bool:
    """True when ``repr(key)`` reads back as an equal key, so ``[repr]`` is a faithful path step."""
    if key is None or type(key) in (bool, int, str, bytes):
        return True
    if type(key) is float:
        return key == key and key not in (float("inf"), float("-inf"))
    if type(key) is tuple:
        return all(_is_literal_key(k) for k in key)
    return False


def _attr_step(path: str, name: str) -> str:
    if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__"):
        return f"{path}.{name}"
    return f"vars({path})[{name!r}]"


def _global_names(code: types.CodeType) -> Iterator[str]:
    """Names a code object (and the code nested in it) may look up as globals."""
    seen: Set[str] = set()
    stack = [code]
    while stack:
        co = stack.pop()
        for ins in dis.get_instructions(co):
            if ins.opname in ("LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME") and \
                    isinstance(ins.argval, str) and ins.argval not in seen:
                seen.add(ins.argval)
                yield ins.argval
        stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))


def _slot_names(cls: type) -> Iterator[Tuple[str, str]]:
    """(written name, stored name) of every slot along ``cls``'s MRO."""
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for slot in slots:
            if slot in ("__dict__", "__weakref__"):
                continue
            mangled = slot.startswith("__") and not slot.endswith("__")
            stored = f"_{klass.__name__.lstrip('_')}{slot}" if mangled else slot
            yield slot, stored


_CLASS_DICT_SKIP = frozenset({"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__",
                              "__slots__", "__annotations__"})


def _children(obj: Any, path: str) -> Iterator[Tuple[str, str, Any]]:
    """(label, path, child) of everything ``obj`` holds that the pickler would also pickle."""
    t = type(obj)
    if isinstance(obj, dict):
        for i, (k, v) in enumerate(list(obj.items())):
            if not _is_literal_key(k):
                yield f"key {i}", f"list({path})[{i}]", k
                yield f"[key {i}]", f"list({path}.values())[{i}]", v
            else:
                yield f"[{k!r}]", f"{path}[{k!r}]", v
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield f"[{i}]", f"{path}[{i}]", v
    elif isinstance(obj, (set, frozenset)):
        for i, v in enumerate(list(obj)):
            yield f"element {i}", f"list({path})[{i}]", v
    elif t is types.FunctionType:
        code = obj.__code__
        for name in _global_names(code):
            if name in obj.__globals__:
                yield f"global {name!r}", f"{path}.__globals__[{name!r}]", obj.__globals__[name]
        for i, (name, cell) in enumerate(zip(code.co_freevars, obj.__closure__ or ())):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell: nothing to pickle
                continue
            yield f"nonlocal {name!r}", f"{path}.__closure__[{i}].cell_contents", value
        for i, v in enumerate(obj.__defaults__ or ()):
            yield f"default {i}", f"{path}.__defaults__[{i}]", v
        for k, v in (obj.__kwdefaults__ or {}).items():
            yield f"default {k!r}", f"{path}.__kwdefaults__[{k!r}]", v
        for k, v in obj.__dict__.items():
            yield f".{k}", _attr_step(path, k), v
    elif t is types.MethodType:
        yield ".__self__", f"{path}.__self__", obj.__self__
        yield ".__func__", f"{path}.__func__", obj.__func__
    elif isinstance(obj, functools.partial):
        yield ".func", f"{path}.func", obj.func
        for i, v in enumerate(obj.args):
            yield f".args[{i}]", f"{path}.args[{i}]", v
        for k, v in obj.keywords.items():
            yield f".keywords[{k!r}]", f"{path}.keywords[{k!r}]", v
    elif isinstance(obj, type):
        for k, v in list(vars(obj).items()):
            if k not in _CLASS_DICT_SKIP:
                yield f".{k}", f"vars({path})[{k!r}]", v
    elif t is np.ndarray and obj.dtype.hasobject:
        for i, v in enumerate(obj.flat):
            yield f".flat[{i}]", f"{path}.flat[{i}]", v
    else:
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            for k, v in list(d.items()):
                yield f".{k}", _attr_step(path, k), v
        for written, stored in _slot_names(t):
            try:
                v = getattr(obj, stored)
            except AttributeError:
                continue
            yield f".{written}", f"{path}.{stored}", v


def _reduction_children(obj: Any, path: str, protocol: int) -> Iterator[Tuple[str, str, Any]]:
    """The arguments and state of ``obj``'s own reduction, for objects whose attributes explain nothing."""
    try:
        rv = obj.__reduce_ex__(protocol)
    except Exception:  # noqa: BLE001 - an object that cannot even reduce is itself the culprit
        return
    if not isinstance(rv, tuple):
        return
    base = f"{path}.__reduce_ex__({protocol})"
    if len(rv) > 1 and isinstance(rv[1], tuple):
        for i, v in enumerate(rv[1]):
            if v is not obj:
                yield f"reduce arg {i}", f"{base}[1][{i}]", v
    if len(rv) > 2 and rv[2] is not None and rv[2] is not obj:
        yield "reduce state", f"{base}[2]", rv[2]


class _Search:
    def __init__(self, serializer: Probe, protocol: int, depth: int) -> None:
        self.serializer = serializer
        self.protocol = protocol
        self.depth = depth
        self.failures: List[Failure] = []
        self._on_path: Set[int] = set()

    def probe(self, obj: Any) -> Optional[BaseException]:
        return self.serializer.try_serialize(obj, protocol=self.protocol)

    def walk(self, obj: Any, label: str, path: str, parent: Any, exc: BaseException, level: int) -> _Node:
        node = _Node(label, path, _type_name(obj))
        if level >= self.depth:
            # Stopped by the limit: only an object with something inside could hide a deeper culprit.
            looked_inside = any(True for _ in _children(obj, path)) or \
                any(True for _ in _reduction_children(obj, path, self.protocol))
            node.failure = self._fail(obj, label, path, parent, exc, depth_limited=looked_inside)
            return node
        self._on_path.add(id(obj))
        try:
            for source in (_children, lambda o, p: _reduction_children(o, p, self.protocol)):
                for child_label, child_path, child in source(obj, path):
                    if id(child) in self._on_path:
                        continue  # a cycle: the culprit is reported where the walk first met it
                    child_exc = self.probe(child)
                    if child_exc is not None:
                        node.children.append(self.walk(child, child_label, child_path, obj, child_exc,
                                                       level + 1))
                if node.children:
                    break
        finally:
            self._on_path.discard(id(obj))
        if not node.children:
            node.failure = self._fail(obj, label, path, parent, exc, depth_limited=False)
        return node

    def _fail(self, obj: Any, label: str, path: str, parent: Any, exc: BaseException,
              depth_limited: bool) -> Failure:
        failure = Failure(obj=obj, name=label, parent=parent, path=path, type_name=_type_name(obj),
                          reason=f"{type(exc).__name__}: {exc}", depth_limited=depth_limited)
        self.failures.append(failure)
        return failure


def _search(obj: Any, *, serializer: Probe, protocol: Optional[int], depth: int, root: str
            ) -> Tuple[Optional[_Node], List[Failure]]:
    if protocol is None:
        protocol = serializer.protocol
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"'depth' must be a non-negative integer, got {depth!r}")
    search = _Search(serializer, protocol, depth)
    exc = search.probe(obj)
    if exc is None:
        return None, []
    tree = search.walk(obj, root, root, None, exc, 0)
    return tree, search.failures


def find_failures(obj: Any, *, serializer: Probe, protocol: Optional[int] = None,
                  depth: int = FIND_DEPTH, root: str = "value") -> List[Failure]:
    """Every culprit inside ``obj``, in the order met, without printing; empty if ``obj`` serializes.

    ``serializer`` decides what serializes (its custom serializers count); ``protocol`` defaults to its
    own. Raises ``ValueError`` for a negative ``depth``. Used by :class:`reference.SerializationError` and
    :func:`reference.inspect.inspect_serializability`.
    """
    return _search(obj, serializer=serializer, protocol=protocol, depth=depth, root=root)[1]
