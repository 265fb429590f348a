"""``objstore-conformance bench``: asv benchmarks of any implementation the suite accepts.

An implementation is chosen by the same ``--impl`` specs as the suite (:mod:`conformance.registry`), so the
adapter that conformance validates is the one that is timed. Every run measures the reference and the
physical limits beside it (memcpy into warm and into fresh shared memory, stdlib pickle's zero-copy bound),
and only what the implementation claims (:mod:`conformance.bench.plan`).

Modules, one job each:

* :mod:`~conformance.bench.payloads`: seeded payload builders and size labels;
* :mod:`~conformance.bench.targets`: which implementations a benchmark process measures (an environment
  variable), loaded through the registry, and their stores;
* :mod:`~conformance.bench.plan`: what an implementation's claims let run, and why the rest is skipped;
* ``objstore_bench_suite/``: the asv benchmark modules themselves (asv's ``benchmark_dir``);
* :mod:`~conformance.bench.asvrun`: the asv configuration and invocation;
* :mod:`~conformance.bench.results`: asv results files read back;
* :mod:`~conformance.bench.ratios`: ratios to the reference and to the limits;
* :mod:`~conformance.bench.gate`: the ``--compare`` regression gate's decision;
* :mod:`~conformance.bench.command`: the command line.
"""
