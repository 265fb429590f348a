"""Vineyard 0.24.2: a blob's builder memory stays writable after seal, and writing it changes the sealed blob.

Expected: a sealed blob is immutable (every reader sees the bytes it was sealed with).
Run: python sealed_blob_writable.py  (AssertionError while the behaviour is there; exit 0 once fixed)
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

    builder = client.create_blob(4)
    memory = memoryview(builder).cast("B")
    memory[:] = b"seal"
    blob = builder.seal(client)

    memory[:] = b"XXXX"  # after seal: should raise, or at least not reach the sealed blob
    sealed = bytes(memoryview(client.get_blob(blob.id)))
    assert sealed == b"seal", f"the sealed blob changed after seal: {sealed!r} (a write through the builder)"
    print("fixed: the sealed blob kept its bytes")
finally:
    daemon.kill()
    daemon.wait()
    shutil.rmtree(folder, ignore_errors=True)
