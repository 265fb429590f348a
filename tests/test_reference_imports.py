"""What importing a part of ``reference`` loads: the package imports lazily (PEP 562), so the neutral baselines,
which share only the frame format, do not stand or fall with the reference's serializer or store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import reference

#: Modules of the reference's store side: none may load with a baseline that has no business with them.
_STORE_SIDE = ["reference.store", "reference.node", "reference.transfer", "reference.arena", "reference.writing",
               "reference.reading", "reference.storefile", "reference.serializer", "reference.pickler"]

_PROBE = """
import json, sys
{imports}
impl = {factory}
value = {{"a": [1, 2.5, b"x"]}}
frame = impl.serializer.serialize(value, protocol=impl.protocols[-1])
buffer = bytearray(frame.frame_size)
frame.write_to(buffer)
assert impl.serializer.deserialize(buffer) == value
print(json.dumps(sorted(m for m in sys.modules if m.startswith("reference") or m == "cloudpickle")))
"""


def _loaded(imports: str, factory: str) -> list:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(imports=imports, factory=factory)],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.parametrize("imports, factory, cloudpickle_ok", [
    ("from conformance.adapters.pickling import pickle_implementation", "pickle_implementation(5)", False),
    ("from conformance.adapters.pickling import cloudpickle_implementation", "cloudpickle_implementation()", True),
    ("from conformance.adapters.shared_memory import shared_memory_implementation",
     "shared_memory_implementation()", False),
], ids=["pickle5", "cloudpickle", "shared_memory"])
def test_baselines_do_not_load_the_reference_store(imports, factory, cloudpickle_ok):
    """A baseline adapter, built and used for a round trip, loads the frame format at most: not the
    reference's store, nodes, transfers, arena or serializer, and (stdlib picklers) not cloudpickle."""
    loaded = _loaded(imports, factory)
    assert "reference.frame" in loaded  # the probe does reach the shared part
    assert not set(loaded) & set(_STORE_SIDE), loaded
    assert cloudpickle_ok or "cloudpickle" not in loaded, loaded


def test_frame_format_alone_loads_nothing_else():
    """``import reference.frame`` loads the package's exceptions and the format, nothing more."""
    out = subprocess.run([sys.executable, "-c", "import sys, reference.frame; "
                          "print(sorted(m for m in sys.modules if m.startswith('reference') or m == 'cloudpickle'))"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["['reference',", "'reference.errors',", "'reference.frame']"]


def test_every_public_name_resolves_and_is_listed():
    """Each name of ``reference.__all__`` resolves (loading its module), ``dir()`` lists it, and an unknown
    name raises ``AttributeError`` naming it."""
    for name in reference.__all__:
        assert getattr(reference, name) is not None, name
    assert set(reference.__all__) <= set(dir(reference))
    assert reference.ObjectStore.__module__ == "reference.store"
    assert reference.dumps is __import__("reference.serializer").serializer.dumps
    with pytest.raises(AttributeError, match="no_such_name"):
        reference.no_such_name  # noqa: B018
