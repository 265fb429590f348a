"""Payloads whose unpickling leaves a mark: the proof that something was (or was not) unpickled.

``marker_pickle(path)`` is a pickle that, when loaded, creates the file ``path`` (it calls ``open(path, "x")``);
``marker_frame(path)`` is the same inside a valid serializer frame. A test that feeds one to a peer and then
finds no file at ``path`` has shown that nothing in between unpickled it. The positive control (loading it
deliberately creates the file) lives with the tests, so the proof cannot pass vacuously.
"""

from __future__ import annotations

import pickle
from typing import Any

from reference.serializer import dumps


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return open, (self.path, "x")  # loading creates the file; fails if it exists (so each mark is new)


def marker_pickle(path: str, protocol: int = 4) -> bytes:
    return pickle.dumps(_Marker(path), protocol=protocol)


def marker_frame(path: str) -> bytes:
    return dumps(_Marker(path))
