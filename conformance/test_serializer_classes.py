"""Serializer clauses ``serializer.classes.*``: classes made at run time, and their instances, work in a
fresh interpreter (see :func:`conformance.dynamic.check_case`).
"""

from __future__ import annotations

from conformance.clauses import clause
from conformance.dynamic import check_case


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
