"""A class made at run time whose metaclass defines ``__eq__`` without ``__hash__`` (so the class is
unhashable) cannot be pickled by value: cloudpickle looks classes up in dicts (its class tracker, its table
of builtin types), and ``dumps`` raises "TypeError: unhashable type". No upstream issue found (searched
cloudpipe/cloudpickle for unhashable classes and metaclasses; #139 and #144 are about unhashable functions).

    python cloudpickle_unhashable_metaclass.py [cloudpickle|srsly|dask]   # "reproduced: True" while it fails

The xfail ``serializer.classes.unhashable_metaclass`` of conformance/xfails/{cloudpickle,srsly,dask,
dask-serialize}.txt; tests/test_xfail_repros.py runs this script.
"""
import sys

which = sys.argv[1] if len(sys.argv) > 1 else "cloudpickle"
if which == "srsly":
    from srsly import pickle_dumps as dumps
elif which == "dask":
    from distributed.protocol.pickle import dumps
else:
    from cloudpickle import dumps

Meta = type("Meta", (type,), {"__eq__": lambda cls, other: cls is other})  # no __hash__: unhashable classes
Counter = Meta("Counter", (), {"__module__": "__main__", "start": 40})
try:
    dumps(Counter)
except TypeError as exc:
    print(f"dumps raised TypeError: {exc}")
    print("reproduced: True")
else:
    print("reproduced: False")
