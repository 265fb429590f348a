"""asv benchmarks for objstore-conformance: the reference serializer and store, beside their physical limits.

One module per area (``bench_serialization``, ``bench_store``, ``bench_leaks``); seeded payload builders and
the helpers they share live in ``common``. Run them with ``tox -e bench`` (current interpreter) or
``ci/bench`` (CPython 3.8-3.13); ``ci/bench-summary`` prints the ratios that matter.
"""
