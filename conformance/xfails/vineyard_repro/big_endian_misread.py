"""Vineyard 0.24.2: put of a big-endian numpy array, get returns its bytes read in native order.

Expected: get returns an array equal to the one put (in either byte order), or put refuses it.
Run: python big_endian_misread.py  (AssertionError while the behaviour is there; exit 0 once fixed)
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

    array = np.array([1, 2], dtype=">i4")
    got = client.get(client.put(array))
    assert np.array_equal(got, array), f"put {array!r} ({array.dtype.str}), got {got!r} ({got.dtype.str})"
    print("fixed: the big-endian array came back equal")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
