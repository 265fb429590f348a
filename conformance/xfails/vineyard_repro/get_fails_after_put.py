"""Vineyard 0.24.2: put accepts float('nan') and numpy arrays of bytes, and their get raises.

Expected: get returns what put accepted (or put refuses it).
Run: python get_fails_after_put.py  (AssertionError while the behaviour is there; exit 0 once fixed)
"""
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
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

    for value in (float("nan"), np.array([b"ab"])):
        object_id = client.put(value)  # accepted
        try:
            client.get(object_id)
        except Exception as exc:
            raise AssertionError(f"put {value!r} succeeded, its get raised {type(exc).__name__}: {exc}") from exc
    print("fixed: every value put could be got")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
