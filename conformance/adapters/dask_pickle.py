"""``--impl dask``: Dask distributed's pickle (``distributed.protocol.pickle``), with the adapter kit."""
from conformance.kit import pickle_like_implementation


def dask_implementation():
    """Pickle 5 (cloudpickle for what pickle refuses), out-of-band buffers, stdlib errors, no store."""
    import distributed
    from distributed.protocol import pickle

    return pickle_like_implementation(
        "dask", pickle.dumps, pickle.loads,
        capabilities={"numpy", "recursive", "by_value_functions", "dynamic_classes"},
        description=f"distributed {distributed.__version__} (distributed.protocol.pickle)")
