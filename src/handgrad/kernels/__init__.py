"""Array kernels behind the layers, in two interchangeable sets (see ``backend`` for the choice).

- ``reference``: the NumPy kernels (vectorized, obviously correct), built on ``im2col`` and checked against
  the explicit loops of ``conv_reference``;
- ``fast``: the same functions on numba loops (``numba_loops``) run by a thread team (``threads``), with
  recycled output buffers and per-thread scratch (``buffers``) and channels-last layouts (``layout``), tested
  against ``reference`` in ``tests/kernels``.

``conv_geometry`` computes padding and output sizes for both.
"""
