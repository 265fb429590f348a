"""joblib.dump writes an object array's members with a pickler of their own (the object-dtype branch of
joblib/joblib#262), outside the memo of the pickle around it: a member that the value also references
elsewhere comes back as a second, distinct object. No upstream issue found (searched joblib/joblib for
object arrays and shared references).

    python joblib_shared_members.py   # prints "reproduced: True" while the bug is there

The xfail ``serializer.numpy.shared_members`` of conformance/xfails/joblib.txt; tests/test_xfail_repros.py
runs this script.
"""
import io
import pickle

import joblib
import numpy as np

shared = [None]
array = np.empty(1, dtype=object)
array[0] = shared
value = [array, shared]  # the list is both the array's member and the value's second item

out = io.BytesIO()
joblib.dump(value, out)
back = joblib.load(io.BytesIO(out.getvalue()))
stdlib = pickle.loads(pickle.dumps(value))
print(f"pickle keeps the sharing: {stdlib[0][0] is stdlib[1]}; joblib does: {back[0][0] is back[1]}")
print("reproduced:", back[0][0] is not back[1])
