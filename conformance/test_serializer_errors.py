"""Serializer clauses ``serializer.errors.*``: unserializable values and corrupt frames fail with the
declared errors.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from conformance import strategies
from conformance.clauses import clause
from conformance.harness import frame_buffer, reproduce


def _corruptions(frame_bytes):
    """``(kind, bytes)``: the frame truncated, foreign bytes (never starting as the frame does), or the frame
    with one of its first 64 bytes changed."""
    n = len(frame_bytes)
    return st.one_of(
        st.integers(0, n - 1).map(lambda k: ("truncated", frame_bytes[:k])),
        st.binary(min_size=0, max_size=64).filter(lambda b: not frame_bytes.startswith(b[:4]))
        .map(lambda b: ("foreign", b)),
        st.tuples(st.integers(0, min(n, 64) - 1), st.integers(1, 255)).map(
            lambda t: ("changed", frame_bytes[:t[0]] + bytes([frame_bytes[t[0]] ^ t[1]]) + frame_bytes[t[0] + 1:])),
    )


def _assert_refused(impl, value, culprits, protocol, what=""):
    """``impl`` refuses to serialize ``value`` (holding ``culprits``) with a declared serialization error,
    whose message can be built; any other outcome fails with what happened (``what`` describes the value)."""
    try:
        frame = impl.serializer.serialize(value, protocol=protocol)
    except impl.serialization_error as exc:
        str(exc)  # the message is built by now or here; either way it must not raise
        return
    except Exception as exc:  # noqa: BLE001 - the wrong type is the failure
        raise AssertionError(f"serialize raised {type(exc).__name__}, not one of the declared "
                             f"{[t.__name__ for t in impl.serialization_error]}{what}: {exc!r:.300}") from exc
    raise AssertionError(f"serialize accepted a value holding {len(culprits)} unserializable object(s) "
                         f"(frame of {frame.frame_size} bytes)")


@clause("serializer.errors.unserializable")
@given(case=strategies.unserializable_nestings())
def test_serializer_errors_unserializable(impl, case):
    """Clause serializer.errors.unserializable: a value holding a lock, a re-entrant lock, a generator, a
    socket or an open file (binary, or text open for writing), however nested, fails to serialize with the
    implementation's declared serialization error."""
    value, culprits = case
    protocol = max(impl.protocols)
    reproduce(impl, "import os, socket, threading", f"value = {value!r}",
              f"impl.serializer.serialize(value, protocol={protocol})")
    try:
        _assert_refused(impl, value, culprits, protocol)
    finally:
        strategies.close_drawn_resources()  # sockets and files


@clause("serializer.errors.corrupt")
@given(data=st.data())
def test_serializer_errors_corrupt(impl, data):
    """Clause serializer.errors.corrupt: deserializing a truncated frame, foreign bytes, or a frame with a
    header byte changed either gives a value back or raises the declared deserialization error; it never
    raises anything else, and a truncated frame or foreign bytes never load: they raise the declared error
    (no ``None``, no empty value)."""
    import numpy as np

    protocol = max(impl.protocols)
    value = {"a": [1, 2.5, "x"], "b": np.arange(7, dtype="<i8")}
    frame_bytes = bytes(frame_buffer(impl.serializer.serialize(value, protocol=protocol))[0])
    kind, corrupt = data.draw(_corruptions(frame_bytes), label="corrupt")
    reproduce(impl, "import numpy as np", f"value = {value!r}",
              f"corrupt = {corrupt!r}  # {kind}", "impl.serializer.deserialize(corrupt)")
    try:
        loaded = impl.serializer.deserialize(corrupt)
    except impl.deserialization_error:
        return
    except Exception as exc:  # noqa: BLE001 - the wrong type is the failure
        raise AssertionError(f"deserialize raised {type(exc).__name__}, not one of the declared "
                             f"{[t.__name__ for t in impl.deserialization_error]}: {exc}") from exc
    assert kind != "truncated", (f"a frame truncated to {len(corrupt)} of {len(frame_bytes)} bytes loaded, "
                                 f"as {loaded!r:.80}")
    assert kind != "foreign", f"{len(corrupt)} foreign bytes (not a frame) loaded, as {loaded!r:.80}"


@clause("serializer.errors.hostile_attributes")
@given(case=strategies.hostile_objects())
def test_serializer_errors_hostile_attributes(impl, case):
    """Clause serializer.errors.hostile_attributes: an unserializable value whose own attribute access raises
    (a ``__getattr__`` raising ``RuntimeError``, a ``__getattr__`` or ``__getattribute__`` that recurses
    without end) fails to serialize with the declared serialization error: building the error, or its
    message, never raises the value's own errors instead."""
    value, culprits = case
    protocol = max(impl.protocols)
    reproduce(impl, "from conformance.specimens import *  # the hostile classes, Holder, SlottedHolder",
              "import threading", f"value = {value!r}", f"impl.serializer.serialize(value, protocol={protocol})")
    try:
        _assert_refused(impl, value, culprits, protocol,
                        f", for a {type(value).__name__} whose attribute access raises")
    finally:
        strategies.close_drawn_resources()  # sockets and files


@clause("serializer.errors.original_type")
@given(case=strategies.failing_values())
def test_serializer_errors_original_type(impl, case):
    """Clause serializer.errors.original_type: an exception that is not a pickling refusal propagates with
    its type: the error a value's own ``__reduce_ex__``, ``__reduce__`` or ``__getstate__`` raises (an
    ``Exception``, a ``RuntimeError`` or an ``OSError`` of its own) reaches the caller as an instance of
    that type (as from ``pickle.dumps``, C or pure-Python), so code that catches it keeps catching it.

    A pickling refusal (``PicklingError``, ``TypeError``, ``AttributeError``, ``ValueError``,
    ``RecursionError``: pickle's ways of saying a value cannot be pickled) may be turned into the declared
    serialization error; anything else says something about the value's own state, not its picklability."""
    value, expected = case
    protocol = max(impl.protocols)
    reproduce(impl, "from conformance.specimens import *  # RaisesWhilePickled, Holder",
              f"value = {value!r}",
              f"impl.serializer.serialize(value, protocol={protocol})  # must raise {expected.__name__}")
    try:
        frame = impl.serializer.serialize(value, protocol=protocol)
    except expected:
        return
    except Exception as exc:  # noqa: BLE001 - the wrong type is the failure
        raise AssertionError(f"serialize raised {type(exc).__name__}, not the {expected.__name__} the value "
                             f"raised while pickled: {exc!r:.300}") from exc
    raise AssertionError(f"serialize returned a frame of {frame.frame_size} bytes although pickling the value "
                         f"raises {expected.__name__}")


#: A path from the value, as an error message writes it: ``value``, then items and attributes.
_PATH = re.compile(r"value(?:\[(?:'[^']*'|\"[^\"]*\"|-?\d+)\]|\.[A-Za-z_][A-Za-z0-9_]*)*")


@clause("serializer.errors.culprit_path", "error_paths")
@given(case=strategies.unserializable_nestings())
def test_serializer_errors_culprit_path(impl, case):
    """Clause serializer.errors.culprit_path: the declared serialization error for a value holding
    unserializable objects (locks, generators, sockets, open files) names each of them in its message: its
    type's name, and a path from the value (``value[0]['k1'].a0``) that evaluates to it."""
    value, culprits = case
    protocol = max(impl.protocols)
    reproduce(impl, "import os, socket, threading", f"value = {value!r}",
              f"impl.serializer.serialize(value, protocol={protocol})  # the message names each culprit's path")
    try:
        try:
            frame = impl.serializer.serialize(value, protocol=protocol)
        except impl.serialization_error as exc:
            message = str(exc)
        else:
            raise AssertionError(f"serialize accepted a value holding {len(culprits)} unserializable object(s) "
                                 f"(frame of {frame.frame_size} bytes)")
        reached = {}
        for path in _PATH.findall(message):
            try:
                reached[id(eval(path, {"value": value}))] = path  # noqa: S307 - paths are the contract under test
            except Exception:  # noqa: BLE001, S112 - text that looks like a path but is not one
                continue
        for culprit in culprits:
            assert id(culprit) in reached, (
                f"the error names no path to the {type(culprit).__name__} {culprit!r:.60}: {message!r:.400}")
            assert type(culprit).__name__ in message, (
                f"the error does not name the type {type(culprit).__name__} of {reached[id(culprit)]}: "
                f"{message!r:.400}")
    finally:
        strategies.close_drawn_resources()  # sockets and files
