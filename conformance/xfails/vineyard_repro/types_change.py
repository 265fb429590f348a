"""Vineyard 0.24.2: get returns another type than put was given: a list comes back as a tuple, True as 1,
bytes as a memoryview.

Expected: get returns a value of the type put (a list is mutable; code that appends to it breaks).
Run: python types_change.py  (AssertionError while the behaviour is there; exit 0 once fixed)
"""
import os
import shutil
import subprocess
import tempfile
import time

import vineyard

folder = tempfile.mkdtemp()
sock = os.path.join(folder, "v.sock")
vineyardd = os.path.join(os.path.dirname(vineyard.__file__), "bdist", "vineyardd")
daemon = subprocess.Popen([vineyardd, f"--socket={sock}", "--meta=local", "--size=64Mi", "--rpc=false",
                           f"--log_dir={folder}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while not os.path.exists(sock):
        time.sleep(0.01)
    client = vineyard.connect(sock)

    got = client.get(client.put([1, [2, 3]]))
    assert type(got) is list, f"put [1, [2, 3]], got {got!r} ({type(got).__name__})"
    got = client.get(client.put(True))
    assert got is True, f"put True, got {got!r} ({type(got).__name__})"
    got = client.get(client.put(b"bytes"))
    assert type(got) is bytes, f"put b'bytes', got {got!r} ({type(got).__name__})"
    print("fixed: the list, the bool and the bytes came back as they were")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
