"""The layers doctor (``check_layers``, ``handgrad gradcheck --user-layers``) on a correct CS231n-style
layers.py over several seeds (no false alarm), on copies with one classic bug planted each (flagged on the
right layer and output with the right diagnosis, nothing else flagged), and on files that break."""
import json

import numpy as np
import pytest

from handgrad.cli import main
from handgrad.gradcheck import check_layers
from handgrad.gradcheck.layers_doctor.differences import gradient, settle_kinks
from tests.gradcheck.planted_bugs import BUGS, CORRECT, planted

ALL = ["affine", "relu", "conv", "conv_fast", "max_pool", "max_pool_fast", "batchnorm", "batchnorm_alt",
       "spatial_batchnorm", "layernorm", "spatial_groupnorm", "dropout", "softmax_loss", "svm_loss"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_layers_pass_over_seeds(seed):
    report = check_layers(CORRECT, verbose=False, seed=seed)
    assert [r.layer for r in report.layers] == ALL  # discovery by CS231n's names, _fast and _alt included
    assert report.passed, str(report)
    assert all(r.forward and r.backward for r in report.layers)
    assert report.get("conv").cases == 4 and report.get("max_pool").cases == 3


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_planted_bug_is_flagged_on_its_layer_output_and_diagnosis(bug, tmp_path):
    expected = BUGS[bug][1]
    conv_bug = any(layer.startswith("conv") for layer in expected)
    # conv_forward_naive and conv_fast are the slowest to check; with a bug elsewhere they are the correct
    # file's functions, which test_correct_layers_pass_over_seeds checks
    only = None if conv_bug else [name for name in ALL if not name.startswith("conv")]
    report = check_layers(planted(bug, tmp_path), verbose=False, only=only)
    flagged = {r.layer: r for r in report.layers if not r.passed}
    assert sorted(flagged) == sorted(expected), str(report)
    for layer, outputs in expected.items():
        result = flagged[layer]
        assert result.error is None, result.error
        assert {f.output for f in result.failures} == set(outputs), str(report)
        for f in result.failures:
            assert f.diagnosis == outputs[f.output], str(report)
            assert f.message and "\n" not in f.message
    assert not report.passed


def test_diagnoses_say_what_to_fix(tmp_path):
    report = check_layers(planted("max_pool_assign", tmp_path), verbose=False, only=["max_pool"])
    failure = report.get("max_pool").failures[0]
    assert "overlapping" in failure.case and "accumulate with" in failure.message and "+=" in failure.message
    assert report.get("max_pool").forward is True and report.get("max_pool").backward is False
    report = check_layers(planted("softmax_summed", tmp_path), verbose=False, only=["softmax_loss"])
    assert "N = 5 times" in report.get("softmax_loss").failures[0].message
    assert report.get("softmax_loss").backward is True  # dx is consistent with the summed loss


def test_cli_on_the_correct_file_and_a_bug_with_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["gradcheck", "--user-layers", str(CORRECT), "--only", "relu", "dropout", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "all 2 layers pass" in printed and "p is the probability of keeping a unit" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"passed", "layers"} and data["passed"] is True
    assert [set(entry) for entry in data["layers"]] == [{"layer", "forward", "backward", "passed", "error",
                                                         "failures"}] * 2
    bad = planted("dropout_scaled_by_p", tmp_path)
    code = main(["gradcheck", "--user-layers", str(bad), "--only", "dropout", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 1 and "FAILED: dropout" in printed
    (entry,) = json.loads(out.read_text())["layers"]
    assert (entry["forward"], entry["backward"], entry["passed"]) == (False, True, False)
    assert set(entry["failures"][0]) == {"case", "output", "diagnosis", "message"}
    assert entry["failures"][0]["output"] == "out" and entry["failures"][0]["diagnosis"] == "scaled_by_p"


def test_a_file_that_does_not_import_is_one_error_naming_file_and_line(tmp_path, capsys):
    path = tmp_path / "layers.py"
    path.write_text("import numpy as np\n\nfrom im2col_cython import im2col_cython  # CS231n's, when not built\n")
    code = main(["gradcheck", "--user-layers", str(path)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "ModuleNotFoundError: No module named 'im2col_cython'" in printed and f"(at {path}:3)" in printed
    report = check_layers(path, verbose=False)
    assert [r.layer for r in report.layers] == ["import"] and not report.passed


def test_a_raising_function_is_a_per_layer_error_and_the_others_are_checked(tmp_path):
    text = CORRECT.read_text().replace("    dx = dout * (x > 0)\n",
                                       "    dx = dout * (x > 0)\n    raise SystemExit(3)\n")
    path = tmp_path / "layers.py"
    path.write_text(text)
    line = text.splitlines().index("    raise SystemExit(3)") + 1
    report = check_layers(path, verbose=False, only=["affine", "relu", "layernorm"])
    relu = report.get("relu")
    assert relu.error == f"relu_backward called sys.exit(3) instead of returning (at {path}:{line})"
    assert relu.forward is True and relu.backward is None and not relu.passed
    assert report.get("affine").passed and report.get("layernorm").passed
    assert report.to_dict()["layers"][1]["error"] == relu.error


def test_adapter_for_other_names_and_conventions():
    def fwd(x):
        return np.maximum(x, 0), x

    def bwd(dout, cache):
        return dout * (cache > 0)

    def bwd_wrong(dout, cache):
        return dout

    layers = {"my_relu": (fwd, bwd, "cs231n_relu"), "bad": (fwd, bwd_wrong, "cs231n_relu")}
    report = check_layers(None, layers=layers, verbose=False)
    assert report.get("my_relu").passed and not report.get("bad").passed
    assert report.get("bad").failures[0].output == "dx"
    (failure,) = check_layers(None, layers={"none": (fwd, lambda dout, cache: None, "cs231n_relu")},
                              verbose=False).get("none").failures
    assert (failure.output, failure.diagnosis, failure.message) == ("dx", "missing", "dx is None: compute it and "
                                                                                     "return it")

    def fwd32(x):
        return np.maximum(x, 0).astype(np.float32), x

    (failure,) = check_layers(None, layers={"r32": (fwd32, bwd, "cs231n_relu")}, verbose=False).get("r32").failures
    assert (failure.output, failure.diagnosis) == ("out", "float32") and "float32 for float64 inputs" in failure.message
    with pytest.raises(ValueError, match="unknown calling convention 'torch_relu'; known: cs231n_affine"):
        check_layers(None, layers={"r": (fwd, bwd, "torch_relu")}, verbose=False)


def test_cli_flag_errors(tmp_path, capsys):
    assert main(["gradcheck", "--user-layers", str(tmp_path / "nope.py")]) == 1
    assert "--user-layers: " in capsys.readouterr().err
    assert main(["gradcheck", "--user-layers", str(CORRECT), "--only", "convv"]) == 1
    assert "no layer named convv; found: affine, relu" in capsys.readouterr().err
    assert main(["gradcheck", "--only", "conv"]) == 1
    assert "--only applies to --user-layers" in capsys.readouterr().err


def test_kinks_of_a_forward_are_settled_as_in_the_model_doctor():
    """An entry 1e-7 above ReLU's kink: the central difference is ~0.55; the derivative there, 1, is accepted by
    the one-sided derivatives (the step 1e-7 stays clear of the kink); 0 and 3 are not."""
    x = np.array([[0.5, 1e-7, -0.7]])

    def evaluate():
        return float(np.sum(np.maximum(x, 0)))

    numerical = gradient(evaluate, x)
    assert abs(numerical[0, 1] - 0.55) < 0.01
    for analytic, settled in ((1.0, 1), (0.0, 0), (3.0, 0)):
        fixed, count = settle_kinks(evaluate, x, np.array([[1.0, analytic, 0.0]]), numerical)
        assert count == settled and (fixed[0, 1] == analytic) == bool(settled)
    np.testing.assert_array_equal(x, [[0.5, 1e-7, -0.7]])  # restored


def test_another_students_file_passes_and_its_published_bug_is_found_through_the_adapter():
    """tests/gradcheck/cs231n/layers.py (written for the model doctor, with other helpers and vectorized
    layers): no false alarm; its ``bug="assign"`` max-pool backward, checked through the adapter, is."""
    from tests.gradcheck.cs231n import layers as other

    report = check_layers(other, verbose=False)
    assert report.passed, str(report)
    assert {"conv_fast", "max_pool_fast", "batchnorm", "dropout", "softmax_loss"} <= {r.layer for r in report.layers}

    def assign(dout, cache):
        return other.max_pool_backward_fast(dout, cache, bug="assign")

    report = check_layers(None, verbose=False,
                          layers={"pool": (other.max_pool_forward_fast, assign, "cs231n_max_pool")})
    assert {(f.output, f.diagnosis) for f in report.get("pool").failures} == {("dx", "overlap")}
