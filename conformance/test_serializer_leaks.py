"""Serializer clauses ``serializer.leaks.*``: serializing and deserializing keeps nothing alive, even with the
cyclic garbage collector disabled (bpo-39492's pattern).

Both run :func:`conformance.leakprobe.count_alive`, the probe that ``conformance/leakprobe.py`` runs as a
file on CPython 3.7, where it catches the pickle5 0.0.9 backport's leak (``tests/test_leakprobe_pickle5.py``).
"""

from __future__ import annotations

import pytest

from conformance.clauses import clause
from conformance.harness import reproduce, roundtrip
from conformance.leakprobe import ALLOWANCE, count_alive

#: Round trips per probe: a leak keeps all of them alive, a sound serializer none, a cache a few
#: (:data:`~conformance.leakprobe.ALLOWANCE`).
CALLS = 1000

#: One item per protocol; the plugin skips ("not claimed") the item of a protocol the implementation does
#: not claim, before the test runs.
PROTOCOLS = [pytest.param(p, id=f"protocol{p}", marks=pytest.mark.protocol(p)) for p in (3, 4, 5)]


def _assert_no_leak(impl, protocol, extra=None, what=""):
    probe = count_alive(lambda value: roundtrip(impl, value, protocol=protocol), calls=CALLS, extra=extra)
    if probe.alive() <= ALLOWANCE:
        return
    held = []
    if probe.given.alive:
        held.append("serialize keeps the values it was given (bpo-39492: a Pickler in a reference cycle keeps "
                    "every object its memo holds)")
    if probe.returned.alive:
        held.append("deserialize keeps the values it returned")
    freed = ("gc.collect() frees them: a reference cycle holds them" if probe.uncollected() <= ALLOWANCE
             else "gc.collect() does not free them either")
    raise AssertionError(f"{impl.name} at protocol {protocol}{what}: {probe.describe()}. More than {ALLOWANCE} "
                         f"alive with the GC disabled is a leak: {'; '.join(held)}; {freed}")


@clause("serializer.leaks.inband")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_serializer_leaks_inband(impl, protocol):
    """Clause serializer.leaks.inband: at each claimed protocol, 1,000 serializations and deserializations
    with the cyclic GC disabled leave no value serialized, and no value deserialized, alive once the caller
    drops them (at most 8 of the 2,000 tracked objects, for a cache of the last calls).

    Each value is a small object of a class pickled by reference, in a list beside a dict: the shape with which
    CPython 3.8.0/3.8.1 and the pickle5 backport before 0.0.10 kept every object alive (bpo-39492)."""
    reproduce(impl, "from conformance.leakprobe import count_alive",
              f"probe = count_alive(lambda v: roundtrip(impl, v, protocol={protocol}), calls={CALLS})",
              "probe.describe()")
    _assert_no_leak(impl, protocol)


@clause("serializer.leaks.out_of_band", "out_of_band")
@pytest.mark.protocol(5)
def test_serializer_leaks_out_of_band(impl):
    """Clause serializer.leaks.out_of_band: at protocol 5, 1,000 serializations and deserializations of values
    holding a 1 KiB numpy array, whose buffer goes out-of-band, with the cyclic GC disabled, leave neither the
    arrays nor the rest of the values alive once the caller drops them and the frames (at most 8 of the 4,000
    tracked objects)."""
    import numpy as np

    reproduce(impl, "import numpy as np", "from conformance.leakprobe import count_alive",
              "probe = count_alive(lambda v: roundtrip(impl, v, protocol=5), calls=1000, "
              "extra=lambda i: np.full(128, float(i)))", "probe.describe()")
    _assert_no_leak(impl, 5, extra=lambda i: np.full(128, float(i)), what=", with out-of-band arrays")
