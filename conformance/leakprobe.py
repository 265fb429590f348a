"""The leak probe: how many of the objects a serializer was given, or gave back, are still alive after N round
trips with the cyclic garbage collector disabled (bpo-39492's pattern).

CPython 3.8.0 and 3.8.1, and the ``pickle5`` backport before 0.0.10, kept every object pickled by a Pickler
that has a ``reducer_override`` alive: the Pickler sat in a reference cycle with its own bound method, so
only the cyclic GC could free it, and its memo held every object it had pickled (bpo-39492; fixed in 3.8.2
and pickle5 0.0.10). Serializers built on such a Pickler (cloudpickle's, Ray's on older Pythons) leaked
every value they serialized whenever the GC did not run, and all of them when it was disabled.

:func:`count_alive` is the probe. The suite's clauses ``serializer.leaks.*`` and ``store.leaks.objects``
run it over an implementation's serialize/deserialize and put/get/delete (``store.leaks.rss`` measures
:func:`private_memory`); run as a file, it checks a Pickler subclass with a ``reducer_override`` of the
pickle module at hand::

    python conformance/leakprobe.py              # CPython >= 3.8: stdlib pickle
    python3.7 conformance/leakprobe.py           # CPython 3.7: the pickle5 backport, which must be installed
    python3.7 conformance/leakprobe.py --json    # one JSON object instead of the lines for people

Exit status 0 when nothing leaked, 1 when a leak was found, 2 when the probe cannot run (no pickle module
with ``reducer_override``). This module imports only the standard library (and ``pickle5`` when run as a
file on CPython < 3.8) and runs on CPython 3.7, so it checks an interpreter or backport the project itself
does not support. It is not a memory profiler: it counts only the objects it made, through weak references.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import sys
import weakref
from typing import Any, Callable, List, NamedTuple, NoReturn, Optional, Sequence

__all__ = ["ALLOWANCE", "Count", "Probe", "Sentinel", "count_alive", "main", "private_memory", "probe_value",
           "tracked_parts"]

#: Tracked objects that may stay alive without counting as a leak: a serializer may keep what its last call
#: or two touched (a cached frame, a reused memo). A leak keeps every call's objects: N of N.
ALLOWANCE = 8


class Sentinel:
    """A small object pickled by reference inside every probe value; weakly referenceable, so the probe can
    tell whether it is still alive."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __reduce__(self) -> Any:
        return (Sentinel, (self.i,))

    def __repr__(self) -> str:
        return f"Sentinel({self.i})"


class Count(NamedTuple):
    """How many of ``tracked`` objects were alive when the loop ended (gc still disabled: ``alive``) and
    after a full ``gc.collect()`` (``uncollected``)."""

    tracked: int
    alive: int
    uncollected: int


class Probe(NamedTuple):
    """What :func:`count_alive` found: the objects given to the round trip (``given``: each value's
    sentinel and extra object) and those it gave back (``returned``: their copies)."""

    calls: int
    gc_disabled: bool
    given: Count
    returned: Count

    def alive(self) -> int:
        """Tracked objects alive when the loop ended (with the GC disabled, if it was)."""
        return self.given.alive + self.returned.alive

    def uncollected(self) -> int:
        """Tracked objects still alive after ``gc.collect()``: held by something live, not only by cycles."""
        return self.given.uncollected + self.returned.uncollected

    def describe(self) -> str:
        """One line: the counts, for messages and the command line."""
        gc_state = "gc disabled" if self.gc_disabled else "gc enabled"
        return (f"{self.calls} round trips ({gc_state}): {self.given.alive} of {self.given.tracked} objects "
                f"given and {self.returned.alive} of {self.returned.tracked} returned still alive; after "
                f"gc.collect(), {self.given.uncollected} and {self.returned.uncollected}")


def probe_value(i: int, extra: Any = None) -> List[Any]:
    """The value of round trip ``i``: a :class:`Sentinel` in a list beside a dict (the shape of the
    bpo-39492 reproducer: a few containers, one object of a class pickled by reference), with ``extra`` (an
    object whose buffer may go out-of-band, or None) in the dict."""
    return [Sentinel(i), {"i": i, "tag": "x" * 8, "extra": extra}]


def tracked_parts(value: Any) -> List[Any]:
    """The objects of a probe value (or of what a round trip gave back for one) that the probe tracks: the
    sentinel and the extra object, those that can be weakly referenced. A value of another shape gives
    fewer (a broken round trip is another clause's business, not a leak)."""
    parts: List[Any] = []
    try:
        parts.append(value[0])
        parts.append(value[1]["extra"])
    except (TypeError, KeyError, IndexError):
        pass
    return [p for p in parts if p is not None and _weakly_referenceable(p)]


def _weakly_referenceable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def count_alive(round_trip: Callable[[Any], Any], *, calls: int = 1000, extra: Optional[Callable[[int], Any]] = None,
                disable_gc: bool = True, warmup: int = 3) -> Probe:
    """Run ``round_trip(probe_value(i, extra(i)))`` for ``i`` in ``range(calls)`` and count how many of the
    objects given (each value's sentinel and extra) and returned (their copies in what ``round_trip``
    returned) are still alive afterwards, through weak references.

    With ``disable_gc`` (the default) the cyclic GC is off during the loop and the count: an object that only
    a reference cycle keeps alive counts, as it did in bpo-39492, where the cycle was freed only when (and
    if) the collector ran. ``uncollected`` counts again after ``gc.collect()``. ``warmup`` untracked round
    trips run first, so that first-call caches (imports, dispatch tables) are not counted. The GC's state is
    restored on return. ``round_trip`` may return None (nothing returned to track). Costs ``calls`` round
    trips and two weak references per tracked object; memory is what ``round_trip`` keeps, at most.
    """
    if calls < 1:
        raise ValueError(f"'calls' must be a positive integer, not {calls!r}")
    make_extra = extra or (lambda i: None)
    for i in range(warmup):
        round_trip(probe_value(-1 - i, make_extra(-1 - i)))
    given: List[Any] = []
    returned: List[Any] = []
    was_enabled = gc.isenabled()
    gc.collect()
    if disable_gc:
        gc.disable()
    try:
        for i in range(calls):
            value = probe_value(i, make_extra(i))
            given.extend(weakref.ref(p) for p in tracked_parts(value))
            back = round_trip(value)
            returned.extend(weakref.ref(p) for p in tracked_parts(back))
            del value, back
        alive = (_alive(given), _alive(returned))
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    return Probe(calls, disable_gc, Count(len(given), alive[0], _alive(given)),
                 Count(len(returned), alive[1], _alive(returned)))


def _alive(refs: Sequence[Any]) -> int:
    return sum(1 for r in refs if r() is not None)


def private_memory() -> int:
    """This process's resident private memory in bytes: ``RssAnon`` of ``/proc/self/status`` (Linux), where
    there is one; else the peak resident set size (``getrusage``), which grows with a leak too, once the
    warm-up has set the peak."""
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# -- as a file: a Pickler with reducer_override of the pickle module at hand -------------------------------------
def _pickle_module(name: str) -> Any:
    """The pickle module to check: ``name``, or on ``auto`` stdlib pickle when its Pickler has
    ``reducer_override`` (CPython >= 3.8), else the pickle5 backport. SystemExit(2) with why when neither."""
    if name == "auto":
        name = "pickle" if sys.version_info >= (3, 8) else "pickle5"
    try:
        module = __import__(name)
    except ImportError as exc:
        _refuse(f"cannot import {name!r} ({exc}); on CPython < 3.8 install the pickle5 backport "
                "(pip install pickle5), or pass --pickle-module")
    if not hasattr(module, "PickleBuffer"):
        _refuse(f"{name} has no protocol 5 (PickleBuffer): on CPython < 3.8 use the pickle5 backport")
    return module


def _refuse(why: str) -> NoReturn:
    """The probe cannot run here: say why on stderr and exit with status 2."""
    print(f"leakprobe: {why}", file=sys.stderr)
    raise SystemExit(2)


class Blob(bytearray):
    """A bytearray whose contents go out-of-band at protocol 5 (PEP 574's example), for the file's
    out-of-band probe: :func:`main` sets ``pickle_buffer`` to the checked module's PickleBuffer."""

    pickle_buffer: Any = None

    def __reduce_ex__(self, protocol: Any) -> Any:
        if protocol >= 5 and Blob.pickle_buffer is not None:
            return _rebuild_blob, (Blob.pickle_buffer(self),)
        return _rebuild_blob, (bytes(self),)


def _rebuild_blob(data: Any) -> Blob:
    return Blob(data)


def _reducer_override_round_trip(module: Any, *, out_of_band: bool) -> Callable[[Any], Any]:
    """serialize with a Pickler subclass that has a ``reducer_override`` (returning NotImplemented: the
    normal reduction), as cloudpickle's does, then ``module.loads``; at protocol 5, with ``out_of_band``,
    buffers go through ``buffer_callback``."""

    class OverridingPickler(module.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            return NotImplemented

    def round_trip(value: Any) -> Any:
        out = io.BytesIO()
        buffers: List[Any] = []
        kwargs = {"buffer_callback": buffers.append} if out_of_band else {}
        OverridingPickler(out, protocol=5, **kwargs).dump(value)
        return module.loads(out.getvalue(), buffers=buffers)

    return round_trip


def _version(module: Any) -> str:
    """The version of the checked pickle module's distribution ("stdlib" for pickle), to label the output."""
    found = getattr(module, "__version__", None)
    if found:
        return str(found)
    if module.__name__ == "pickle":
        return "stdlib"
    try:
        from importlib import metadata  # CPython >= 3.8
    except ImportError:
        metadata = None  # type: ignore[assignment]
    try:
        if metadata is not None:
            return str(metadata.version(module.__name__))
        import pkg_resources  # type: ignore[import-not-found, import-untyped, unused-ignore]  # in 3.7's venvs

        return str(pkg_resources.get_distribution(module.__name__).version)
    except Exception:  # noqa: BLE001 - the version only labels the output
        return "?"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="round trips per probe (1000)")
    parser.add_argument("--pickle-module", default="auto",
                        help="the module whose Pickler is checked: pickle, pickle5 (default: pickle on "
                             "CPython >= 3.8, else pickle5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    module = _pickle_module(args.pickle_module)
    Blob.pickle_buffer = module.PickleBuffer
    version = _version(module)
    probes = {
        "inband": count_alive(_reducer_override_round_trip(module, out_of_band=False), calls=args.calls),
        "out_of_band": count_alive(_reducer_override_round_trip(module, out_of_band=True), calls=args.calls,
                                   extra=lambda i: Blob(b"%d" % i * 16)),
    }
    leaked = {name: p.alive() > ALLOWANCE for name, p in probes.items()}
    python = f"{platform.python_implementation()} {platform.python_version()}"
    if args.json:
        print(json.dumps({
            "python": python, "module": module.__name__, "version": version, "calls": args.calls,
            "allowance": ALLOWANCE, "leaked": any(leaked.values()),
            "probes": {name: {"given": p.given._asdict(), "returned": p.returned._asdict(), "leaked": leaked[name]}
                       for name, p in probes.items()},
        }, sort_keys=True))
    else:
        print(f"leakprobe: {module.__name__} {version} on {python}: a Pickler subclass with reducer_override, "
              f"protocol 5, {args.calls} dumps + loads, gc disabled")
        for name, p in probes.items():
            print(f"  {name:<12} {'LEAK' if leaked[name] else 'ok  '}  {p.describe()}")
    return 1 if any(leaked.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
