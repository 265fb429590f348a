"""The adapter kit: what an adapter needs, so that one for a pickle-like serializer, or for a put/get store
that chooses its own ids, is about ten lines.

* :class:`PickleLikeSerializer` puts the contract's frame around any ``dumps``/``loads`` pair: the in-band
  pickle, and at protocol 5 (with ``out_of_band=True``) its out-of-band buffers, laid out in one buffer that
  :func:`read_frame` reads back zero-copy (read-only when the frame is). The in-band part is whatever
  ``dumps`` returned, so a pickle-compatible ``dumps`` gives frames the stdlib's ``pickle.loads`` reads.
* :func:`pickle_like_implementation` builds the whole :class:`~conformance.api.Implementation` of such a
  pair, declaring :data:`PICKLE_DUMP_ERRORS` and :data:`PICKLE_LOAD_ERRORS` (what the stdlib's pickle
  raises, each type with the reason it is there) unless told otherwise.
* :class:`IdDirectory` maps the contract's 20-byte ids to the ids a store chooses itself (Vineyard's
  object ids, a server's keys), shared by every process of the machine through a folder; the clauses that
  then check the directory rather than the store are :data:`ID_DIRECTORY_CLAUSES`, which the adapter passes
  as ``Implementation(adapter_tested=...)`` so the report marks those cells.

A dask-style adapter, whole::

    from distributed.protocol import pickle as dask_pickle
    from conformance.kit import pickle_like_implementation

    def implementation():
        return pickle_like_implementation("dask", dask_pickle.dumps, dask_pickle.loads,
                                          capabilities={"numpy", "recursive", "by_value_functions"})

Not a goal: a frame format for storage or for other languages (the layout is :mod:`reference.frame`'s
plain one, read only by this suite).
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import tempfile
import time
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Type

from conformance.api import OBJECT_ID_SIZE, Implementation, StoreFactory
from reference.frame import Frame, FrameError, FrameFormat, byte_view
from reference.frame import read_frame as _read

__all__ = ["FORMAT", "FrameError", "ID_DIRECTORY_CLAUSES", "IdDirectory", "IdDirectoryError", "NoRawBuffers",
           "OUT_OF_BAND", "PICKLE_DUMP_ERRORS", "PICKLE_LOAD_ERRORS", "PickleFrame", "PickleLikeSerializer",
           "pickle_like_implementation", "read_frame"]

#: The frame format of the kit (and of the shipped adapters around plain picklers): magic ``b"CFPK"``,
#: :mod:`reference.frame`'s plain layout (a 16-byte header, the buffer table, the in-band pickle, each buffer
#: at a multiple of 64 bytes). Nothing is checksummed, so a damaged frame reaches the loader under test.
FORMAT = FrameFormat(b"CFPK", checked=False)

#: What the stdlib's ``pickle.loads`` (C or pure-Python unpickler) may raise for a corrupt stream, and so what
#: a pickle-based ``deserialize`` declares: the clause ``serializer.errors.corrupt`` feeds damaged frames and
#: passes only on a declared type. Each one, with an input that raises it:
#:
#: * ``pickle.UnpicklingError``: an unknown opcode, a stack or mark error, missing out-of-band buffers;
#: * :class:`FrameError`: the frame around the pickle is damaged (:func:`read_frame`; a ``ValueError``);
#: * ``ValueError``: an unsupported protocol number, a malformed int or float literal, a bad argument to a
#:   reconstructor (numpy's ``__setstate__``);
#: * ``EOFError``: the stream ends early ("Ran out of input");
#: * ``TypeError``: a reconstructor called with arguments it does not take;
#: * ``IndexError``, ``KeyError``: the pure-Python unpickler's empty stack, and a memo key never stored;
#: * ``AttributeError``, ``ImportError``: a GLOBAL naming an attribute or a module that does not exist;
#: * ``struct.error``: the pure-Python unpickler unpacking a truncated length;
#: * ``OverflowError``: a length or a ``LONG`` that does not fit a C ``Py_ssize_t`` (a first guess at this
#:   tuple, without it, failed on exactly that);
#: * ``MemoryError``: a length that claims more memory than there is;
#: * ``UnicodeDecodeError``: a string opcode whose bytes are not UTF-8;
#: * ``RecursionError``: a corrupt stream that nests deeper than the interpreter's limit.
PICKLE_LOAD_ERRORS: Tuple[Type[BaseException], ...] = (
    pickle.UnpicklingError, FrameError, ValueError, EOFError, TypeError, IndexError, KeyError, AttributeError,
    ImportError, struct.error, OverflowError, MemoryError, UnicodeDecodeError, RecursionError)

#: What the stdlib's ``pickle.dumps`` raises for a value it cannot pickle: ``PicklingError`` (a function or
#: class that is not importable by its name), ``TypeError`` ("cannot pickle '_thread.lock' object") and
#: ``AttributeError`` (a local object, before CPython 3.12 names it in a ``PicklingError``).
PICKLE_DUMP_ERRORS: Tuple[Type[BaseException], ...] = (pickle.PicklingError, TypeError, AttributeError)

#: The capabilities a :class:`PickleLikeSerializer` with ``out_of_band=True`` meets by construction: at
#: protocol 5 the buffers leave the pickle, and are read back as views of the frame (read-only ones when the
#: frame is read-only), provided ``loads`` hands them to ``pickle.loads(..., buffers=...)``.
OUT_OF_BAND: FrozenSet[str] = frozenset({"out_of_band", "zero_copy", "read_only"})


class PickleFrame(Frame):
    """A pickle stream and its out-of-band buffers (the contract's ``Serialized``), laid out by ``write_to`` in
    :data:`FORMAT` with one copy of each buffer."""

    __slots__ = ()

    def __init__(self, inband: Any, buffers: Sequence[Any] = ()) -> None:
        super().__init__(bytes(inband), [_flat(b) for b in buffers], format=FORMAT)


def _flat(buffer: Any) -> memoryview:
    """``buffer`` as a flat byte view; an empty one of any shape (say, Dask's frame of an array of shape
    (0, 0)) as ``b""``, since a memoryview with a zero in its shape cannot be cast."""
    view = buffer.raw() if isinstance(buffer, pickle.PickleBuffer) else memoryview(buffer)
    return memoryview(b"") if view.nbytes == 0 else byte_view(view)


def read_frame(frame: Any) -> Tuple[memoryview, List[memoryview]]:
    """``(in-band view, buffer views)`` of a frame :class:`PickleFrame` wrote: zero-copy views of ``frame``
    (any C-contiguous buffer), read-only when it is. Raises :class:`FrameError` naming what is wrong when
    ``frame`` is not such a frame (too short, bad magic, a table pointing outside it)."""
    parsed = _read(frame, format=FORMAT)
    return parsed.inband, parsed.buffers


class PickleLikeSerializer:
    """The contract's serializer over a ``dumps``/``loads`` pair.

    ``serialize(obj, protocol=p)`` calls ``dumps(obj, protocol=p)``, and at protocol 5 with ``out_of_band``
    also passes ``buffer_callback=``, keeping each ``PickleBuffer`` it is given as an out-of-band buffer (the
    pickle protocol 5 API of the stdlib, cloudpickle, dask, ...). ``deserialize(frame)`` reads the frame with
    :func:`read_frame` and calls ``loads(inband, buffers=views)`` when ``out_of_band`` (views of the frame:
    arrays share its memory), or ``loads(inband)`` otherwise. ``dumps`` may return any bytes-like object.

    Errors pass through unchanged: declare the types ``dumps`` and ``loads`` raise (for the stdlib's pickle,
    :data:`PICKLE_DUMP_ERRORS` and :data:`PICKLE_LOAD_ERRORS`).
    """

    def __init__(self, dumps: Callable[..., Any], loads: Callable[..., Any] = pickle.loads, *,
                 out_of_band: bool = True) -> None:
        self._dumps = dumps
        self._loads = loads
        self._oob = out_of_band

    def serialize(self, obj: Any, *, protocol: int) -> PickleFrame:
        buffers: List[Any] = []
        if protocol >= 5 and self._oob:
            inband = self._dumps(obj, protocol=protocol, buffer_callback=buffers.append)
        else:
            inband = self._dumps(obj, protocol=protocol)
        return PickleFrame(inband, buffers)

    def deserialize(self, frame: Any) -> Any:
        inband, buffers = read_frame(frame)
        if self._oob:
            return self._loads(inband, buffers=buffers)
        return self._loads(inband)


def pickle_like_implementation(
        name: str, dumps: Callable[..., Any], loads: Callable[..., Any] = pickle.loads, *,
        capabilities: Iterable[str] = ("numpy", "recursive"), out_of_band: bool = True,
        protocols: Tuple[int, ...] = (3, 4, 5),
        serialization_error: Tuple[Type[BaseException], ...] = PICKLE_DUMP_ERRORS,
        deserialization_error: Tuple[Type[BaseException], ...] = PICKLE_LOAD_ERRORS,
        store_factory: Optional[StoreFactory] = None, description: str = "", **fields: Any) -> Implementation:
    """Returns the :class:`~conformance.api.Implementation` called ``name`` of a ``dumps``/``loads`` pair
    (see :class:`PickleLikeSerializer`).

    ``name`` must be what ``--impl`` is given (an entry-point name or ``package.module:factory``): clauses
    load the implementation again by it. ``capabilities`` are claimed as given, plus :data:`OUT_OF_BAND`
    when ``out_of_band`` is true; claim only what the pair truly does. ``serialization_error`` and
    ``deserialization_error`` default to the stdlib's pickle errors; ``fields`` go to ``Implementation``
    as they are (``adapter_tested=``, the store's errors, ...). Raises what ``Implementation`` raises for a
    wrong claim (``ValueError``, ``ContractError``)."""
    claims = frozenset(capabilities) | (OUT_OF_BAND if out_of_band else frozenset())
    return Implementation(
        name=name, serializer=PickleLikeSerializer(dumps, loads, out_of_band=out_of_band), protocols=protocols,
        capabilities=claims, store_factory=store_factory, serialization_error=serialization_error,
        deserialization_error=deserialization_error, description=description, **fields)


#: The clauses an :class:`IdDirectory` makes *adapter-tested*: what they check is done by the directory, not
#: by the store under test. An adapter that uses one passes this as ``Implementation(adapter_tested=...)``
#: (with those of its own), and the report marks the cells.
ID_DIRECTORY_CLAUSES: Dict[str, str] = {
    "store.immutability.exists": "the adapter's id directory refuses an id that exists, not the store",
    "store.visibility.unsealed": "the adapter's id directory hides an object until it is sealed, not the store",
    "store.multiprocess.unsealed_invisible": "the adapter's id directory hides an unsealed object from other "
                                             "processes, not the store",
}


class NoRawBuffers:
    """A store's ``create``, ``seal``, ``abort`` and ``get_buffer`` for a system that has none (capability
    ``raw_buffers`` not claimed), each raising ``NotImplementedError`` that names the operation and says why.

    Put it first among a store's bases and set :attr:`NO_RAW_BUFFERS` to the reason, with ``{op}`` where the
    operation's name goes; the suite never calls these on a store that does not claim ``raw_buffers``, so
    only a caller who tries learns why.
    """

    NO_RAW_BUFFERS = "this store has no {op}"

    def _no_raw_buffers(self, op: str) -> NotImplementedError:
        return NotImplementedError(self.NO_RAW_BUFFERS.format(op=op) + " (capability 'raw_buffers' is not claimed)")

    def create(self, object_id: bytes, size: int) -> memoryview:
        raise self._no_raw_buffers("create")

    def seal(self, object_id: bytes) -> None:
        raise self._no_raw_buffers("seal")

    def abort(self, object_id: bytes) -> None:
        raise self._no_raw_buffers("abort")

    def get_buffer(self, object_id: bytes, *, timeout: Optional[float] = None) -> memoryview:
        raise self._no_raw_buffers("get_buffer")


class IdDirectoryError(Exception):
    """The directory's folder is missing or unusable (the message names the folder and the fix)."""


class IdDirectory:
    """The contract's 20-byte ids mapped to the ids a store chooses itself, for every process of the machine.

    One folder holds one file per id, named by the id in hex, whose content is the store's own id (any
    ``bytes``). :meth:`publish` is atomic and exclusive (a file written aside, then hard-linked into place:
    ``link`` fails when the name exists), so of two processes publishing one id exactly one succeeds, and a
    reader sees a mapping whole or not at all. An id is thus *visible* from its :meth:`publish` on: a store
    that writes an object first and publishes it when sealed gets "unsealed objects are invisible" from the
    directory (:data:`ID_DIRECTORY_CLAUSES`). :meth:`reserve` marks an id as taken before the store writes
    it (so ``put`` or ``create`` of that id raises the adapter's exists error) without making it visible.

    ``path`` is what another process passes to ``IdDirectory(path)``: put it in the store's ``name``.
    Operations cost one or two system calls; :meth:`ids` lists the folder. Not for ids across machines.
    """

    _PENDING = ".pending"

    def __init__(self, path: str) -> None:
        if not os.path.isdir(path):
            raise IdDirectoryError(f"the id directory {path!r} does not exist; make it with IdDirectory.create() "
                                   f"in the process that makes the store, and pass its path to the others")
        self.path = path

    @classmethod
    def create(cls, parent: Optional[str] = None, *, prefix: str = "objstore-ids-") -> IdDirectory:
        """A new, empty directory in a fresh folder under ``parent`` (default: the system's temporary one)."""
        return cls(tempfile.mkdtemp(prefix=prefix, dir=parent))

    def destroy(self) -> None:
        """Remove the folder and every mapping in it (the store's objects are the adapter's to free)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def _file(self, object_id: bytes) -> str:
        if not isinstance(object_id, (bytes, bytearray)) or len(object_id) != OBJECT_ID_SIZE:
            raise ValueError(f"object ids are {OBJECT_ID_SIZE} bytes, got {object_id!r}")
        return os.path.join(self.path, bytes(object_id).hex())

    def reserve(self, object_id: bytes) -> bool:
        """Take ``object_id`` for an object about to be written: False when it is taken already (published or
        reserved). A reserved id stays invisible to :meth:`lookup` and :meth:`ids` until :meth:`publish`;
        :meth:`release` gives it up."""
        path = self._file(object_id)
        if os.path.exists(path):
            return False
        try:
            os.close(os.open(path + self._PENDING, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        if os.path.exists(path):  # published between the two checks
            self.release(object_id)
            return False
        return True

    def release(self, object_id: bytes) -> None:
        """Give up a reservation (an aborted object); nothing happens when there is none."""
        try:
            os.unlink(self._file(object_id) + self._PENDING)
        except FileNotFoundError:
            pass

    def publish(self, object_id: bytes, native_id: bytes) -> bool:
        """Map ``object_id`` to ``native_id`` (the store's own id) and make it visible to every process, ending
        its reservation if any. False, and nothing changed, when ``object_id`` is mapped already."""
        path = self._file(object_id)
        fd, staging = tempfile.mkstemp(dir=self.path, prefix=".staging-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(native_id))
            try:
                os.link(staging, path)
            except FileExistsError:
                return False
        finally:
            os.unlink(staging)
        self.release(object_id)
        return True

    def lookup(self, object_id: bytes) -> Optional[bytes]:
        """The store's id of ``object_id`` when it is published, else None."""
        try:
            with open(self._file(object_id), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wait(self, object_id: bytes, timeout: Optional[float]) -> Optional[bytes]:
        """:meth:`lookup`, waiting up to ``timeout`` seconds (None: for ever, 0: not at all) for ``object_id``
        to be published; None when it was not."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while True:
            found = self.lookup(object_id)
            if found is not None:
                return found
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)

    def remove(self, object_id: bytes) -> Optional[bytes]:
        """Unmap ``object_id`` and return the store's id it had (for the adapter to delete), or None when it
        was not mapped. Of two processes removing one id, one gets the store's id."""
        path = self._file(object_id)
        taken = f"{path}.removed-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(path, taken)
        except FileNotFoundError:
            return None
        try:
            with open(taken, "rb") as f:
                return f.read()
        finally:
            os.unlink(taken)

    def ids(self) -> List[bytes]:
        """Every published id (reserved ones are not)."""
        width = 2 * OBJECT_ID_SIZE
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return [bytes.fromhex(n) for n in names if len(n) == width and not n.startswith(".")]

    def items(self) -> List[Tuple[bytes, bytes]]:
        """``(id, store's id)`` of every published id."""
        found = []
        for oid in self.ids():
            native = self.lookup(oid)
            if native is not None:
                found.append((oid, native))
        return found
