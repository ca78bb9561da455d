"""Array kernels behind the layers, in two kernel sets of the same interface (``backend.active()`` chooses).

- ``numpy/``: the NumPy kernels (vectorized, obviously correct): im2col convolution, dense, pooling, ELU
  (``ops``), Winograd convolution (``winograd``), standardization (``normalization``), batch
  normalization (``batch_norm``), optimizer updates
  (``optim``); checked against the explicit loops of ``conv_reference``;
- ``numba/``: the same interface on numba loops run by the thread team, with recycled output buffers and
  per-thread scratch (``buffers``), channels-last layouts (``layout``), fused optimizer updates (``optim``) and
  fusion rules (``fusion``), tested against ``numpy/`` in ``tests/kernels``.

Shared by both: ``conv_geometry`` (padding and output sizes), ``im2col`` (the column matrix and its adjoint),
``winograd_transforms`` (the Winograd matrices and tiles), ``conv_algorithm`` (im2col or Winograd, and
"auto"), ``fusion`` (the planner of fused steps), ``threads`` (the thread team and BLAS threads).

``INTERFACE`` names what every kernel set provides (``handgrad.kernels.numpy``'s docstring says what each
does; ``tests/kernels/test_kernel_sets.py`` checks that both sets have all of it, with the same signatures).
"""

INTERFACE = (
    "NAME",
    "conv_algorithm", "conv2d_forward", "conv2d_backward",
    "dense_forward", "dense_backward",
    "max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
    "elu_forward", "elu_backward", "dropout_forward",
    "standardize", "standardize_backward", "batch_norm_forward", "batch_norm_backward",
    "fusion_plan", "pass_scope",
    "sgd_update", "momentum_update", "rmsprop_update", "adam_update",
)
