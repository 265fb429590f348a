"""Serializer clauses ``serializer.classes.*``: classes made at run time, and their instances, work in a
fresh interpreter (see :func:`conformance.dynamic.check_case`).
"""

from __future__ import annotations

from conformance.clauses import clause
from conformance.dynamic import check_case
from conformance.harness import reproduce


@clause("serializer.classes.methods", "dynamic_classes")
def test_serializer_classes_methods(impl):
    """Clause serializer.classes.methods: an instance of a class made at run time keeps its methods,
    static and class methods and properties in a fresh interpreter."""
    check_case(impl, "classes", "methods")


@clause("serializer.classes.attributes", "dynamic_classes")
def test_serializer_classes_attributes(impl):
    """Clause serializer.classes.attributes: class attributes (one changed at run time, one a dict) and
    instance attributes travel with a dynamic class."""
    check_case(impl, "classes", "attributes")


@clause("serializer.classes.inheritance", "dynamic_classes")
def test_serializer_classes_inheritance(impl):
    """Clause serializer.classes.inheritance: a dynamic subclass of a dynamic class keeps its MRO, overrides
    and ``super()`` calls."""
    check_case(impl, "classes", "inheritance")


@clause("serializer.classes.slots", "dynamic_classes")
def test_serializer_classes_slots(impl):
    """Clause serializer.classes.slots: an instance of a dynamic class with ``__slots__`` (inherited too)
    keeps its slot values and grows no ``__dict__``."""
    check_case(impl, "classes", "slots")


@clause("serializer.classes.enums", "dynamic_classes")
def test_serializer_classes_enums(impl):
    """Clause serializer.classes.enums: members of a dynamic ``Enum`` come back as members (identity,
    names, values, methods) of one enum class."""
    check_case(impl, "classes", "enums")


@clause("serializer.classes.dataclasses", "dynamic_classes")
def test_serializer_classes_dataclasses(impl):
    """Clause serializer.classes.dataclasses: instances of a dynamic frozen dataclass keep their fields,
    defaults, ``repr`` and field-wise equality."""
    check_case(impl, "classes", "dataclasses")


@clause("serializer.classes.one_class", "dynamic_classes")
def test_serializer_classes_one_class(impl):
    """Clause serializer.classes.one_class: two instances of a dynamic class in one value come back with one
    class object."""
    check_case(impl, "classes", "one_class")



# -- run-time classes that the reference once failed (issue 13a and 13e) ------------------------------------
# Each source defines a class with a ``facts(self, cls)`` method that returns plain data about an instance
# and its class; the clause sends ``(cls.facts, (instance, cls))`` to a fresh interpreter, which calls it.

#: A ``typing.NamedTuple`` with a default and a method.
NAMED_TUPLE_SOURCE = '''
import typing

class Pair(typing.NamedTuple):
    x: int
    y: str = "a"

    def swapped(self):
        return (self.y, self.x)

    def facts(self, cls):
        return {"same_class": type(self) is cls, "fields": cls._fields, "defaults": cls._field_defaults,
                "value": tuple(self), "swapped": self.swapped(), "made": tuple(cls(2, "b")),
                "replaced": tuple(self._replace(y="c")), "has_dict": hasattr(self, "__dict__"),
                "is_tuple": isinstance(self, tuple), "annotations": list(cls.__annotations__)}
'''

#: A class whose metaclass defines ``__eq__`` without ``__hash__``.
UNHASHABLE_METACLASS_SOURCE = '''
class Meta(type):
    def __eq__(cls, other):  # __eq__ without __hash__: the classes of this metaclass are unhashable
        return cls is other

class Counter(metaclass=Meta):
    start = 40

    def __init__(self, step):
        self.step = step

    def value(self):
        return self.start + self.step

    def facts(self, cls):
        try:
            hash(cls)
            hashable = True
        except TypeError:
            hashable = False
        return {"same_class": type(self) is cls, "metaclass": type(cls).__name__, "value": self.value(),
                "made": cls(5).value(), "class_hashable": hashable, "equal_to_itself": cls == cls}
'''


def check_facts_in_child(impl, case: str, source: str, class_name: str, args: tuple) -> None:
    """Build ``source`` at run time (:func:`conformance.dynamic.build`: no other interpreter can import it),
    serialize ``(cls.facts, (cls(*args), cls))`` and check that a fresh interpreter calling it gets what
    this one does. Fails the calling test with the case and what the child got otherwise."""
    import pytest

    from conformance._probes import call
    from conformance.child import run_in_child
    from conformance.dynamic import build
    from conformance.harness import frame_buffer, reproduce

    protocol = max(impl.protocols)
    source_name = f"{case.upper()}_SOURCE"
    reproduce(impl, "from conformance.child import run_in_child", "from conformance.dynamic import build",
              f"from conformance.test_serializer_classes import {source_name}",
              f"cls = build({source_name})[{class_name!r}]",
              f"value = (cls.facts, (cls(*{args!r}), cls))",
              f"frame = bytes(frame_buffer(impl.serializer.serialize(value, protocol={protocol}))[0])",
              f"run_in_child({impl.name!r}, [({case!r}, 'call', frame)])")
    twin = build(source)[class_name]
    expected = call((twin.facts, (twin(*args), twin)))
    cls = build(source)[class_name]
    try:
        frame = impl.serializer.serialize((cls.facts, (cls(*args), cls)), protocol=protocol)
    except Exception as exc:  # noqa: BLE001 - any failure to serialize fails the clause
        pytest.fail(f"{case}: serialize raised {type(exc).__name__}: {exc}", pytrace=False)
    status, actual = run_in_child(impl.name, [(case, "call", bytes(frame_buffer(frame)[0]))])[case]
    if status != "ok":
        pytest.fail(f"{case}: in a fresh interpreter: {actual}", pytrace=False)
    assert actual == expected, f"{case}: the child got {actual!r}, here it is {expected!r}"


@clause("serializer.classes.named_tuple", "dynamic_classes")
def test_serializer_classes_named_tuple(impl):
    """Clause serializer.classes.named_tuple: a ``typing.NamedTuple`` class made at run time (a default, a
    method) and its instance come back in a fresh interpreter as one class: fields, defaults, methods,
    ``_replace``, a tuple with no ``__dict__``."""
    check_facts_in_child(impl, "named_tuple", NAMED_TUPLE_SOURCE, "Pair", (1,))


@clause("serializer.classes.unhashable_metaclass", "dynamic_classes")
def test_serializer_classes_unhashable_metaclass(impl):
    """Clause serializer.classes.unhashable_metaclass: a class made at run time whose metaclass makes it
    unhashable (``__eq__`` without ``__hash__``), and its instance, come back in a fresh interpreter: one
    class of that metaclass, still unhashable, with its attributes and methods; the instance also when it
    is the whole value, and at the end of a long list (a serializer's fast path looks at those first)."""
    check_facts_in_child(impl, "unhashable_metaclass", UNHASHABLE_METACLASS_SOURCE, "Counter", (2,))
    check_instances_in_child(impl, "UNHASHABLE_METACLASS_SOURCE", UNHASHABLE_METACLASS_SOURCE,
                             {"counter": ("Counter", (2,), {})})


#: Run-time subclasses of builtins: an ``IntEnum``, a ``typing.NamedTuple`` and a ``str`` subclass. A type
#: test that asks ``isinstance(x, int)`` (or ``tuple``, ``str``) instead of ``type(x) is int`` takes their
#: instances for builtins, and stdlib pickle then saves their classes by a name no interpreter can import.
RUNTIME_BUILTIN_SUBCLASSES_SOURCE = '''
import enum
import typing

class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2 ** 40

    def label(self):
        return self.name.lower()

    def facts(self, cls):
        return {"same_class": type(self) is cls, "is_member": self is cls[self.name], "value": int(self),
                "label": self.label(), "members": [(m.name, int(m)) for m in cls]}

class Pair(typing.NamedTuple):
    x: int
    y: str = "b"

    def facts(self, cls):
        return {"same_class": type(self) is cls, "value": tuple(self), "fields": cls._fields,
                "made": tuple(cls(3)), "has_dict": hasattr(self, "__dict__")}

class Tag(str):
    def shout(self):
        return self.upper() + "!"

    def facts(self, cls):
        return {"same_class": type(self) is cls, "value": str(self), "shout": self.shout(),
                "attributes": dict(vars(self))}
'''

#: The length of the long list the instances are also sent at the end of: longer than any fast path scans.
LONG_LIST = 300


def _instance(namespace, class_name, args, attributes):
    cls = namespace[class_name]
    obj = cls[args[0]] if hasattr(cls, "__members__") else cls(*args)  # an enum's member, by name
    for key, value in attributes.items():
        setattr(obj, key, value)
    return obj


def check_instances_in_child(impl, source_name: str, source: str, cases) -> None:
    """For each ``case -> (class name, args, attributes)``: build ``source`` at run time, make the instance
    and send it, alone and as the last item of a list of :data:`LONG_LIST` ints, to a fresh interpreter,
    which asks it for its ``facts(cls)``; the answers must be what they are here. ``args`` of one str name
    an enum member."""
    import pytest

    from conformance import _probes
    from conformance.child import run_in_child
    from conformance.dynamic import build
    from conformance.harness import frame_buffer

    protocol = max(impl.protocols)
    first = next(iter(cases))
    class_name, args, attributes = cases[first]
    reproduce(impl, "from conformance.child import run_in_child", "from conformance.dynamic import build",
              f"from conformance.test_serializer_classes import {source_name}",
              f"cls = build({source_name})[{class_name!r}]",
              f"value = cls[{args[0]!r}] if hasattr(cls, '__members__') else cls(*{args!r})"
              + "".join(f"; value.{k} = {v!r}" for k, v in attributes.items()),
              f"frame = bytes(frame_buffer(impl.serializer.serialize(value, protocol={protocol}))[0])",
              f"run_in_child({impl.name!r}, [({first!r}, 'own_facts', frame)])")
    twins = build(source)
    namespace = build(source)
    jobs, expected = [], {}
    for case, (class_name, args, attributes) in cases.items():
        twin = _instance(twins, class_name, args, attributes)
        obj = _instance(namespace, class_name, args, attributes)
        for where, value, probe in (("alone", obj, "own_facts"),
                                    ("last of a long list", [*range(LONG_LIST), obj], "last_item_facts")):
            label = f"{case} ({where})"
            twin_value = twin if where == "alone" else [*range(LONG_LIST), twin]
            expected[label] = getattr(_probes, probe)(twin_value)
            try:
                frame = impl.serializer.serialize(value, protocol=protocol)
            except Exception as exc:  # noqa: BLE001 - any failure to serialize fails the clause
                pytest.fail(f"{label}: serialize raised {type(exc).__name__}: {exc}", pytrace=False)
            jobs.append((label, probe, bytes(frame_buffer(frame)[0])))
    for label, (status, actual) in run_in_child(impl.name, jobs).items():
        if status != "ok":
            pytest.fail(f"{label}: in a fresh interpreter: {actual}", pytrace=False)
        assert actual == expected[label], f"{label}: the child got {actual!r}, here it is {expected[label]!r}"


@clause("serializer.classes.builtin_subclasses", "dynamic_classes")
def test_serializer_classes_builtin_subclasses(impl):
    """Clause serializer.classes.builtin_subclasses: instances of classes made at run time that subclass
    builtins (an ``IntEnum`` member, a ``typing.NamedTuple``, a ``str`` subclass with an attribute), sent as
    the whole value and as the last item of a list of 300 ints, come back in a fresh interpreter as
    instances of one run-time class, with their values, fields, attributes and methods: a type test must not
    take them for the builtins they subclass."""
    check_instances_in_child(impl, "RUNTIME_BUILTIN_SUBCLASSES_SOURCE", RUNTIME_BUILTIN_SUBCLASSES_SOURCE, {
        "int_enum": ("Priority", ("HIGH",), {}),
        "named_tuple": ("Pair", (1,), {}),
        "str_subclass": ("Tag", ("hi",), {"note": 5}),
    })


#: ``typing`` constructs made at run time: a TypedDict, a Generic class and an alias of it, a runtime-checkable
#: Protocol, and a class that subclasses the alias and meets the protocol.
TYPING_CONSTRUCTS_SOURCE = '''
import typing

T = typing.TypeVar("T")

class Point(typing.TypedDict):
    x: int
    y: int

class Box(typing.Generic[T]):
    def __init__(self, item):
        self.item = item

    def get(self):
        return self.item

@typing.runtime_checkable
class Sized(typing.Protocol):
    def size(self) -> int:
        ...

IntBox = Box[int]

class Shelf(IntBox):
    def size(self):
        return 3

    def facts(self, cls):
        return {"same_class": type(self) is cls, "item": self.get(), "point": Point(x=1, y=2),
                "point_fields": sorted(Point.__annotations__), "point_total": Point.__total__,
                "alias_origin_is_box": typing.get_origin(IntBox) is Box, "alias_args": typing.get_args(IntBox),
                "orig_bases_args": [typing.get_args(b) for b in cls.__orig_bases__],
                "is_sized": isinstance(self, Sized), "plain_is_sized": isinstance(Box(1), Sized),
                "mro": [c.__name__ for c in cls.__mro__], "parameters": [p.__name__ for p in Box.__parameters__]}
'''


@clause("serializer.classes.typing_constructs", "dynamic_classes")
def test_serializer_classes_typing_constructs(impl):
    """Clause serializer.classes.typing_constructs: ``typing`` constructs made at run time travel by value
    and work in a fresh interpreter: a ``TypedDict``, a ``Generic`` class and its parametrized alias (origin
    and arguments), a ``runtime_checkable`` ``Protocol`` (``isinstance`` answers as here), and a class that
    subclasses the alias and meets the protocol."""
    check_facts_in_child(impl, "typing_constructs", TYPING_CONSTRUCTS_SOURCE, "Shelf", (7,))
