"""Property-based tests (Hypothesis): random shapes, dtypes and values never cost an undocumented error.

Each layer's ``forward``/``backward`` and ``Sequential.loss`` get batches of random rank and sizes (empty
batches included), random dtypes (float16/32/64, ints, bool, complex) and random values (normal, huge, tiny,
with NaN and inf sprinkled in), and random upstream gradients and labels. The property: the call either
returns a result of the documented shape and dtype holding only finite values, or raises one of the errors
listed in ``handgrad.errors.DOCUMENTED``. A NumPy ``ValueError``, an ``IndexError`` from a kernel, a silent NaN
or a wrong shape fails the test.

Deterministic (``derandomize=True``: the same examples on every run and machine), no deadline (numba compiles
on first use), and small sizes, so the whole file runs in a few seconds.
"""
import warnings

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import handgrad as hg
from handgrad.errors import DOCUMENTED
from handgrad.kernels import backend
from tests.layer_cases import INFOS

SETTINGS = settings(derandomize=True, deadline=None, max_examples=300, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Repeats weight the draws towards valid input, so that most examples reach the backward pass.
DTYPES = [np.float32, np.float64] * 4 + [np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64]
BUILD_DTYPES = [np.float32, np.float64] * 3 + [np.float16, np.int32, np.bool_]
# How the entries of an array are drawn: scale of a standard normal, or a fixed value.
# "dtype_max": up to the largest finite value of the array's dtype, finite but bound to overflow in a sum.
VALUE_KINDS = ["normal"] * 4 + ["huge", "dtype_max", "dtype_max", "tiny", "zeros", "large_negative"]


@st.composite
def arrays(draw, shape, dtypes=DTYPES):
    """A random array of ``shape``: a dtype from ``dtypes`` and values of a random kind, maybe with NaN/inf."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    kind = draw(st.sampled_from(VALUE_KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    largest = float(np.finfo(dtype).max) if dtype.kind == "f" else 100.0
    x = {"normal": x, "huge": x * 1e300, "dtype_max": np.sign(x) * largest * rng.uniform(0.5, 1, shape),
         "tiny": x * 1e-310, "zeros": np.zeros(shape), "large_negative": -np.abs(x) * 1e4}[kind]
    if x.size and draw(st.integers(0, 3)) == 0:
        special = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        x.flat[draw(st.integers(0, x.size - 1))] = special
    with np.errstate(all="ignore"):
        if dtype.kind in "iub":  # NaN/inf cast to an int are undefined: use the value's sign instead
            x = np.nan_to_num(np.clip(x, -100, 100), nan=0.0, posinf=100, neginf=-100)
        return x.astype(dtype)


@st.composite
def shapes(draw, expected):
    """Mostly ``expected`` (a full batch shape), sometimes another batch size or a shape of another rank."""
    kind = draw(st.sampled_from(["expected"] * 6 + ["other_n", "random"]))
    if kind == "expected":
        return tuple(expected)
    if kind == "other_n":
        return (draw(st.sampled_from([1, 2, 3, 4, 0])), *expected[1:])
    return tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=5)))


# Every layer of the registry (tests/layer_cases.py), by name: its random constructor arguments and the
# per-sample rank it takes.
LAYERS = {info.name: info.draw for info in INFOS}
RANKS = {info.name: info.rank for info in INFOS if info.rank is not None}
BATCH_SIZES = st.sampled_from([2, 3, 1, 2, 3, 1, 3, 0])  # 1 in 8 an empty batch (not first: Hypothesis favours it)


def finite_array_of(value, shape, dtype, what):
    assert isinstance(value, np.ndarray), f"{what}: {type(value).__name__}, not an array"
    assert value.shape == tuple(shape), f"{what}: shape {value.shape}, expected {tuple(shape)}"
    assert value.dtype == dtype, f"{what}: dtype {value.dtype}, expected {dtype}"
    assert np.isfinite(value).all(), f"{what}: {np.count_nonzero(~np.isfinite(value))} non-finite values returned"


def documented(stage, call):
    """``(True, result)`` or ``(False, error)`` for a documented error; any other exception propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow warnings before a NonFiniteError
        try:
            result = call()
        except DOCUMENTED as error:
            assert str(error), f"{type(error).__name__} without a message"
            event(f"{stage}: {type(error).__name__}")  # shown by --hypothesis-show-statistics
            return False, error
        event(f"{stage}: result")
        return True, result


@settings(SETTINGS, max_examples=22 * len(LAYERS))  # as many examples per layer as 300 gave 14 layers
@given(st.data())
def test_layers_return_finite_results_of_their_shape_or_a_documented_error(data):
    d = data.draw
    name = d(st.sampled_from(sorted(LAYERS)))
    layer = LAYERS[name](d)
    kernels = d(st.sampled_from(["numba", "numpy"]))
    rank = RANKS.get(name) if d(st.integers(0, 3)) else None  # mostly the rank the layer takes, else any
    sample = tuple(d(st.lists(st.integers(1, 7), min_size=rank or 1, max_size=rank or 3)))
    with backend.using_kernels(kernels):
        if d(st.booleans()):  # built explicitly (maybe with a refused dtype), else on the first forward
            ok, _ = documented("build", lambda: layer.build(sample, dtype=d(st.sampled_from(BUILD_DTYPES))))
            if not ok:
                return
        x = d(arrays(d(shapes((d(BATCH_SIZES), *sample)))))
        ok, y = documented("forward", lambda: layer.forward(x, training=d(st.booleans())))
        if not ok:
            return
        finite_array_of(y, (x.shape[0], *layer.output_shape), layer.dtype, f"{name}.forward")
        dy = d(arrays(d(shapes(y.shape))))
        ok, dx = documented("backward", lambda: layer.backward(dy, input_grad=True))
        if not ok:
            return
        finite_array_of(dx, x.shape, layer.dtype, f"{name}.backward dx")
        for key, g in layer.grads.items():
            finite_array_of(g, layer.params[key].shape, layer.dtype, f"{name}.grads[{key!r}]")


def small_model(d):
    C, H, W = d(st.integers(1, 2)), d(st.integers(2, 6)), d(st.integers(2, 6))
    layers = [hg.Conv2D(2, 3, activation=d(st.sampled_from([None, "elu"])), activity_regularizer=hg.L2(1e-3),
                        kernel_regularizer=hg.L2(1e-3)),
              hg.ELU(), hg.MaxPool2D(2), hg.Flatten(), hg.Dropout(0.5), hg.Dense(3, bias_regularizer=hg.L1(1e-3))]
    if H < 2 or W < 2:
        layers.remove(layers[2])
    return hg.Sequential(layers, input_shape=(C, H, W), seed=d(st.integers(0, 3)),
                         dtype=d(st.sampled_from([np.float32, np.float64])))


@st.composite
def labels(draw, n):
    kind = draw(st.sampled_from(["valid"] * 6 + ["out_of_range", "float", "wrong_shape", "list"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.integers(0, 3, size=n)
    if kind == "out_of_range" and n:
        y[rng.integers(n)] = draw(st.sampled_from([-1, 3, 2**40]))
    elif kind == "float":
        y = y.astype(draw(st.sampled_from([np.float32, np.float64, np.bool_])))
    elif kind == "wrong_shape":
        y = y.reshape(n, 1) if draw(st.booleans()) else np.append(y, 0)
    elif kind == "list":
        y = y.tolist()
    return y


@SETTINGS
@given(st.data())
def test_sequential_loss_returns_finite_terms_and_gradients_or_a_documented_error(data):
    d = data.draw
    model = small_model(d)
    with backend.using_kernels(d(st.sampled_from(["numba", "numpy"]))):
        x = d(arrays(d(shapes((d(BATCH_SIZES), *model.input_shape)))))
        y = d(labels(x.shape[0] if x.ndim else 0))
        ok, result = documented("loss", lambda: model.loss(x, y, training=d(st.booleans())))
        if not ok:
            return
        terms, grads = result
        assert all(np.isfinite(v) for v in terms.as_dict().values()), terms
        assert set(grads) == set(model.parameters())
        for key, g in grads.items():
            finite_array_of(g, model.parameters()[key].shape, model.dtype, f"grads[{key!r}]")
