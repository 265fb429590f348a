"""``--impl srsly``: srsly's pickle (``srsly.pickle_dumps``/``pickle_loads``, its vendored cloudpickle)."""

from __future__ import annotations

from conformance.api import Implementation
from conformance.kit import pickle_like_implementation


def srsly_implementation() -> Implementation:
    """srsly's public pickle API: cloudpickle by value, no ``buffer_callback`` (in-band only), no store."""
    import srsly
    import srsly.cloudpickle

    return pickle_like_implementation(
        "srsly", srsly.pickle_dumps, srsly.pickle_loads, out_of_band=False,
        capabilities={"numpy", "recursive", "by_value_functions", "dynamic_classes"},
        description=f"srsly {srsly.__version__} (vendored cloudpickle {srsly.cloudpickle.__version__})")
