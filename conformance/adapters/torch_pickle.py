"""``--impl torch``: the ``ForkingPickler`` torch's multiprocessing sends values with (the stdlib's
``multiprocessing.reduction.ForkingPickler``, with the reducers ``torch.multiprocessing`` registers on it for
tensors and storages), with the adapter kit."""

from __future__ import annotations

from conformance.api import Implementation
from conformance.kit import pickle_like_implementation


def torch_implementation() -> Implementation:
    """ForkingPickler after ``import torch.multiprocessing`` (``torch.multiprocessing.reductions``): stdlib
    pickle by reference, in-band (its ``dumps`` takes no ``buffer_callback``), read back with
    ``ForkingPickler.loads`` (``pickle.loads``); no store."""
    from multiprocessing.reduction import ForkingPickler

    import torch
    import torch.multiprocessing  # noqa: F401 - registers torch's reducers on ForkingPickler

    return pickle_like_implementation(
        "torch", ForkingPickler.dumps, ForkingPickler.loads, out_of_band=False,
        description=f"torch {torch.__version__} (ForkingPickler with torch.multiprocessing's reducers)")
