"""The parts of the speed benchmark (``benchmarks/bench_speed.py``).

Each module measures one thing and returns rows (dicts) for a table:

- :mod:`speed.fit`: ``fit`` against a plain PyTorch loop of the same network,
  on fixed cases and against the number of rows and of features;
- :mod:`speed.inference`: ``transform`` and ``score_samples`` against a bare
  forward pass, and the latency of a one-row call;
- :mod:`speed.memory`: peak resident memory of ``fit``, in fresh processes;
- :mod:`speed.pyod`: skae's detector against PyOD's ``AutoEncoder`` with the
  same network, epochs and batch size;
- :mod:`speed.defaults`: how long ``fit`` takes with default parameters.

:mod:`speed.plain` holds what they share: the data, the plain loop and the
timing helpers.
"""
