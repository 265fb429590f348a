"""The frame of the adapters around plain picklers: the adapter kit's (:mod:`conformance.kit`), magic ``b"CFPK"``.

Layout (see :mod:`reference.frame`): a 16-byte header (magic, u32 number of buffers ``n``, u64 in-band
length), ``n`` pairs of u64 (offset, length), the in-band pickle, then each buffer at a multiple of 64
bytes from the frame start. Nothing is checksummed, so a damaged frame reaches the pickler under test.
:func:`read_frame` validates it and returns zero-copy views (read-only when the frame is). Kept as a module
of its own for the adapters and tests that import it from here; the code lives in :mod:`conformance.kit`.
"""

from __future__ import annotations

from conformance.kit import FORMAT, FrameError, PickleFrame, read_frame

__all__ = ["FORMAT", "FrameError", "PickleFrame", "read_frame"]
