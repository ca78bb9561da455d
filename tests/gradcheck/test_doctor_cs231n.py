"""The gradient doctor on CS231n students' code as they write it (``tests/gradcheck/cs231n``): correct code at
the course's own settings (``weight_scale=1e-3``) raises no alarm, kinks are reported as kinks, and every
planted bug gets the right verdict in the right place."""
import numpy as np
import pytest

from handgrad.gradcheck import diagnose
from tests.gradcheck.cs231n.classifiers.cnn import ThreeLayerConvNet
from tests.gradcheck.cs231n.classifiers.fc_net import FullyConnectedNet

WEIGHT = {"weight": "reg"}
BOTH = {"weight": "reg", "activity": "act_reg"}


def images(seed, shape=(3, 8, 8), n=2, classes=10):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, size=n)


def convnet(shape=(3, 8, 8), seed=0, **kw):
    """The notebook's gradient-check configuration: small, float64, the default weight_scale=1e-3."""
    return ThreeLayerConvNet(input_dim=shape, num_filters=3, filter_size=3, hidden_dim=7, seed=seed,
                             dtype=np.float64, **kw)


def fcnet(bugs=(), seed=0, **kw):
    return FullyConnectedNet([6, 5], input_dim=12, num_classes=5, reg=0.1, weight_scale=5e-2, dtype=np.float64,
                             seed=seed, bugs=bugs, **kw)


def vectors(seed, n=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 12)), rng.integers(0, 5, size=n)


# ------------------------------------------------------------------ correct code: no false alarm
@pytest.mark.parametrize("shape,seeds", [((3, 8, 8), range(8)), ((3, 32, 32), range(2))])
def test_correct_convnet_at_weight_scale_1e3_never_fails(shape, seeds):
    kinks = 0
    for seed in seeds:
        x, y = images(100 + seed, shape)
        report = diagnose(convnet(shape, seed, reg=0.1), x, y, WEIGHT, seed=seed, verbose=False)
        assert report.passed, str(report)
        assert report.randomized is not None and report.randomized_names == ["b1", "b2", "b3"]
        kinks += report.kink_count() + report.randomized.kink_count()
        for c in report.checks:
            assert c.diagnosis is None and (not c.kinks or "kink" in str(report))
    if shape == (3, 32, 32):
        assert kinks > 0  # the point of the test: correct entries on kinks pass as kinks


def test_kinks_are_counted_and_explained_and_most_kinks_advise_a_larger_scale():
    x, y = images(101, (3, 32, 32))
    report = diagnose(convnet((3, 32, 32), 1, reg=0.1), x, y, WEIGHT, seed=1, samples=30, verbose=False)
    text = str(report)
    assert report.passed and report.kink_count() > 0
    assert "kink" in text.split("\n")[2] + text  # the table marks them
    assert "a ReLU input or a max-pool tie within eps of its switch" in text
    # tiny weights everywhere: a scale where every entry of the first layer sits on kinks
    tiny = convnet((3, 32, 32), 1, reg=0.1, weight_scale=1e-5)
    report = diagnose(tiny, x, y, WEIGHT, seed=1, randomize=False, verbose=False)
    assert report.passed, str(report)
    most = [line for line in report.kink_lines() if "most checked entries" in line]
    assert most and "larger weight scale" in most[0]


def test_correct_fully_connected_net_with_batchnorm_passes_at_both_points():
    x, y = vectors(3)
    report = diagnose(fcnet(normalization="batchnorm"), x, y, WEIGHT, verbose=False)
    assert report.passed, str(report)
    assert report.randomized_names == ["b1", "gamma1", "beta1", "b2", "gamma2", "beta2", "b3"]


# ------------------------------------------------------------------ a wrong gradient exactly on a kink
def test_a_wrong_gradient_exactly_on_a_kink_still_fails():
    """An affine-ReLU net whose first example's hidden pre-activation is exactly 0 at unit 0: b1[0] sits on
    the ReLU's kink. The correct gradient passes there (as a kink); one doubled at that entry fails."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x[0] = 0.0  # z1[0, :] = b1 = 0 exactly: every b1 entry is on a kink for this example
    params = {"W1": rng.standard_normal((4, 3)), "b1": np.zeros(3), "W2": rng.standard_normal((3, 2)),
              "b2": rng.standard_normal(2)}
    y = np.array([0, 1, 1])

    def loss(p, x, y, wrong=False):
        z = x @ p["W1"] + p["b1"]
        h = np.maximum(z, 0)
        s = h @ p["W2"] + p["b2"]
        e = np.exp(s - s.max(1, keepdims=True))
        prob = e / e.sum(1, keepdims=True)
        N = len(x)
        value = -np.log(prob[np.arange(N), y]).mean()
        ds = prob.copy()
        ds[np.arange(N), y] -= 1
        ds /= N
        dz = (ds @ p["W2"].T) * (z > 0)
        if wrong:
            dz[0] = (ds[0] @ p["W2"].T) * 2.0  # the kink's example: a wrong value, outside the one-sided range
        return value, {"W1": x.T @ dz, "b1": dz.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}

    good = diagnose(loss, x, y, params=params, randomize=False, verbose=False)
    assert good.passed, str(good)
    assert good.get("b1", "total").kinks  # the entries on the kink were seen and passed as kinks
    bad = diagnose(lambda p, x, y: loss(p, x, y, wrong=True), x, y, params=params, randomize=False, verbose=False)
    assert bad.failed_parameters() == ["b1"], str(bad)


# ------------------------------------------------------------------ planted bugs: the verdict and the place
def test_max_pool_assigning_instead_of_accumulating_is_placed_between_the_layers():
    x, y = images(7)
    model = convnet(seed=1, pool=3, pool_stride=2, bugs=["pool_assign"])
    report = diagnose(model, x, y, verbose=False)
    assert report.failed_parameters() == ["W1", "b1"]
    assert report.locations == ["the backward pass goes wrong between W2 and W1: every parameter from W2 up "
                                "passes, every one below fails; look at a layer without parameters there "
                                "(pooling, activation, normalization, dropout) or the input gradient (dx) of W2's "
                                "layer"]
    assert convnet(seed=1, pool=3, pool_stride=2).params.keys() == model.params.keys()
    assert diagnose(convnet(seed=1, pool=3, pool_stride=2), x, y, verbose=False).passed


def test_batchnorm_dx_without_gamma_is_invisible_at_gamma_1_and_found_at_the_randomized_point():
    x, y = vectors(3)
    model = fcnet(["bn_no_gamma"], normalization="batchnorm")
    gamma = model.params["gamma1"]
    report = diagnose(model, x, y, WEIGHT, verbose=False)
    assert report.checks and all(c.passed for c in report.checks)  # at gamma = 1 the bug cannot be seen
    assert not report.passed
    assert report.randomized.failed_parameters("data") == ["W1", "gamma1", "beta1", "W2"]
    assert report.randomized.failed_parameters("weight") == []
    assert report.randomized.locations[0].startswith("the backward pass goes wrong between gamma2 and W2")
    assert "every entry equal at your point" in str(report) and "FAILS" in str(report)
    assert model.params["gamma1"] is gamma and np.all(gamma == 1.0)  # the user's arrays are restored
    off = diagnose(model, x, y, WEIGHT, randomize=False, verbose=False)
    assert off.passed and off.randomized is None
    named = diagnose(model, x, y, WEIGHT, randomize=["gamma2"], verbose=False)
    assert named.randomized_names == ["gamma2"] and named.randomized.failed_parameters("data") == ["W1", "gamma1",
                                                                                                    "beta1", "W2"]
    with pytest.raises(ValueError, match="randomize names unknown parameters \\['gamma9'\\]"):
        diagnose(model, x, y, WEIGHT, randomize=["gamma9"], verbose=False)


@pytest.mark.parametrize("layers,expected", [
    ((2,), {"b1": "missing", "b2": "missing", "W1": "missing"}),
    ((1, 2), {"b1": "missing", "b2": "missing", "W1": "partial"}),
])
def test_the_seeds_mistake_on_one_and_on_two_penalized_layers(layers, expected):
    x, y = images(7)
    model = convnet(seed=1, reg=0.1, act_reg=0.1, act_layers=layers, bugs=["act_own_dw"])
    report = diagnose(model, x, y, BOTH, verbose=False)
    assert {c.parameter: c.diagnosis for c in report.failures() if c.term == "activity"} == expected, str(report)
    assert report.failed_parameters("data") == [] and report.failed_parameters("weight") == []
    if "partial" in expected.values():
        message = report.get("W1", "activity").message
        assert "a part is missing, e.g. what a penalized layer above sends down" in message
        assert "scaled" not in str(report)
    assert all(b.passed and b.verdict == "ok" for b in report.batch_scaling)


@pytest.mark.parametrize("bugs,term,kind,k,words", [
    (["act_grad_summed"], "activity", "scaled", 2.0, "the gradient sums the activity penalty"),
    (["reg_twice"], "weight", "scaled", 2.0, "0.5 * reg convention on one side only"),
    (["reg_sign"], "weight", "sign", -1.0, "wrong sign"),
])
def test_factor_and_sign_mistakes_are_diagnosed_with_the_terms_own_words(bugs, term, kind, k, words):
    x, y = images(8, n=2)
    if bugs == ["act_grad_summed"]:  # k = N: a batch of 3 so that N is not 2
        x, y = images(8, n=3)
        k = 3.0
    model = convnet(seed=2, reg=0.1, act_reg=0.1, bugs=bugs)
    report = diagnose(model, x, y, BOTH, verbose=False)
    failed = [c for c in report.failures() if c.term != "total"]
    assert failed and {c.term for c in failed} == {term}
    for c in failed:
        assert c.diagnosis == kind and c.scale == pytest.approx(k, rel=1e-3) and words in c.message, c
        if term == "activity":
            assert "reg * sum(W**2)" not in c.message


def test_a_penalty_summed_over_the_batch_consistently_fails_the_probe_only():
    x, y = images(9, n=3)
    report = diagnose(convnet(seed=3, reg=0.1, act_reg=0.1, bugs=["act_summed"]), x, y, BOTH, verbose=False)
    assert [c for c in report.failures()] == [] and report.randomized.failures() == []
    [bad] = report.probe_failures()
    assert bad.term == "activity" and bad.verdict == "summed" and not report.passed


def test_seeded_dropout_passes_with_an_inconclusive_probe():
    x, y = vectors(4)
    report = diagnose(fcnet(dropout=0.5, seed=123), x, y, WEIGHT, verbose=False)
    assert report.passed, str(report)
    [unsure] = report.inconclusive_probes()
    assert unsure.term == "data" and unsure.passed and unsure.verdict == "inconclusive"
    assert "dropout mask" in unsure.message and "turn dropout off for the check" in unsure.message
    assert "inconclusive for data" in str(report)
    assert report.to_dict()["batch_scaling"][0]["verdict"] == "inconclusive"


def test_order_overrides_the_forward_order():
    x, y = images(7)
    model = convnet(seed=1, pool=3, pool_stride=2, bugs=["pool_assign"])
    report = diagnose(model, x, y, order=["W3", "b3", "W2", "b2", "W1", "b1"], verbose=False)
    assert report.locations == []  # read upside down, the passing layers come first: no place to name
    with pytest.raises(ValueError, match="order must list parameter names"):
        diagnose(model, x, y, order=["W1", "W7"], verbose=False)


def test_the_seeds_mistake_at_weight_scale_1e3_has_no_phantom_over_initializations():
    """The issue's report: the real ``b1 missing`` came with a phantom ``b2`` failure from a kink."""
    for seed in range(3):
        x, y = images(200 + seed)
        model = convnet(seed=seed, reg=0.1, act_reg=0.1, act_layers=(1,), bugs=["act_own_dw"])
        report = diagnose(model, x, y, BOTH, seed=seed, verbose=False)
        for point in (report, report.randomized):
            assert {(c.parameter, c.term): c.diagnosis for c in point.failures()} == {
                ("b1", "activity"): "missing", ("b1", "total"): "missing"}, str(report)
