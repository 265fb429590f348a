"""Serializer clause ``serializer.inspect.culprits``: inspection finds every unserializable object, with
a path to it.
"""

from __future__ import annotations

from hypothesis import given

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import reproduce


@clause("serializer.inspect.culprits", "inspect")
@given(case=strategies.unserializable_nestings())
def test_serializer_inspect_culprits(impl, case):
    """Clause serializer.inspect.culprits: ``inspect(value, name="value")`` says the value does not serialize
    and reports each unserializable object inside it exactly once, with a path that evaluates to it."""
    value, culprits = case
    reproduce(impl, f"value = {value!r}", "ok, failures = impl.serializer.inspect(value, name='value')",
              "[(f.path, f.obj) for f in failures]")
    try:
        _check_culprits(impl, value, culprits)
    finally:
        strategies.close_drawn_resources()  # sockets and files


def _check_culprits(impl, value, culprits):
    ok, failures = impl.serializer.inspect(value, name="value")
    assert not ok, "inspect says a value holding a lock serializes"
    found = {}
    for f in failures:
        target = eval(f.path, {"value": value})  # noqa: S307 - paths are the contract under test
        assert target is f.obj, f"path {f.path!r} evaluates to {target!r}, not to the culprit {f.obj!r}"
        found[id(f.obj)] = f.path
    expected = {id(c) for c in culprits}
    missing = [c for c in culprits if id(c) not in found]
    assert not missing, f"inspect missed {missing!r}; it found {sorted(found.values())}"
    extra = [p for i, p in found.items() if i not in expected]
    assert not extra, f"inspect blamed objects that serialize: {extra}"
    assert len(failures) == len(found), "inspect reported a culprit more than once"
