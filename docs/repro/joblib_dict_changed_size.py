"""joblib.dump pickles with the stdlib's pure-Python pickler (``pickle._Pickler``), which does not notice a
dict that changes size while it is pickled when the whole dict fits one batch of SETITEMS: where
``pickle.dumps`` (the C pickler) raises "RuntimeError: dictionary changed size during iteration", joblib
writes a frame holding some state of the dict. No upstream issue found (searched python/cpython and
joblib/joblib for pickling a dict that changes size).

    python joblib_dict_changed_size.py   # prints "reproduced: True" while the bug is there

The xfail ``serializer.errors.original_type`` of conformance/xfails/joblib.txt; tests/test_xfail_repros.py
runs this script.
"""
import io
import pickle

import joblib


class GrowsTheDict:
    """Adds a key to the dict holding it when pickled (what another thread changing the value does)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        self.target[f"added-{len(self.target)}"] = 0
        return int, (0,)


def fresh():
    value = {"first": None}
    value["grows"] = GrowsTheDict(value)
    value["last"] = None
    return value


try:
    pickle.dumps(fresh())
    stdlib = "no error"
except RuntimeError as exc:
    stdlib = f"RuntimeError: {exc}"
try:
    joblib.dump(fresh(), io.BytesIO())
    joblib_says = "no error"
except RuntimeError as exc:
    joblib_says = f"RuntimeError: {exc}"
print(f"pickle.dumps: {stdlib}; joblib.dump: {joblib_says}")
print("reproduced:", stdlib.startswith("RuntimeError") and joblib_says == "no error")
