"""Vineyard 0.24.2: put of a list that contains itself recurses until RecursionError; a list held twice
comes back as two tuples.

Expected: put keeps the identity structure of what it is given (pickle does), or refuses a cycle with a
clear error.
Run: python cyclic_list_recursion.py  (AssertionError while the behaviour is there; exit 0 once fixed)
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

    shared = [1]
    got = client.get(client.put([shared, shared]))
    assert got[0] is got[1], f"put [shared, shared], got {got!r}: two copies (and tuples) instead of one list"
    cyclic: list = []
    cyclic.append(cyclic)
    try:
        client.put(cyclic)
    except RecursionError as exc:
        raise AssertionError("put of a list that contains itself: RecursionError in Vineyard's sequence "
                             "builder") from exc
    print("fixed: identity kept")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
