"""The adapters written with the adapter kit (dask, dask-serialize, joblib, srsly, torch): each loads by its
entry-point name where its peer is installed, round-trips an array through a frame, and the dask and joblib
adapters stay within 15 lines (the kit's promise). ``tox -e peers-light`` and ``tox -e peers`` run them with
the peers installed; elsewhere the peer-specific tests are skipped."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conformance.registry import available, load_implementation

ADAPTERS = Path(__file__).resolve().parent.parent / "conformance" / "adapters"
#: --impl name -> (module of the peer, adapter module)
PEERS = {"dask": ("distributed", "dask_pickle"), "dask-serialize": ("distributed", "dask_serialize"),
         "joblib": ("joblib", "joblib_pickle"), "srsly": ("srsly", "srsly_pickle"), "torch": ("torch", "torch_pickle")}


@pytest.mark.parametrize("module", ["dask_pickle", "joblib_pickle"])
def test_kit_adapters_are_15_lines_or_fewer(module):
    lines = (ADAPTERS / f"{module}.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 15, f"{module}.py has {len(lines)} lines"


def _needs(name: str) -> None:
    peer = PEERS[name][0]
    if importlib.util.find_spec(peer) is None:
        pytest.skip(f"{peer} is not installed here (tox -e peers-light / peers installs it)")


@pytest.mark.parametrize("name", sorted(PEERS))
def test_kit_adapter_loads_by_name_and_round_trips(name):
    _needs(name)
    assert name in available()
    impl = load_implementation(name)
    assert impl.name == name and impl.store_factory is None
    array = np.arange(1000.0).reshape(10, 100)
    frame = impl.serializer.serialize({"a": array, "b": [1, "x"]}, protocol=max(impl.protocols))
    buf = bytearray(frame.frame_size)
    frame.write_to(buf)
    out = impl.serializer.deserialize(memoryview(buf))
    assert np.array_equal(out["a"], array) and out["b"] == [1, "x"]
    # out-of-band claims only where the frame really carries buffers
    assert impl.claims("out_of_band") == (len(frame.buffers) > 0)
