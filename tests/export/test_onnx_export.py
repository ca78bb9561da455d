"""``handgrad.export.to_onnx``: onnxruntime's logits equal handgrad's for every layer type and the reference
network (with and without BatchNorm), on several batch sizes through one file; the file passes
``onnx.checker``; what cannot be exported is refused by name, and a refused or failed export writes nothing."""
import re

import numpy as np
import onnx
import pytest

import handgrad as hg
from handgrad.errors import ArgumentError
from handgrad.export import onnx_export, run_onnx, to_onnx
from handgrad.layers.base import Layer
from tests.export.cases import ALL, BATCHES, RTOL, inputs, relative_error, trained


@pytest.mark.parametrize("case", ALL)
def test_onnxruntime_logits_equal_handgrads(case, tmp_path):
    model = trained(case)
    path = to_onnx(model, tmp_path / "model.onnx", probabilities=True)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    (dims,) = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]
    assert dims == ["batch", *model.input_shape]
    assert [o.name for o in proto.graph.output] == ["logits", "probabilities"]
    for batch in BATCHES:
        x = inputs(model, batch)
        ref = model.forward(x, training=False)
        out = run_onnx(path, x)
        assert out["logits"].shape == ref.shape
        error = relative_error(out["logits"], ref)
        assert error <= RTOL, f"{case}, batch {batch}: max |onnxruntime - handgrad| / max |handgrad| = {error:.2e}"
        np.testing.assert_allclose(out["probabilities"], model.predict(x), rtol=0, atol=1e-5)


def test_the_moving_statistics_are_exported_not_the_initial_ones(tmp_path):
    model = trained("BatchNorm2D")
    state = model.layer("batch_norm2d").state
    assert np.abs(state["moving_mean"]).min() > 0 and not np.allclose(state["moving_variance"], 1)
    weights = {w.name: onnx.numpy_helper.to_array(w) for w in onnx.load(to_onnx(model, tmp_path / "m.onnx")).graph
               .initializer}
    assert weights["batch_norm2d.moving_mean"].tobytes() == state["moving_mean"].tobytes()
    assert weights["batch_norm2d.moving_variance"].tobytes() == state["moving_variance"].tobytes()


def test_a_changed_exported_weight_breaks_parity(tmp_path):
    """The parity test can fail: a wrong weight (conv2's first filter negated) shows in the logits."""
    model = trained("reference network")
    path = to_onnx(model, tmp_path / "model.onnx")
    proto = onnx.load(path)
    (w,) = [w for w in proto.graph.initializer if w.name == "conv2d_1.W"]
    array = onnx.numpy_helper.to_array(w).copy()
    array[0] *= -1
    w.CopyFrom(onnx.numpy_helper.from_array(array, w.name))
    onnx.save(proto, path)
    x = inputs(model, 16)
    assert relative_error(run_onnx(path, x)["logits"], model.forward(x)) > 10 * 1e-5


class Square(Layer):
    """A user's layer: ``y = x**2``, with no export method."""

    def _forward(self, x, training):
        self._x = x
        return x * x

    def _backward(self, dy, input_grad):
        return 2 * self._x * dy


class DoubledDense(hg.Dense):
    """A user's subclass that changes Dense's computation but inherits its export."""

    def _forward(self, x, training):
        return 2 * super()._forward(x, training)


class BogusOp(hg.ReLU):
    """Writes an operator ONNX does not have: the checker must refuse the model."""

    def _onnx(self, graph, x):
        return graph.node("NotAnOnnxOperator", [x], self.name)


@pytest.mark.parametrize("layer,message", [
    (Square, "layer 'square' (Square) cannot be exported to ONNX: Square writes no _onnx method"),
    (lambda: DoubledDense(3), "layer 'doubled_dense' (DoubledDense) cannot be exported to ONNX: DoubledDense "
                              "overrides _forward but inherits _onnx from Dense"),
])
def test_a_layer_that_cannot_be_exported_is_refused_by_name_and_nothing_is_written(layer, message, tmp_path):
    model = hg.Sequential([hg.Flatten(), hg.Dense(4), layer()], input_shape=(2, 3, 3))
    with pytest.raises(ArgumentError, match="^" + re.escape(message)):
        to_onnx(model, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_model_the_checker_refuses_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous export")
    model = hg.Sequential([hg.Flatten(), hg.Dense(4), BogusOp()], input_shape=(2, 3, 3))
    with pytest.raises(onnx.checker.ValidationError, match="NotAnOnnxOperator"):
        to_onnx(model, path)
    assert path.read_bytes() == b"the previous export" and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize("opset", [13, 17, onnx.defs.onnx_opset_version()])
def test_every_supported_opset_runs(opset, tmp_path):
    model = trained("reference network, BatchNorm + Dropout", steps=1)
    path = to_onnx(model, tmp_path / "model.onnx", opset=opset, probabilities=True)
    assert onnx.load(path).opset_import[0].version == opset
    x = inputs(model, 3)
    assert relative_error(run_onnx(path, x)["logits"], model.forward(x)) <= RTOL


NORMALIZATIONS = [case for case in ALL if case.startswith(("LayerNorm", "GroupNorm"))]


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("case", NORMALIZATIONS)
def test_layer_and_group_norm_run_at_every_opset(case, opset, tmp_path):
    """Below 17 LayerNorm is built from basic operators; from 18 ReduceMean takes its axes as an input."""
    model = trained(case)
    path = to_onnx(model, tmp_path / "model.onnx", opset=opset)
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert ("LayerNormalization" in ops) == (case.startswith("LayerNorm") and opset >= 17)
    assert "GroupNormalization" not in ops
    for batch in BATCHES:
        x = inputs(model, batch)
        ref = model.forward(x, training=False)
        error = relative_error(run_onnx(path, x)["logits"], ref)
        assert error <= RTOL, f"{case}, opset {opset}, batch {batch}: {error:.2e}"


@pytest.mark.parametrize("opset,message", [(12, "opset must be >= 13"), (10_000, "opset must be at most"),
                                           ("17", "opset must be an integer")])
def test_bad_opsets_are_refused(opset, message, tmp_path):
    model = hg.Sequential([hg.Flatten()], input_shape=(2, 2))
    with pytest.raises((ValueError, TypeError), match=message):
        to_onnx(model, tmp_path / "model.onnx", opset=opset)


def test_only_a_sequential_is_exported(tmp_path):
    with pytest.raises(TypeError, match="to_onnx: model must be a handgrad Sequential, got Dense"):
        to_onnx(hg.Dense(3), tmp_path / "model.onnx")


def test_a_layer_named_like_an_output_does_not_clash(tmp_path):
    model = hg.Sequential([hg.Flatten(name="logits"), hg.Dense(3, name="input")], input_shape=(2, 2))
    x = inputs(model, 4)
    assert relative_error(run_onnx(to_onnx(model, tmp_path / "m.onnx"), x)["logits"], model.forward(x)) <= RTOL
    assert onnx_export.record(model).nodes[-1].inputs == ["input_1"]


def test_a_float64_model_exports_as_float32(tmp_path):
    model = trained("reference network, BatchNorm + Dropout", steps=1).astype(np.float64)
    path = to_onnx(model, tmp_path / "model.onnx")
    assert {w.data_type for w in onnx.load(path).graph.initializer} == {onnx.TensorProto.FLOAT}
    x = inputs(model, 3)
    assert relative_error(run_onnx(path, x)["logits"], model.forward(x.astype(np.float64))) <= RTOL
