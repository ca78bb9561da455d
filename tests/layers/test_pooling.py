import numpy as np
import pytest
import torch.nn.functional as F

import handgrad as hg
from handgrad.gradcheck import check_layer
from tests.torch_oracle import t

CONFIGS = [((2, 3, 8, 8), 2, None), ((2, 2, 7, 9), 2, None), ((1, 2, 7, 7), 3, 2), ((2, 1, 6, 5), (2, 3), 1)]


@pytest.mark.parametrize("shape,pool,stride", CONFIGS)
@pytest.mark.parametrize("cls", [hg.MaxPool2D, hg.AvgPool2D])
def test_finite_differences(cls, shape, pool, stride, rng):
    layer = cls(pool, stride, activity_regularizer=hg.L2(0.1))
    report = check_layer(layer, rng.standard_normal(shape), verbose=False)
    assert report.passed, str(report)


@pytest.mark.parametrize("shape,pool,stride", CONFIGS)
@pytest.mark.parametrize("cls,torch_fn", [(hg.MaxPool2D, F.max_pool2d), (hg.AvgPool2D, F.avg_pool2d)])
def test_matches_torch(cls, torch_fn, shape, pool, stride, rng):
    layer = cls(pool, stride)
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    X = t(x, True)
    Y = torch_fn(X, layer.pool_size, layer.stride)
    Y.backward(t(dy))
    np.testing.assert_allclose(y, Y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, X.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_max_gradient_goes_to_the_first_maximum_of_a_tie():
    pool = hg.MaxPool2D(2)
    pool.forward(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]))
    np.testing.assert_array_equal(pool.backward(np.array([[[[5.0]]]])), [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_pool_larger_than_input():
    with pytest.raises(ValueError, match=r"max_pool2d: pool_size \(3, 3\) is larger than the input"):
        hg.MaxPool2D(3).build((1, 2, 2))
