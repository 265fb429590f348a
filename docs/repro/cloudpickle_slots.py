"""A class made at run time with ``__slots__``, pickled by value by cloudpickle, is rebuilt in a fresh
interpreter with a ``__dict__``: its instances are no longer slotted (more memory, and attributes outside
the slots are accepted). No upstream issue found: cloudpipe/cloudpickle#225 and #311 (closed) were about
pickling such instances at all.

    python cloudpickle_slots.py [cloudpickle|srsly|dask]   # prints "reproduced: True" while the bug is there

The xfail ``serializer.classes.slots`` of conformance/xfails/{cloudpickle,srsly,dask,dask-serialize}.txt;
tests/test_xfail_repros.py runs this script.
"""
import subprocess
import sys

which = sys.argv[1] if len(sys.argv) > 1 else "cloudpickle"
if which == "srsly":
    from srsly import pickle_dumps as dumps  # srsly's vendored cloudpickle
elif which == "dask":
    from distributed.protocol.pickle import dumps  # falls back to cloudpickle for __main__ classes
else:
    from cloudpickle import dumps

Point = type("Point", (), {"__slots__": ("x",), "__module__": "__main__"})  # pickled by value
point = Point()
point.x = 1
blob = bytes(dumps(point))
check = "import pickle, sys; p = pickle.loads(sys.stdin.buffer.read()); print(hasattr(p, '__dict__'))"
has_dict = subprocess.run([sys.executable, "-c", check], input=blob, capture_output=True,
                          check=True).stdout.decode().strip()
print(f"rebuilt instance has a __dict__: {has_dict}; the original has none: {not hasattr(point, '__dict__')}")
print("reproduced:", has_dict == "True")
