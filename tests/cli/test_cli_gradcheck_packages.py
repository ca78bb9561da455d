"""``handgrad gradcheck --user-model`` on code as students have it: a CS231n package with relative imports
(by file path and by module name), constructor arguments from ``--model-arg``, the input shape from the
constructor's ``input_dim`` default, ``--randomize``/``--no-randomize``, seeded dropout, float32 models."""
import shutil
import sys
from pathlib import Path

import pytest

from handgrad.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "gradcheck" / "cs231n"
SMALL = ["--model-arg", "num_filters=3", "--model-arg", "filter_size=3", "--model-arg", "hidden_dim=7",
         "--model-arg", "dtype=None", "--batch", "2", "--samples", "6"]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A copy of the package as a student's checkout: ``<dir>/cs231n/classifiers/cnn.py`` and friends."""
    root = tmp_path_factory.mktemp("assignment2")
    shutil.copytree(PACKAGE, root / "cs231n", ignore=shutil.ignore_patterns("__pycache__"))
    yield root
    for name in [m for m in sys.modules if m == "cs231n" or m.startswith("cs231n.")]:
        del sys.modules[name]


def test_a_file_in_a_package_imports_with_its_relative_imports(student, capsys):
    cnn = student / "cs231n" / "classifiers" / "cnn.py"
    assert main(["gradcheck", "--user-model", f"{cnn}:ThreeLayerConvNet", *SMALL, "--input-shape", "3,8,8",
                 "--model-arg", "reg=0.1", "--term", "weight=reg"]) == 0
    out = capsys.readouterr().out
    assert "on a random batch of 2 inputs 3x8x8" in out and "PASS: every check at both points" in out


def test_the_input_shape_defaults_to_the_constructors_input_dim(student, capsys):
    cnn = student / "cs231n" / "classifiers" / "cnn.py"
    assert main(["gradcheck", "--user-model", f"{cnn}:ThreeLayerConvNet", *SMALL, "--no-randomize"]) == 0
    out = capsys.readouterr().out
    assert "inputs 3x32x32" in out and "at a second point" not in out


def test_a_module_name_imports_from_the_current_directory(student, capsys, monkeypatch):
    monkeypatch.chdir(student)
    code = main(["gradcheck", "--user-model", "cs231n.classifiers.fc_net:FullyConnectedNet", "--model-arg",
                 "hidden_dims=[6, 5]", "--model-arg", "weight_scale=5e-2", "--model-arg", "normalization='batchnorm'",
                 "--model-arg", "bugs=('bn_no_gamma',)", "--model-arg", "dtype=None", "--input-shape", "12",
                 "--classes", "5", "--samples", "6"])
    out = capsys.readouterr().out
    assert code == 1, out  # BatchNorm's dx without gamma: found at the randomized point only
    assert "gradient check FAILED for: W1, gamma1, beta1, W2" in out
    assert "the backward pass goes wrong between gamma2 and W2" in out
    assert main(["gradcheck", "--user-model", "cs231n.classifiers.fc_net:FullyConnectedNet", "--model-arg",
                 "hidden_dims=[6, 5]", "--model-arg", "weight_scale=5e-2", "--model-arg", "normalization='batchnorm'",
                 "--model-arg", "bugs=('bn_no_gamma',)", "--model-arg", "dtype=None", "--input-shape", "12",
                 "--classes", "5", "--samples", "6", "--no-randomize"]) == 0
    capsys.readouterr()
    assert main(["gradcheck", "--user-model", "cs231n.classifiers.fc_net:FullyConnectedNet", "--model-arg",
                 "hidden_dims=[6, 5]", "--model-arg", "weight_scale=5e-2", "--model-arg", "normalization='batchnorm'",
                 "--model-arg", "bugs=('bn_no_gamma',)", "--model-arg", "dtype=None", "--input-shape", "12",
                 "--classes", "5", "--samples", "6", "--randomize", "gamma1", "gamma2"]) == 1
    assert "gamma1, gamma2: every entry equal" in capsys.readouterr().out


def test_seeded_dropout_is_inconclusive_not_a_failure(student, capsys):
    fc = student / "cs231n" / "classifiers" / "fc_net.py"
    code = main(["gradcheck", "--user-model", f"{fc}:FullyConnectedNet", "--model-arg", "hidden_dims=[20, 20]",
                 "--model-arg", "dropout=0.5", "--model-arg", "weight_scale=5e-2", "--model-arg", "dtype=None",
                 "--input-shape", "12", "--classes", "5", "--batch", "4", "--samples", "6", "--seed", "123"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "inconclusive" in out and "turn dropout off for the check" in out


def test_a_float32_model_gets_the_note(student, capsys):
    cnn = student / "cs231n" / "classifiers" / "cnn.py"
    args = SMALL[:6] + SMALL[8:]  # without dtype=None: CS231n's default dtype=np.float32
    assert "dtype=None" not in args and len(args) == len(SMALL) - 2
    assert main(["gradcheck", "--user-model", f"{cnn}:ThreeLayerConvNet", *args, "--input-shape", "3,8,8"]) == 0
    out = capsys.readouterr().out
    assert "parameters are float32" in out and "the check ran on float64 copies" in out


@pytest.mark.parametrize("flags,message", [
    (["--model-arg", "hidden_dim"], "--model-arg must look like KEY=VALUE"),
    (["--model-arg", "dtype=np.float64"], "--model-arg dtype=np.float64: the value must be a Python literal"),
    (["--model-arg", "reg=1", "--model-arg", "reg=2"], "--model-arg reg given twice"),
    (["--model-arg", "bogus=1"], "got an unexpected keyword argument 'bogus'"),
])
def test_bad_model_args_are_one_line(student, flags, message, capsys):
    cnn = student / "cs231n" / "classifiers" / "cnn.py"
    assert main(["gradcheck", "--user-model", f"{cnn}:ThreeLayerConvNet", *flags]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_module_names_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["gradcheck", "--user-model", "nosuchpkg.nets:Net"]) == 1
    assert "no module named 'nosuchpkg'" in capsys.readouterr().err
    assert main(["gradcheck", "--model-arg", "a=1"]) == 1
    assert "--model-arg applies to --user-model only" in capsys.readouterr().err


def test_verbose_names_the_users_file_and_line(tmp_path, capsys):
    pkg = tmp_path / "studentpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("def broken(x):\n    return x.reshape(7, 7, 7)\n")
    (pkg / "model.py").write_text(
        "import numpy as np\n\nfrom .helpers import broken\n\n\nclass Net:\n    def __init__(self):\n"
        "        self.params = {'W': np.ones(3)}\n\n    def loss(self, X, y):\n        return broken(X), {}\n")
    assert main(["gradcheck", "--user-model", f"{pkg / 'model.py'}:Net", "--verbose"]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert "raised ValueError" in first and f"(at {pkg / 'helpers.py'}:2)" in first
    assert "Traceback" in err
