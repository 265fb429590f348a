"""Vineyard 0.24.2: put of a Python int beyond 64 bits, get returns a different int, silently.

Expected: get returns the same int (Python ints are unbounded), or put raises.
Run: python int_truncated.py  (AssertionError while the behaviour is there; exit 0 once fixed)
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

    value = 2**64 + 1
    got = client.get(client.put(value))
    assert got == value, f"put {value}, got {got}"
    print("fixed: the int came back equal")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
