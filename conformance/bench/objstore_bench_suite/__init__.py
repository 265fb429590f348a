"""The asv benchmark suite of ``objstore-conformance bench`` (asv's ``benchmark_dir``).

``bench_limits``: the physical limits (memcpy into warm and fresh shared memory, stdlib pickle's zero-copy
bound); ``bench_serializer``: dumps and loads per protocol and payload; ``bench_store``: put, get, first get,
get from another process, heap and RSS of a put. Each class is parametrized by implementation
(:func:`conformance.bench.targets.specs`), the reference first.
"""
