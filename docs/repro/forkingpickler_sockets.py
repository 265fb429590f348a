"""torch's pickler for sharing with child processes (``torch.multiprocessing`` registers its reductions on
the stdlib's ``multiprocessing.reduction.ForkingPickler``) serializes a socket: the stdlib registers a
reducer for ``socket.socket`` that duplicates the descriptor for a child process, where ``pickle.dumps``
raises ``TypeError: cannot pickle 'socket' object``. By design of ForkingPickler (it exists to hand
resources to child processes), not a bug of torch: no upstream issue found.

    python forkingpickler_sockets.py   # prints "reproduced: True" while ForkingPickler accepts sockets

The xfail ``serializer.errors.hostile_attributes`` of conformance/xfails/torch.txt;
tests/test_xfail_repros.py runs this script.
"""
import pickle
import socket
from multiprocessing.reduction import ForkingPickler

import torch.multiprocessing  # noqa: F401 - registers torch's reductions on ForkingPickler

with socket.socket() as sock:
    try:
        pickle.dumps(sock)
        stdlib = "accepted"
    except TypeError as exc:
        stdlib = f"refused ({exc})"
    frame = ForkingPickler.dumps(sock)
    print(f"pickle.dumps: {stdlib}; ForkingPickler.dumps: a frame of {len(frame)} bytes")
    print("reproduced:", len(frame) > 0 and stdlib != "accepted")
