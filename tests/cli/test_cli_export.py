"""``handgrad export CHECKPOINT --onnx OUT.onnx`` on finished runs (the reference network, a ``--model`` run),
and without the optional packages (a real subprocess in which ``import onnx`` fails)."""
import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

from handgrad import datasets
from handgrad.cli import main
from handgrad.cli.evaluate import build_model
from handgrad.export import run_onnx
from handgrad.training import load_checkpoint
from tests.export.cases import RTOL, relative_error

TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0"]
MODEL = textwrap.dedent("""
    import handgrad as hg

    def small(input_shape, num_classes):
        layers = [hg.Conv2D(4, 3, stride=2, activation="relu"), hg.BatchNorm2D(momentum=0.9), hg.AvgPool2D(2),
                  hg.Flatten(), hg.Dropout(0.2), hg.Dense(num_classes)]
        return hg.Sequential(layers, input_shape=input_shape, seed=3)

    class Square(hg.layers.Layer):
        def _forward(self, x, training):
            self._x = x
            return x * x

        def _backward(self, dy, input_grad):
            return 2 * self._x * dy

    def squared(input_shape, num_classes):
        return hg.Sequential([hg.Flatten(), hg.Dense(num_classes), Square()], input_shape=input_shape)
""")


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def train(tmp_path, data_dir, capsys, name, *flags):
    code, out = run(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--epochs", "1",
                     "--name", name, *flags], capsys)
    assert code == 0, out.err
    return tmp_path / name / "checkpoints" / "last.npz"


def test_export_of_a_finished_run_gives_its_logits_on_the_test_images(tmp_path, data_dir, capsys):
    ckpt = train(tmp_path, data_dir, capsys, "ref", "--batchnorm", "--dropout", "0.2")
    out = tmp_path / "exported" / "ref.onnx"
    code, printed = run(["export", str(ckpt), "--onnx", str(out), "--probabilities"], capsys)
    assert code == 0, printed.err
    assert f"wrote {out}: opset 17, input 'input' (batch, 1, 28, 28), output 'logits' and 'probabilities'" in \
        printed.out
    error = float(re.search(r"verified with onnxruntime: logits of 8 random inputs within (\S+) of", printed.out)[1])
    assert error <= RTOL
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    checkpoint = load_checkpoint(ckpt)
    assert json.loads(meta["class_names"]) == checkpoint.meta["class_names"]
    norm = json.loads(meta["normalization"])
    x, _ = datasets.load("fashion-mnist", "test", data_dir=data_dir)  # the test images, normalized as training did
    x = ((x - np.float32(norm["mean"][0])) / np.float32(norm["std"][0])).astype(np.float32)
    _, model = build_model(ckpt, checkpoint)
    ref = model.forward(x, training=False)
    outputs = run_onnx(out, x)
    assert relative_error(outputs["logits"], ref) <= RTOL
    np.testing.assert_allclose(outputs["probabilities"], model.predict(x), rtol=0, atol=1e-5)


def test_export_of_a_model_run_and_a_layer_that_cannot_be_exported(tmp_path, data_dir, capsys):
    model_file = tmp_path / "my_net.py"
    model_file.write_text(MODEL)
    ckpt = train(tmp_path, data_dir, capsys, "mine", "--model", f"{model_file}:small")
    model_file.unlink()  # the run directory keeps its own copy of model.py, as evaluate reads it
    code, printed = run(["export", str(ckpt), "--onnx", str(tmp_path / "mine.onnx")], capsys)
    assert code == 0, printed.err
    _, model = build_model(ckpt, load_checkpoint(ckpt))
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28), dtype=np.float32)
    assert relative_error(run_onnx(tmp_path / "mine.onnx", x)["logits"], model.forward(x)) <= RTOL
    assert [n.op_type for n in onnx.load(tmp_path / "mine.onnx").graph.node] == [
        "Conv", "Relu", "BatchNormalization", "AveragePool", "Flatten", "Identity", "Gemm", "Identity"]

    model_file.write_text(MODEL)
    ckpt = train(tmp_path, data_dir, capsys, "sq", "--model", f"{model_file}:squared")
    code, printed = run(["export", str(ckpt), "--onnx", str(tmp_path / "sq.onnx")], capsys)
    assert code == 1 and printed.err.strip() == (
        "handgrad export: error: layer 'square' (Square) cannot be exported to ONNX: Square writes no _onnx method "
        "(see handgrad.layers.base); the layers that can are listed in handgrad.export")
    assert not (tmp_path / "sq.onnx").exists()


@pytest.mark.parametrize("flags,message", [
    (["--onnx", "{dir}"], "is a directory; give the file to write"),
    (["--onnx", "{dir}/m.onnx", "--opset", "12"], "to_onnx: opset must be >= 13, got 12"),
])
def test_export_errors_are_one_line(flags, message, tmp_path, data_dir, capsys):
    ckpt = train(tmp_path, data_dir, capsys, "r")
    code, printed = run(["export", str(ckpt), *[f.format(dir=tmp_path) for f in flags]], capsys)
    assert code == 1 and message in printed.err and len(printed.err.strip().splitlines()) == 1


def blocked(modules, code):
    """Run ``code`` in a fresh interpreter in which importing any of ``modules`` fails (as if not installed)."""
    block = "; ".join(f"sys.modules[{m!r}] = None" for m in modules)  # `import m` then raises ImportError
    return subprocess.run([sys.executable, "-c", f"import sys; {block}\n{code}"], capture_output=True, text=True,
                          timeout=300)


def test_without_onnx_the_command_fails_with_one_line_naming_the_extra(tmp_path, data_dir, capsys):
    ckpt = train(tmp_path, data_dir, capsys, "r")
    out = tmp_path / "m.onnx"
    result = blocked(["onnx"], f"from handgrad.cli import main; sys.exit(main(['export', {str(ckpt)!r}, '--onnx', "
                               f"{str(out)!r}]))")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("handgrad export: error: ONNX export needs the package onnx") and \
        line.endswith("install it with: pip install 'handgrad[onnx]'")
    assert not out.exists()


def test_without_torch_to_torch_names_its_extra_and_handgrad_runs_without_any_of_them():
    result = blocked(["torch", "onnx", "onnxruntime"], textwrap.dedent("""
        import numpy as np
        import handgrad, handgrad.export, handgrad.cli
        from handgrad.errors import MissingExtraError
        model = handgrad.models.reference_cnn()
        print(model.forward(np.zeros((2, 1, 28, 28), np.float32)).shape)
        for name, call in (("to_torch", lambda: handgrad.export.to_torch(model)),
                           ("to_onnx", lambda: handgrad.export.to_onnx(model, "never.onnx"))):
            try:
                call()
            except MissingExtraError as e:
                print(e)
        """))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "(2, 10)" and len(lines) == 3
    assert lines[1].startswith("handgrad.export.to_torch needs the package torch") and \
        lines[1].endswith("pip install 'handgrad[torch]'")
    assert lines[2].endswith("pip install 'handgrad[onnx]'")
