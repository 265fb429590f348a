"""``--impl joblib``: joblib's pickler (``joblib.dump``/``joblib.load`` on a buffer), with the adapter kit."""
import io

from conformance.kit import pickle_like_implementation


def joblib_implementation():
    """joblib's NumpyPickler: arrays written raw among the pickle's opcodes (in-band), functions by name."""
    import joblib

    def dumps(value, protocol):
        joblib.dump(value, out := io.BytesIO(), protocol=protocol)
        return out.getbuffer()
    return pickle_like_implementation("joblib", dumps, lambda frame: joblib.load(io.BytesIO(frame)),
                                      out_of_band=False, description=f"joblib {joblib.__version__}")
