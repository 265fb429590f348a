"""`python -m reference`: a short demonstration of the reference serializer, with figures."""

from __future__ import annotations

import pickle
import threading
import time
from typing import Callable

import numpy as np

import reference


def _median_us(fn: Callable[[], object], repeat: int = 21) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e6


def main() -> None:
    array = np.arange(1 << 20, dtype=np.float64)  # 8 MiB
    so = reference.serialize(array)
    print(f"8 MiB float64 array -> {so!r}")
    frame = so.to_bytes()
    back = reference.loads(frame)
    print(f"loads: zero-copy view of the frame: {back.base is not None}, writeable: {back.flags.writeable}")
    for protocol in (3, 4, 5):
        d = _median_us(lambda p=protocol: reference.dumps(array, protocol=p))  # type: ignore[misc]
        data = reference.dumps(array, protocol=protocol)
        ld = _median_us(lambda d=data: reference.loads(d))  # type: ignore[misc]
        print(f"protocol {protocol}: dumps {d:9.1f} us, loads {ld:9.1f} us")
    std = pickle.dumps(array, protocol=5)
    print(f"stdlib pickle 5 in-band: dumps {_median_us(lambda: pickle.dumps(array, protocol=5)):9.1f} us, "
          f"loads {_median_us(lambda: pickle.loads(std)):9.1f} us")
    factor = 3
    print("a closure round-trips by value:", reference.loads(reference.dumps(lambda x: x * factor))(14))
    print("\nand a lock inside a value is found, with its path:")
    try:
        reference.dumps({"model": {"weights": array[:4], "guard": threading.Lock()}})
    except reference.SerializationError as exc:
        print(f"SerializationError: {exc}")
    reference.inspect_serializability({"cache": [1, threading.RLock()]}, name="config")


if __name__ == "__main__":
    main()
