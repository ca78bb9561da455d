"""``benchmarks/step_profile.py`` runs its whole code path once on a tiny batch (no timing is asserted), and its cost
model counts the reference network's products and bytes as written out by hand."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def profile(load_benchmark):
    return load_benchmark("step_profile")


def test_main_prints_every_part_of_both_modes(profile, capsys):
    profile.main(["--inputs", "1x28x28", "--batches", "2", "--repeats", "1", "--copy-mib", "1"])
    out = capsys.readouterr().out
    assert profile.thread_calls == [2]
    model, _, _ = profile.default_recipe((1, 28, 28))
    for name, _, _, _ in profile.step_names(model):
        assert out.count(f"{name} forward ") == 2  # training step and inference batch
        assert out.count(f"{name} backward ") == 1
    for line in ("optimizer step", "loss (softmax cross-entropy)", "sum of parts", "whole step, no timers"):
        assert line in out
    assert out.count("\nPython/other ") == 2
    # fused by the numba set (with the convolution before them), alone by NumPy's
    assert "conv2d+elu+max_pool2d (im2col) forward" in out or "elu forward" in out


def test_parts_add_up_to_the_timed_step(profile):
    from handgrad.kernels import threads
    parallel_for = threads.parallel_for
    result = profile.profile("1x28x28", 2, "train", repeats=2, warmup=1)
    assert threads.parallel_for is parallel_for  # the task timers are gone again
    names = [name for name, *_ in result["parts"]]
    assert len(names) == len(set(names))
    assert all(seconds >= 0 or name == "Python/other" for name, seconds, _, _ in result["parts"])
    assert result["whole"] > 0
    # the team's tasks were timed and put on the parts that ran them: every convolution, both ways
    convs = [name for name in names if name.startswith("conv2d")]
    assert len(convs) == 4 and set(convs) <= set(result["idle"])
    assert "Python/other" not in result["idle"] and "optimizer step" in result["idle"]
    assert all(0 <= share <= 1 for share in [*result["idle"].values(), result["step_idle"]])
    text = profile.table(result, peak=100.0, bandwidth=10.0)
    assert "sum of parts / whole" in text
    assert " idle " in text.splitlines()[1]


def test_team_idle_is_the_share_of_thread_time_without_a_task(profile):
    assert profile.team_idle(2.0, 3.0, 2) == 0.25  # 4 thread-seconds, 3 of them in tasks
    assert profile.team_idle(1.0, 0.0, 2) == 1.0
    assert profile.team_idle(1.0, 2.0000001, 2) == 0.0  # timer rounding: never below 0
    assert profile.team_idle(0.0, 0.0, 2) == 0.0


def test_costs_of_the_reference_network(profile):
    model, optimizer, _ = profile.default_recipe((1, 28, 28))
    steps = {name.split(" ")[0]: model.layers[lo:hi] for name, lo, hi, _ in profile.step_names(model)}
    N, f4 = 8, 4
    # Dense(4096 -> 256): x @ W forward; dW and dx backward; reads x back for dW
    flops, nbytes = profile.group_cost(steps["dense"], N, f4, training=True, backward=False, input_grad=True)
    assert flops == 2 * N * 3136 * 256
    assert nbytes == N * 3136 * f4 + N * 256 * f4 + (3136 * 256 + 256) * f4
    flops, nbytes = profile.group_cost(steps["dense"], N, f4, training=True, backward=True, input_grad=True)
    assert flops == 2 * 2 * N * 3136 * 256
    assert nbytes == N * 256 * f4 + 2 * N * 3136 * f4 + 2 * (3136 * 256 + 256) * f4
    # the first convolution (im2col, 1 -> 32 channels, 5x5 on 28x28): no input gradient
    conv = next(v for k, v in steps.items() if k.startswith("conv2d") and v[0].input_shape[0] == 1)
    flops, _ = profile.group_cost(conv, N, f4, training=True, backward=True, input_grad=False)
    assert flops == 2 * N * 28 * 28 * 25 * 32
    # Flatten and inference's dropout move nothing; training's dropout writes a one-byte mask
    assert profile.group_cost(steps["flatten"], N, f4, training=True, backward=False, input_grad=True) == (0, 0)
    assert profile.group_cost(steps["dropout"], N, f4, training=False, backward=False, input_grad=True) == (0, 0)
    assert profile.group_cost(steps["dropout"], N, f4, training=True, backward=False, input_grad=True) == \
        (0, 2 * N * 3136 * f4 + N * 3136)


def test_no_benchmark_hides_a_standard_module():
    # a script's folder comes first on sys.path: benchmarks/profile.py broke throughput.py (torch imports cProfile)
    names = {name[:-3] for name in os.listdir(os.path.join(ROOT, "benchmarks")) if name.endswith(".py")}
    assert not names & set(sys.stdlib_module_names)


def test_the_batchnorm_network_is_profiled_with_its_normalization_layers(profile, capsys):
    profile.main(["--inputs", "1x28x28", "--batches", "2", "--repeats", "1", "--copy-mib", "1", "--modes", "train",
                  "--batchnorm", "--dropout", "0.1"])
    out = capsys.readouterr().out
    assert "dropout 0.1, BatchNorm" in out
    for name in ("batch_norm2d forward", "batch_norm2d backward", "batch_norm1d forward", "batch_norm1d backward"):
        assert name in out
