"""``handgrad.export.to_torch`` / ``from_torch``: PyTorch's own modules with handgrad's weights and moving
statistics give handgrad's logits; ``to_torch(from_torch(m))`` is ``m`` bit for bit; what has no equivalent is
refused naming the module; BatchNorm's momentum is converted between the two conventions."""
import re

import numpy as np
import pytest
import torch
from torch import nn

import handgrad as hg
from handgrad.errors import ArgumentError, ArgumentTypeError
from handgrad.export import from_torch, to_torch
from handgrad.export.torch_export import importable
from handgrad.layers.batchnorm import complement
from tests.export.cases import ALL, BATCHES, RTOL, inputs, relative_error, trained


def torch_logits(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("case", ALL)
def test_to_torch_logits_equal_handgrads(case):
    model = trained(case)
    net = to_torch(model)
    assert isinstance(net, nn.Sequential) and not net.training
    assert all(type(m).__module__.startswith("torch.nn.modules") for m in net)  # PyTorch's own modules
    for batch in BATCHES:
        x = inputs(model, batch)
        ref = model.forward(x, training=False)
        error = relative_error(torch_logits(net, x), ref)
        assert error <= RTOL, f"{case}, batch {batch}: max |to_torch - handgrad| / max |handgrad| = {error:.2e}"


def test_to_torch_copies_weights_and_moving_statistics_bit_for_bit():
    model = trained("reference network, BatchNorm + Dropout")
    net = to_torch(model)
    bn = [m for m in net if isinstance(m, nn.BatchNorm2d)][0]
    state = model.layer("batch_norm2d").state
    assert np.abs(state["moving_mean"]).min() > 0  # trained: not the initial statistics
    assert bn.running_mean.numpy().tobytes() == state["moving_mean"].tobytes()
    assert bn.running_var.numpy().tobytes() == state["moving_variance"].tobytes()
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)  # Keras's 0.99 is PyTorch's 0.01
    dense = [m for m in net if isinstance(m, nn.Linear)][0]
    assert dense.weight.detach().numpy().tobytes() == model.layer("dense").params["W"].T.copy().tobytes()
    bn.running_mean.add_(1.0)  # copies: the model keeps its own
    assert np.abs(state["moving_mean"] - bn.running_mean.numpy()).min() > 0.5


def every_supported_module(dtype=torch.float32):
    """An nn.Sequential with each supported module class, random weights and trained running statistics."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding="same"), nn.BatchNorm2d(6, momentum=0.2, eps=1e-4), nn.ELU(0.7),
        nn.GroupNorm(3, 6, eps=1e-4),
        nn.Conv2d(6, 6, 2, padding="same"),  # an even kernel: PyTorch pads the extra row at the bottom, as handgrad
        nn.Conv2d(6, 6, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), nn.LeakyReLU(0.05),
        nn.LayerNorm((6, 6, 11)),  # LayerNorm over all per-sample values, the only kind handgrad has
        nn.MaxPool2d(2), nn.Conv2d(6, 4, 2, padding="valid"), nn.Tanh(), nn.AvgPool2d((2, 1), stride=1),
        nn.Sigmoid(), nn.Flatten(), nn.Dropout(0.25), nn.Linear(4 * 1 * 4, 9), nn.BatchNorm1d(9),
        nn.LayerNorm(9, eps=1e-3), nn.ReLU(), nn.Linear(9, 5, bias=False)).to(dtype)
    net.train()
    with torch.no_grad():
        for _ in range(4):  # running statistics move away from their initial values
            net(torch.randn(7, 2, 12, 12, dtype=dtype) + 0.5)
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # gamma, beta and biases off their initial values too
    return net.eval()


def pair(value):
    """PyTorch's pooling modules keep an int as given; handgrad hands back pairs: 2 and (2, 2) are one setting."""
    return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on its copy
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_from_torch_then_to_torch_is_bit_exact(dtype):
    net = every_supported_module(dtype)
    assert {type(m).__name__ for m in net} == set(importable())  # every importable class is exercised
    model = from_torch(net, (2, 12, 12))
    assert model.dtype == {torch.float32: np.float32, torch.float64: np.float64}[dtype]
    back = to_torch(model)
    assert [type(m) for m in back] == [type(m) for m in net]
    original, returned = net.state_dict(), back.state_dict()
    assert set(original) == set(returned)
    for key, value in original.items():
        if not key.endswith("num_batches_tracked"):  # not carried: PyTorch reads it only with momentum=None
            assert returned[key].dtype == value.dtype and torch.equal(returned[key], value), key
    for a, b in zip(net, back):
        for attr in ("stride", "padding", "kernel_size", "momentum", "eps", "alpha", "negative_slope", "p",
                     "num_groups", "num_channels", "normalized_shape"):
            assert pair(getattr(a, attr, None)) == pair(getattr(b, attr, None)), (type(a).__name__, attr)
    x = np.random.default_rng(0).standard_normal((6, 2, 12, 12)).astype(model.dtype)
    assert np.array_equal(torch_logits(back, x), torch_logits(net, x))
    tolerance = RTOL if dtype == torch.float32 else 1e-12
    assert relative_error(model.forward(x), torch_logits(net, x)) <= tolerance


@pytest.mark.parametrize("momentum", [0.99, 0.9, 0.1, 0.01, 0.0, 1.0, 0.5, 0.123456789, 0.999999])
def test_batchnorm_momentum_converts_exactly_both_ways(momentum):
    assert complement(complement(momentum)) == momentum
    assert from_torch(nn.Sequential(nn.BatchNorm1d(3, momentum=momentum)), (3,)).layers[0].momentum == \
        complement(momentum)
    assert (complement(0.99), complement(0.1)) == (0.01, 0.9)


class MyReLU(nn.ReLU):
    pass


@pytest.mark.parametrize("net,message", [
    (nn.Sequential(nn.Flatten(), nn.GELU()), "from_torch: module [1] (GELU) has no handgrad equivalent; supported: "
                                             "torch.nn.AvgPool2d"),
    (nn.Sequential(nn.Flatten(), MyReLU()), "from_torch: module [1] (MyReLU) has no handgrad equivalent"),
    (nn.Sequential(nn.Sequential(nn.Flatten())), "from_torch: module [0] (Sequential) has no handgrad equivalent"),
    (nn.Sequential(nn.Conv2d(2, 3, 3, dilation=2), nn.Flatten()),
     "from_torch: module [0] (Conv2d): Conv2D: nn.Conv2d's dilation must be (1, 1) (the only value Conv2D has), "
     "got (2, 2)"),
    (nn.Sequential(nn.Conv2d(2, 4, 3, groups=2), nn.Flatten()), "module [0] (Conv2d): Conv2D: nn.Conv2d's groups"),
    (nn.Sequential(nn.Conv2d(2, 3, 3, padding_mode="reflect", padding=1), nn.Flatten()), "padding_mode must be"),
    (nn.Sequential(nn.MaxPool2d(2, padding=1), nn.Flatten()), "module [0] (MaxPool2d): MaxPool2D: nn.MaxPool2d's "
                                                              "padding must be 0"),
    (nn.Sequential(nn.AvgPool2d(2, ceil_mode=True), nn.Flatten()), "nn.AvgPool2d's ceil_mode must be False"),
    (nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8, momentum=None)), "module [1] (BatchNorm1d): BatchNorm1D: "
                                                                    "nn.BatchNorm1d with momentum=None"),
    (nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8, track_running_stats=False)), "track_running_stats=False"),
    (nn.Sequential(nn.Flatten(0)), "module [0] (Flatten): Flatten: only nn.Flatten(start_dim=1, end_dim=-1)"),
    (nn.Sequential(nn.LayerNorm(2), nn.Flatten()),  # over the last axis only
     "module [0] (LayerNorm): its gamma has shape (2,); for input (2, 2, 2) handgrad's LayerNorm needs (2, 2, 2)"),
    (nn.Sequential(nn.LayerNorm((2, 2, 2), elementwise_affine=False), nn.Flatten()),
     "module [0] (LayerNorm): LayerNorm: nn.LayerNorm needs elementwise_affine=True"),
    (nn.Sequential(nn.GroupNorm(2, 4), nn.Flatten()),
     "module [0] (GroupNorm): its gamma has shape (4,); for input (2, 2, 2) handgrad's GroupNorm needs (2,)"),
    (nn.Sequential(nn.GroupNorm(1, 2, affine=False), nn.Flatten()),
     "module [0] (GroupNorm): GroupNorm: nn.GroupNorm needs affine=True"),
    (nn.Sequential(nn.Flatten(), nn.Linear(5, 3)), "module [1] (Linear): its W has shape (5, 3); for input (8,) "
                                                   "handgrad's Dense needs (8, 3)"),
])
def test_from_torch_refuses_what_has_no_equivalent_naming_the_module(net, message):
    with pytest.raises(ArgumentError, match=re.escape(message)):
        from_torch(net, (2, 2, 2))


def test_from_torch_takes_only_an_nn_sequential():
    with pytest.raises(ArgumentTypeError, match="from_torch: module must be a torch.nn.Sequential, got Linear"):
        from_torch(nn.Linear(3, 2), (3,))


def test_a_layer_without_a_pytorch_twin_is_refused_by_name():
    from tests.export.test_onnx_export import Square

    model = hg.Sequential([hg.Flatten(), Square()], input_shape=(2, 2))
    with pytest.raises(ArgumentError, match=re.escape("layer 'square' (Square) cannot be exported to PyTorch")):
        to_torch(model)


def test_activity_regularization_is_an_identity():
    model = trained("ActivityRegularization")
    assert [type(m) for m in to_torch(model)] == [nn.Identity, nn.Flatten]
