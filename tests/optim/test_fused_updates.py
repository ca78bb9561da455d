"""The fused numba updates (``handgrad.kernels.numba.optim``) equal the optimizers' NumPy rules bit for bit.

Each optimizer runs twice from the same parameters on the same gradients, once with the numba kernels (the
fused loops) and once with ``HANDGRAD_KERNELS=numpy``'s choice (the NumPy rules); parameters and state must
be identical after every step, in float32 and float64, for small parameters (run on the calling thread) and
large ones (split over the thread team). The NumPy rules themselves are tested against torch.optim in
``test_optim_torch.py``.
"""
import numpy as np
import pytest

from handgrad import optim
from handgrad.kernels import backend, threads
from handgrad.kernels import numba as kernels_numba
from handgrad.kernels.numba import optim as optim_fast

SHAPES = {"conv.W": (8, 4, 5, 5), "conv.b": (8,), "dense.W": (700, 300)}  # dense.W: 210,000 > 2 tasks' worth
OPTIMIZERS = {
    "sgd": lambda: optim.SGD(lr=0.05),
    "rmsprop": lambda: optim.RMSProp(lr=0.01, rho=0.8, eps=1e-6),
    "momentum": lambda: optim.Momentum(lr=0.05, momentum=0.9),
    "nesterov": lambda: optim.Momentum(lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda: optim.Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6),
    "adamw": lambda: optim.AdamW(lr=0.01, weight_decay=0.1, decay=lambda name: name.endswith(".W")),
}


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def team(request):
    before = threads.num_threads()
    threads.set_num_threads(request.param)
    yield request.param
    threads.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_update_equals_the_numpy_rule_bit_for_bit(name, dtype, team, rng):
    if backend.requested_kernels() != "numba":  # make test-cpus' pass with HANDGRAD_KERNELS=numpy
        pytest.skip("HANDGRAD_KERNELS=numpy: no fused updates to compare")
    assert backend.active() is kernels_numba  # the numba kernels are what the first run uses
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()} for _ in range(4)]
    assert all(optim_fast.fusable(params[k], grads[0][k]) for k in SHAPES)
    fused_opt, numpy_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    fused_params = {k: p.copy() for k, p in params.items()}
    numpy_params = {k: p.copy() for k, p in params.items()}
    for g in grads:
        fused_opt.step(fused_params, g)
        with backend.using_kernels("numpy"):
            numpy_opt.step(numpy_params, g)
        for k in SHAPES:
            assert fused_params[k].dtype == dtype
            np.testing.assert_array_equal(fused_params[k], numpy_params[k], err_msg=k)
            for slot in fused_opt.slots:
                np.testing.assert_array_equal(fused_opt.state[k][slot], numpy_opt.state[k][slot], err_msg=slot)
    for k in SHAPES:  # the steps moved every parameter
        assert np.all(fused_params[k] != params[k])


def test_non_contiguous_or_mixed_dtype_gradients_take_the_numpy_rule(rng):
    p = rng.standard_normal((6, 5)).astype(np.float32)
    assert not optim_fast.fusable(p, np.asfortranarray(rng.standard_normal((6, 5)).astype(np.float32)))
    assert not optim_fast.fusable(p, rng.standard_normal((6, 5)))  # float64 gradient, float32 parameter
    g = rng.standard_normal((5, 6)).astype(np.float32).T  # a transposed view
    a, b = {"w": p.copy()}, {"w": p.copy()}
    optim.Adam(lr=0.1).step(a, {"w": g})
    with backend.using_kernels("numpy"):
        optim.Adam(lr=0.1).step(b, {"w": g})
    np.testing.assert_array_equal(a["w"], b["w"])
