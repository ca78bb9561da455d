"""``Sequential``: a stack of layers trained with softmax cross-entropy plus regularization penalties."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from handgrad._validation import as_real_array, check_batch, check_float_dtype, check_int, check_number, count_nonfinite
from handgrad.errors import ArgumentError, ArgumentTypeError, KeyMismatchError, NonFiniteError, ShapeError
from handgrad.kernels import backend
from handgrad.layers.base import Layer
from handgrad.losses import check_labels, log_softmax, softmax_cross_entropy

TERMS = ("data", "weight", "activity")


@dataclass(frozen=True)
class LossTerms:
    """The loss of one batch, term by term (floats).

    ``total = data + weight + activity``, where ``data`` is the mean softmax cross-entropy, ``weight`` the sum
    of kernel and bias penalties ``R(W)`` and ``activity`` the sum of activity penalties ``R(y) / N``.
    """

    data: float
    weight: float
    activity: float
    by_layer: dict = field(default_factory=dict, compare=False)  # layer name -> (weight, activity) penalties

    @property
    def total(self) -> float:
        return self.data + self.weight + self.activity

    def as_dict(self) -> dict:
        return {"total": self.total, "data": self.data, "weight": self.weight, "activity": self.activity}


def _sum_penalties(by_layer: dict) -> tuple[float, float]:
    return float(sum(w for w, _ in by_layer.values())), float(sum(a for _, a in by_layer.values()))


class Sequential:
    """Layers applied in order, built at construction for per-sample ``input_shape``.

    Args:
        layers: list of ``Layer`` instances; names are made unique (``conv2d``, ``conv2d_1``, ...).
        input_shape: per-sample input shape, e.g. ``(1, 28, 28)``.
        seed: seeds every initializer and dropout mask; the same seed gives bit-identical models.
        dtype: float32 (default) or float64; any other dtype is refused (``ArgumentTypeError``).

    The loss is ``mean softmax cross-entropy + sum of weight penalties + sum of activity penalties``.
    Parameters, gradients and layer state are addressed as ``"<layer name>.<name>"``, e.g. ``"conv2d.W"``,
    ``"batch_norm2d.moving_mean"``. Each pass runs the steps the active kernel set plans for the layers
    (``fusion_plan``: some consecutive layers may run as one fused step, see ``handgrad.kernels.fusion``).

    A layer instance (and its built-in activation) belongs to one model: a layer already in another model,
    or listed twice, is refused (``ArgumentError``); ``copy.deepcopy(model)`` copies the layers with it.
    Inputs are checked where they enter (``forward``, ``loss``, ``loss_terms``, ``predict``): the shape
    ``(N, *input_shape)`` with N >= 1 (``predict`` accepts N = 0), real numbers, no NaN or inf; labels are
    integers in ``[0, K)`` of shape ``(N,)``. ``loss``, ``loss_terms`` and ``predict`` refuse to return a
    non-finite result (``NonFiniteError``, naming the non-finite parameters if any); ``forward``,
    ``forward_backward`` and ``backward`` return what they computed, for a training loop's NaN guard.
    The errors are listed in ``handgrad.errors``.
    """

    def __init__(self, layers, input_shape, seed: int = 0, dtype=np.float32):
        layers = list(layers)
        if not layers:
            raise ArgumentError("Sequential: layers must not be empty")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ArgumentTypeError(f"Sequential: layers[{i}] must be a Layer, got {layer!r} "
                                        f"({type(layer).__name__})")
        if not isinstance(input_shape, (tuple, list)) or not input_shape:
            raise ArgumentError(f"Sequential: input_shape must be a tuple such as (1, 28, 28), got {input_shape!r}")
        self.input_shape = tuple(check_int("Sequential", "input_shape", d, minimum=1) for d in input_shape)
        self.seed = check_int("Sequential", "seed", seed, minimum=0)
        self.dtype = check_float_dtype("Sequential", "dtype", dtype)
        _check_free(layers)
        self.layers = layers
        self._assign_names()
        rng = np.random.default_rng(self.seed)
        shape = self.input_shape
        for layer in layers:
            shape = layer.build(shape, rng=rng, dtype=self.dtype)
        self.output_shape = shape
        if len(shape) != 1:
            raise ShapeError(f"Sequential: the last layer ({layers[-1].name}) must output class scores (N, K), "
                             f"got per-sample shape {shape}; add Flatten and Dense layers")
        for layer in layers:
            for part in (layer, *layer.sublayers()):
                part._in_model = True  # claimed once the model is built: a failed construction claims nothing
        self.num_classes = shape[0]
        self._outputs: dict[str, np.ndarray] = {}
        self._plan_key, self._steps = None, ()  # the fusion plan and what it was built for; see _plan

    def _assign_names(self):
        taken = {layer.name for layer in self.layers if layer.explicit_name}
        if len(taken) != sum(layer.explicit_name for layer in self.layers):
            raise ArgumentError("Sequential: layer names must be unique, got "
                                f"{[layer.name for layer in self.layers if layer.explicit_name]}")
        counts: dict[str, int] = {}
        for layer in self.layers:
            if layer.explicit_name:
                continue
            base = layer.name
            while True:
                n = counts.get(base, 0)
                counts[base] = n + 1
                candidate = base if n == 0 else f"{base}_{n}"
                if candidate not in taken:
                    break
            layer.name = candidate
            taken.add(candidate)

    # ---------------------------------------------------------------- access
    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {[layer.name for layer in self.layers]}")

    def parameters(self) -> dict[str, np.ndarray]:
        """``"<layer>.<param>" -> array``: the live arrays (an optimizer updates them in place)."""
        return {f"{layer.name}.{p}": v for layer in self.layers for p, v in layer.params.items()}

    def kernel_names(self) -> list[str]:
        """``"<layer>.<kernel>"`` of every layer that holds a kernel (``Layer.KERNEL_PARAM``), e.g. ``"conv2d.W"``."""
        return [f"{layer.name}.{layer.KERNEL_PARAM}" for layer in self.layers if layer.has_kernel()]

    def gradients(self) -> dict[str, np.ndarray]:
        """``"<layer>.<param>" -> array``: the gradients of the last ``loss``/``backward`` call."""
        return {f"{layer.name}.{p}": v for layer in self.layers for p, v in layer.grads.items()}

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter."""
        return {k: v.copy() for k, v in self.parameters().items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy ``weights`` (same keys and shapes as ``parameters()``) into the model's parameters.

        Every value is checked before any parameter is written, so a refused call changes nothing: the keys
        (``KeyMismatchError``: missing and unexpected keys), each value an array of real numbers
        (``ArgumentTypeError`` for complex, string or object arrays) of the parameter's shape (``ShapeError``),
        finite after conversion to the parameter's dtype (``NonFiniteError``: NaN, inf, or a float64 value
        beyond float32's range).
        """
        if not isinstance(weights, Mapping):
            raise ArgumentTypeError(f"set_weights: weights must be a dict of arrays, got {type(weights).__name__}")
        params = self.parameters()
        if set(weights) != set(params):
            missing, extra = sorted(set(params) - set(weights)), sorted(map(str, set(weights) - set(params)))
            raise KeyMismatchError(f"set_weights: missing {missing}, unexpected {extra}; no parameter was changed")
        staged = {}
        for key, target in params.items():
            value = as_real_array("set_weights", key, weights[key])
            if value.shape != target.shape:
                raise ShapeError(f"set_weights: {key} expects shape {target.shape}, got {value.shape}; "
                                 "no parameter was changed")
            with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf, refused below
                value = value.astype(target.dtype)  # a copy, also when `weights` holds the live parameters
            if not np.isfinite(value).all():
                raise NonFiniteError(f"set_weights: {key} holds {count_nonfinite(value)} non-finite value(s) (NaN "
                                     f"or inf in {target.dtype}); no parameter was changed")
            staged[key] = value
        for key, value in staged.items():
            params[key][...] = value

    def states(self) -> dict[str, np.ndarray]:
        """``"<layer>.<name>" -> array``: every layer's state (not trained), the live arrays."""
        return {f"{layer.name}.{k}": v for layer in self.layers for k, v in layer.state.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and every layer's state, ``"<layer>.<name>" -> array``: all a checkpoint
        needs to restore the model bit for bit (``load_state_dict``)."""
        return {k: v.copy() for k, v in {**self.parameters(), **self.states()}.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (the keys of ``state_dict()``) into the parameters and layer states, bit for bit.

        Shapes must match; floating arrays are converted to the model's dtype, integer state must keep its
        dtype (a generator's words)."""
        params, states = self.parameters(), self.states()
        expected = {**params, **states}
        if set(state) != set(expected):
            missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
            raise KeyMismatchError(f"load_state_dict: missing {missing}, unexpected {extra}")
        for key, target in states.items():
            value = np.asarray(state[key])
            if value.shape != target.shape:
                raise ShapeError(f"load_state_dict: {key} expects shape {target.shape}, got {value.shape}")
            if target.dtype.kind != "f" and value.dtype != target.dtype:
                raise ArgumentTypeError(f"load_state_dict: {key} expects dtype {target.dtype}, got {value.dtype}")
        self.set_weights({k: state[k] for k in params})
        for key, target in states.items():
            target[...] = state[key]

    def astype(self, dtype) -> "Sequential":
        """Switch every parameter and computation to ``dtype`` (e.g. ``np.float64`` for gradient checks)."""
        self.dtype = check_float_dtype("Sequential.astype", "dtype", dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        return self

    # ---------------------------------------------------------------- passes
    def _check_input(self, x, allow_empty: bool = False) -> np.ndarray:
        """``x`` as an array of the model's dtype, after the checks of ``handgrad._validation.check_batch``."""
        return check_batch("Sequential", x, self.input_shape, self.dtype, allow_empty=allow_empty)

    def _refuse_nonfinite(self, method: str, what: str):
        """A ``NonFiniteError`` for a result computed from checked (finite) inputs, naming the likely cause."""
        bad = [k for k, v in self.parameters().items() if not np.isfinite(v).all()]
        cause = (f"the parameters {bad} hold non-finite values" if bad else
                 f"inputs and parameters are finite: the computation overflowed {self.dtype.name} (too large "
                 "inputs or weights)")
        return NonFiniteError(f"Sequential.{method}: {what}; {cause}")

    def _check_loss(self, method: str, result: "LossTerms", grads: dict | None = None) -> None:
        bad = [f"the {t} loss term is {getattr(result, t)}" for t in TERMS if not math.isfinite(getattr(result, t))]
        bad_grads = [k for k, g in (grads or {}).items() if not np.isfinite(g).all()]
        if bad_grads:
            bad.append(f"the gradients of {bad_grads} are not finite")
        if bad:
            raise self._refuse_nonfinite(method, ", ".join(bad))

    def _plan(self) -> tuple:
        """The steps ``((lo, hi, step), ...)`` the active kernel set plans for the current layers
        (``fusion_plan``), asked once per (kernel set, layers) and kept while they stay the same. A layer's
        activity regularizer is part of the key: this class adds its gradient at the output of a step's last
        layer, so whether a layer's output may vanish inside a fused step depends on it."""
        kernels = backend.active()
        key = (kernels.NAME, *self.layers, *(layer.activity_regularizer for layer in self.layers))
        if key != self._plan_key:  # layers compare by identity
            self._plan_key, self._steps = key, kernels.fusion_plan(self.layers)
        return self._steps

    def forward(self, x, training: bool = False) -> np.ndarray:
        """Logits ``(N, K)`` for a batch ``x`` of shape ``(N, *input_shape)``."""
        x = self._check_input(x)
        self._outputs = {}
        with backend.active().pass_scope():  # the kernel set's settings for a whole pass (its BLAS threads)
            for _lo, hi, step in self._plan():  # layers run one by one, or in fused steps (the kernel set's plan)
                x = step.forward(x, training, check_finite=False)  # input checked above, the rest by the caller
                layer = self.layers[hi - 1]
                if layer.activity_regularizer is not None:
                    self._outputs[layer.name] = x  # y, kept for R(y) and R'(y) (layers never modify inputs)
        return x

    def activations(self, x, names=None) -> dict[str, np.ndarray]:
        """``layer name -> output`` of one inference pass over ``x``, layer by layer (no fused steps), for the
        layers named in ``names`` (default: all)."""
        h, out = self._check_input(x), {}
        for layer in self.layers:
            h = layer.forward(h, training=False)
            if names is None or layer.name in names:
                out[layer.name] = h
        return out

    def penalties(self) -> tuple[float, float]:
        """``(weight, activity)`` penalties of the current parameters and of the last forward pass."""
        return _sum_penalties(self.penalties_by_layer())

    def penalties_by_layer(self) -> dict[str, tuple[float, float]]:
        """``layer name -> (weight penalty, activity penalty)`` for every layer that carries a penalty."""
        out = {}
        for layer in self.layers:
            weight = layer.weight_penalty() if layer.param_regularizers else 0.0
            y = self._outputs.get(layer.name)
            activity = layer.activity_penalty(y) if y is not None else 0.0
            if layer.param_regularizers or y is not None:
                out[layer.name] = (float(weight), float(activity))
        return out

    def backward(self, dlogits, *, weight_penalty: bool = True, activity_penalty: bool = True,
                 input_grad: bool = False):
        """Backpropagate ``dlogits`` (dL/dlogits of the data loss) and the penalties into every layer's grads.

        For each layer from the last to the first: the activity gradient ``R'(y) / N`` is added to the
        upstream gradient at the layer's output ``y``, the layer's ``backward`` carries the sum to its
        parameters and its input (so the penalty reaches every layer below), then ``R'(W)`` is added to the
        layer's kernel/bias gradients. Returns dL/dx when ``input_grad`` is True, else ``None``.
        """
        d = dlogits
        with backend.active().pass_scope():
            for lo, hi, step in reversed(self._steps):
                layer = self.layers[hi - 1]
                if activity_penalty and layer.name in self._outputs:
                    d = d + layer.activity_grad(self._outputs[layer.name])
                d = step.backward(d, input_grad=input_grad or lo > 0, check_finite=False)
                if weight_penalty:
                    for layer in self.layers[lo:hi]:
                        layer.add_weight_penalty_grads()
        return d

    def loss_terms(self, x, y, training: bool = False, *, label_smoothing: float = 0.0) -> LossTerms:
        """The loss of a batch, term by term, without a backward pass; refuses a non-finite term."""
        result, _, _ = self._forward_terms("loss_terms", x, y, training, label_smoothing)
        self._check_loss("loss_terms", result)
        return result

    def _forward_terms(self, method: str, x, y, training: bool,
                       label_smoothing: float) -> tuple[LossTerms, np.ndarray, np.ndarray]:
        """The checked batch's forward pass: ``(terms, logits, dL_data/dlogits)``; ``method`` names the caller."""
        x = self._check_input(x)
        check_labels(y, len(x), self.num_classes)  # before the forward pass: a refused call changes nothing
        _check_smoothing(method, label_smoothing)
        logits = self.forward(x, training)
        data, dlogits = softmax_cross_entropy(logits, y, label_smoothing)
        by_layer = self.penalties_by_layer()
        return LossTerms(data, *_sum_penalties(by_layer), by_layer), logits, dlogits

    def loss(self, x, y, training: bool = True, terms=TERMS, *,
             label_smoothing: float = 0.0) -> tuple[LossTerms, dict[str, np.ndarray]]:
        """Forward and backward pass: ``(terms, grads)``.

        ``grads`` maps ``"<layer>.<param>"`` to the gradient of the sum of the selected ``terms`` (all three by
        default, i.e. of ``terms.total``); each layer's ``grads`` holds the same arrays afterwards.
        ``training`` switches dropout on. ``label_smoothing`` (``eps`` in [0, 1), default 0) smooths the targets
        of the data term (``losses.softmax_cross_entropy``). A non-finite loss term or gradient raises
        ``NonFiniteError``.
        """
        result, _ = self.forward_backward(x, y, training, terms, label_smoothing=label_smoothing)
        grads = self.gradients()
        self._check_loss("loss", result, grads)
        return result, grads

    def forward_backward(self, x, y, training: bool = True, terms=TERMS, *,
                         label_smoothing: float = 0.0) -> tuple[LossTerms, np.ndarray]:
        """``loss`` for training loops: fills every layer's ``grads`` and returns ``(terms, logits)``.

        Inputs are checked as for ``loss``; a non-finite result is returned as it is (the loop's NaN guard
        reports it with its step and last checkpoint).
        """
        unknown = set(terms) - set(TERMS)
        if unknown:
            raise ArgumentError(f"loss: terms must be a subset of {TERMS}, got {sorted(unknown)}")
        result, logits, dlogits = self._forward_terms("loss", x, y, training, label_smoothing)
        if "data" not in terms:
            dlogits = np.zeros_like(dlogits)
        self.backward(dlogits, weight_penalty="weight" in terms, activity_penalty="activity" in terms)
        return result, logits

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``softmax(logits)`` of shape ``(N, K)``, computed in batches of ``batch_size``
        (a positive int). An empty batch gives an empty ``(0, K)`` array; non-finite probabilities raise
        ``NonFiniteError``."""
        batch_size = check_int("Sequential.predict", "batch_size", batch_size, minimum=1)
        x = self._check_input(x, allow_empty=True)
        out = [np.exp(log_softmax(self.forward(x[i : i + batch_size]))) for i in range(0, len(x), batch_size)]
        self._outputs = {}
        p = np.concatenate(out) if out else np.zeros((0, self.num_classes), self.dtype)
        if not np.isfinite(p).all():
            raise self._refuse_nonfinite("predict", f"{count_nonfinite(p)} class probabilities are not finite")
        return p

    # ---------------------------------------------------------------- description
    def param_count(self) -> int:
        return sum(layer.param_count() for layer in self.layers)

    def summary_rows(self) -> list[tuple[str, str, str, str]]:
        """The header, then per layer: name (type), output shape, parameter count, regularizers."""
        rows = [("Layer (type)", "Output shape", "Params", "Regularizers")]
        for layer in self.layers:
            act = getattr(layer, "activation", None)
            kind = type(layer).__name__ + (f"+{type(act).__name__}" if act is not None else "")
            rows.append((f"{layer.name} ({kind})", str(("N", *layer.output_shape)).replace("'", ""),
                         f"{layer.param_count():,}", layer.regularizer_summary()))
        return rows

    def summary(self) -> str:
        """A table of layers, output shapes, parameter counts and regularizers."""
        rows = self.summary_rows()
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "-" * (sum(widths) + 6)
        def fmt(r):
            return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        body = [fmt(rows[0]), line, *map(fmt, rows[1:]), line,
                f"Input shape: (N, {', '.join(map(str, self.input_shape))})   dtype: {self.dtype.name}",
                f"Total params: {self.param_count():,}"]
        return "\n".join(body)

    def _repr_html_(self) -> str:
        from handgrad.display.model_html import summary_html  # the summary as a table, in Jupyter

        return summary_html(self)

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers, input_shape={self.input_shape}, params={self.param_count():,})"


def _check_smoothing(method: str, eps) -> float:
    """Before the forward pass, so that a refused call changes nothing (the loss checks it again)."""
    return check_number(f"Sequential.{method}", "label_smoothing", eps, minimum=0.0, maximum=1.0, strict_max=True)


def _check_free(layers) -> None:
    """Refuse a layer (or built-in activation) that belongs to another model or is listed twice.

    Building a layer again would replace its parameters and rename it under the model that holds it.
    """
    seen: dict[int, str] = {}
    for i, layer in enumerate(layers):
        for part in (layer, *layer.sublayers()):
            what = f"layer {layer.name} (layers[{i}])" if part is layer else \
                f"activation {part.name} of layer {layer.name} (layers[{i}])"
            if getattr(part, "_in_model", False):
                raise ArgumentError(f"Sequential: {what} already belongs to another model; create a new layer")
            if id(part) in seen:
                raise ArgumentError(f"Sequential: {what} is the same instance as {seen[id(part)]}; "
                                    "create a new layer")
            seen[id(part)] = what
