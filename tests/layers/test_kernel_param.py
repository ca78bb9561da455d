"""Which parameter is a layer's kernel is declared (``Layer.KERNEL_PARAM``), not guessed from its name."""
import numpy as np

import handgrad as hg
from handgrad.config import TrainConfig
from handgrad.layers.base import Layer
from handgrad.training.monitors import monitored_layers
from handgrad.training.run import build_optimizer


class Scale(Layer):
    """``y = x * V`` with its kernel named ``V`` (declared), and an undeclared parameter ``W``-less layer."""

    KERNEL_PARAM = "V"

    def _build(self, input_shape, rng):
        self.params = {"V": np.ones(input_shape, self.dtype)}
        return input_shape

    def _forward(self, x, training):
        self._x = x
        return x * self.params["V"]

    def _backward(self, dy, input_grad):
        self.grads["V"] = (dy * self._x).sum(axis=0)
        return dy * self.params["V"] if input_grad else None


def make_model():
    return hg.Sequential([hg.Conv2D(2, 3), hg.BatchNorm2D(), hg.Flatten(), Scale(), hg.Dense(3)], input_shape=(1, 4, 4))


def test_kernel_names_follow_the_declaration():
    model = make_model()
    assert model.kernel_names() == ["conv2d.W", "scale.V", "dense.W"]
    assert [layer.name for layer in monitored_layers(model)] == ["conv2d", "scale", "dense"]


def test_adamw_of_handgrad_train_decays_exactly_the_kernels():
    model = make_model()
    optimizer = build_optimizer(TrainConfig(optimizer="adamw"), steps_per_epoch=10, model=model)
    assert [name for name in model.parameters() if optimizer.decay(name)] == model.kernel_names()
