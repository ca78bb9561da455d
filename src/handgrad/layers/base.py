"""The layer template every layer follows.

A layer maps a batch ``x`` of shape ``(N, *input_shape)`` to ``y`` of shape ``(N, *output_shape)``.
``forward`` caches exactly what ``backward`` needs; ``backward(dy)`` fills ``self.grads`` (same keys and
shapes as ``self.params``: ``"W"``, ``"b"``) with dL/dparam and returns dL/dx.

``self.state`` holds the arrays a layer keeps that are not trained (BatchNorm's ``moving_mean``, Dropout's
generator state): ``astype`` converts its floating entries, ``Sequential.state_dict()`` and checkpoints save
it beside the parameters, and ``load_state_dict`` restores it bit for bit. A layer updates its state arrays
in place (the model hands out the live arrays, as for parameters); nothing outside the layer's own file
needs to know what they mean.

Regularization lives here because every layer may carry an ``activity_regularizer`` (as in Keras), and
layers with parameters carry ``kernel_regularizer``/``bias_regularizer``:

- weight penalty ``sum_p R_p(params[p])``, gradient ``R_p'(params[p])`` added to ``grads[p]``;
- activity penalty ``R(y) / N`` on the layer's output ``y``; its gradient ``R'(y) / N`` must be added to the
  upstream gradient *at y*, before this layer's ``backward``, so that it flows through this layer and every
  layer below. ``Sequential`` does that; ``activity_penalty``/``activity_grad`` compute the two pieces.
"""
from __future__ import annotations

import inspect
import re

import numpy as np

from handgrad import regularizers
from handgrad._validation import (
    FLOAT_DTYPES,
    ShapeError,
    as_real_array,
    check_batch,
    check_float_dtype,
    count_nonfinite,
)
from handgrad.errors import ArgumentError, ArgumentTypeError, NonFiniteError, StateError


def default_name(cls) -> str:
    """``Conv2D`` -> ``conv2d``, ``MaxPool2D`` -> ``max_pool2d``, ``LeakyReLU`` -> ``leaky_relu``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", "_", cls.__name__).lower()


class Layer:
    """Base class.

    Args:
        name: unique name inside a model; default: the snake_case class name (``Sequential`` adds
            ``_1``, ``_2``, ... to repeats).
        activity_regularizer: regularizer (or its name) applied to the layer's output, ``R(y) / N``.

    Subclasses implement ``_build(input_shape, rng) -> output_shape``, ``_forward(x, training)`` and
    ``_backward(dy, input_grad)``. ``forward`` never modifies its input in place: the model keeps
    references to penalized outputs until the backward pass.

    ``forward`` and ``backward`` check what they are given (``handgrad.errors``): a batch of real numbers of
    the built shape with N >= 1 (``ShapeError``, ``ArgumentTypeError``), without NaN or inf
    (``NonFiniteError``, with the count), and ``backward`` only after a ``forward`` with the same N
    (``StateError``). Called directly, they also refuse to return non-finite values (an overflow of the
    dtype). Inside a ``Sequential`` the model checks its own input once and passes ``check_finite=False``:
    values computed by the layers then flow on unchecked, for the training loop's NaN guard to report.
    A layer instance belongs to at most one model (``Sequential`` refuses one that already belongs to another).
    """

    # The parameter that is the layer's kernel (the weights multiplied with its input), if it has one:
    # AdamW's decay in ``handgrad train`` and the training monitors read it. A subclass with a kernel of another
    # name sets it; a layer without a parameter of this name has no kernel (BatchNorm's gamma and beta).
    KERNEL_PARAM: str = "W"

    def __init__(self, *, name: str | None = None, activity_regularizer=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name or default_name(type(self))
        self.explicit_name = name is not None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}  # not trained: saved and restored with the parameters
        self.param_regularizers: dict[str, regularizers.Regularizer] = {}
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.dtype = np.dtype(np.float32)
        self._batch_size: int | None = None  # N of the last forward, which backward's dy must match
        self._in_model = False  # set by the Sequential that holds the layer; copied with it by deepcopy

    # ---------------------------------------------------------------- construction
    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape, rng: np.random.Generator | None = None, dtype=np.float32) -> tuple[int, ...]:
        """Create the parameters for per-sample ``input_shape`` and return the per-sample output shape."""
        input_shape = tuple(int(d) for d in input_shape)
        if any(d < 1 for d in input_shape):
            raise ShapeError(f"{self.name}: input shape must have positive sizes, got {input_shape}")
        self.dtype = check_float_dtype(self.name, "dtype", dtype)
        self.output_shape = tuple(self._build(input_shape, rng if rng is not None else np.random.default_rng(0)))
        shared = sorted(set(self.params) & set(self.state))
        if shared:  # one namespace per layer: "<layer>.<name>" in checkpoints
            raise ArgumentError(f"{self.name}: params and state must have different names, both have {shared}")
        self.input_shape = input_shape
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return self.output_shape

    def _build(self, input_shape, rng) -> tuple[int, ...]:
        return input_shape

    def astype(self, dtype) -> "Layer":
        """Switch parameters, floating state and computation to ``dtype`` (float32 or float64).

        Integer state (a generator's words) is kept as it is."""
        self.dtype = check_float_dtype(self.name, "dtype", dtype)
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}
        self.grads = {k: v.astype(self.dtype) for k, v in self.grads.items()}
        self.state = {k: v.astype(self.dtype) if v.dtype.kind == "f" else v for k, v in self.state.items()}
        return self

    # ---------------------------------------------------------------- passes
    def forward(self, x: np.ndarray, training: bool = False, *, check_finite: bool = True) -> np.ndarray:
        """``y = f(x)`` for a batch ``x`` of shape ``(N, *input_shape)``; builds the layer on first use.

        ``x`` is converted to the layer's dtype. ``check_finite=False`` (used by ``Sequential``, which checks
        its input itself) skips the two finiteness checks: NaN or inf in ``x``, and in ``y``.
        """
        if not self.built:
            x = as_real_array(self.name, "input", x)
            if x.ndim < 2:
                raise ShapeError(f"{self.name}: expected a batch (N, ...), got an array of shape {x.shape}")
            check_batch(self.name, x, x.shape[1:], x.dtype, finite=False)  # N >= 1 before building
            self.build(x.shape[1:], dtype=x.dtype if x.dtype in FLOAT_DTYPES else np.float32)
        x = check_batch(self.name, x, self.input_shape, self.dtype, finite=check_finite)
        self._batch_size = None  # a forward that fails midway leaves caches no backward may read
        y = self._forward(x, training)
        self._batch_size = x.shape[0]
        if check_finite:
            self._check_result("output y", y, "input")
        return y

    def backward(self, dy: np.ndarray, input_grad: bool = True, *, check_finite: bool = True) -> np.ndarray | None:
        """Fill ``self.grads`` from dL/dy (shape ``(N, *output_shape)``) and return dL/dx.

        ``input_grad=False`` skips dL/dx (the model's first layer needs none) and returns ``None``.
        ``dy`` is converted to the layer's dtype; ``check_finite`` as for ``forward`` (on ``dy``, dL/dx and
        the gradients).
        """
        if self._batch_size is None:
            raise StateError(f"{self.name}: backward called before forward; call forward on the batch first")
        dy = check_batch(self.name, dy, self.output_shape, self.dtype, n=self._batch_size, name="dy",
                         finite=check_finite)
        dx = self._backward(dy, input_grad)
        if check_finite:
            for key, g in self.grads.items():
                self._check_result(f"gradient {key}", g, "dy")
            if dx is not None:
                self._check_result("input gradient dx", dx, "dy")
        return dx

    def _check_result(self, what: str, value: np.ndarray, source: str) -> None:
        """A ``NonFiniteError`` if ``value`` computed from finite inputs and parameters is not finite."""
        if np.isfinite(value).all():
            return
        bad_params = [k for k, v in self.params.items() if not np.isfinite(v).all()]
        largest = np.finfo(value.dtype).max
        why = (f"the parameters {bad_params} hold non-finite values" if bad_params else
               f"computed from a finite {source} and parameters, it overflowed {value.dtype} (largest {largest:.3g})")
        raise NonFiniteError(f"{self.name}: the {what} holds {count_nonfinite(value)} non-finite value(s): {why}")

    def sublayers(self) -> tuple["Layer", ...]:
        """Layers held inside this one (a built-in activation); a model claims them with the layer."""
        return ()

    def _forward(self, x, training):
        raise NotImplementedError

    def _backward(self, dy, input_grad):
        raise NotImplementedError

    # ---------------------------------------------------------------- regularization
    def weight_penalty(self) -> float:
        """``sum_p R_p(params[p])`` over the regularized parameters; not divided by the batch size."""
        return sum(reg.penalty(self.params[p]) for p, reg in self.param_regularizers.items())

    def add_weight_penalty_grads(self) -> None:
        """``grads[p] += R_p'(params[p])`` for each regularized parameter."""
        for p, reg in self.param_regularizers.items():
            self.grads[p] += reg.grad(self.params[p])

    def activity_penalty(self, y: np.ndarray) -> float:
        """``R(y) / N``. Divided by the batch size N because the data loss is a batch *mean*: the penalty
        then has the same weight per example whatever the batch size (Keras does the same)."""
        return self.activity_regularizer.penalty(y) / y.shape[0]

    def activity_grad(self, y: np.ndarray) -> np.ndarray:
        """``R'(y) / N``, to be added to dL/dy before ``backward``."""
        return self.activity_regularizer.grad(y) / y.dtype.type(y.shape[0])

    # ---------------------------------------------------------------- export (handgrad.export)
    # A layer writes its own inference computation for other frameworks: ``_onnx(graph, x) -> y`` appends ONNX
    # nodes to a ``handgrad.export.onnx_graph.OnnxGraph`` (tensor names in, the output's name back);
    # ``_torch(torch) -> [nn.Module, ...]`` returns PyTorch's own modules with this layer's weights and state
    # (``torch`` is the imported package, handed in: no layer file imports torch). ``TORCH_MODULE`` names the
    # ``torch.nn`` class that ``_from_torch(module)`` reads back into a new layer (``handgrad.export.from_torch``).
    TORCH_MODULE: str | None = None

    def to_onnx_nodes(self, graph, x: str) -> str:
        """Append this layer's inference nodes (``forward(x, training=False)``) to ``graph``; return the name of
        the output tensor. ``ArgumentError`` naming the layer when it cannot be exported."""
        self._check_exportable("ONNX", "_onnx")
        return self._onnx(graph, x)

    def to_torch_modules(self, torch) -> list:
        """PyTorch modules computing this layer's inference pass, with copies of its weights and state."""
        self._check_exportable("PyTorch", "_torch")
        return self._torch(torch)

    def _onnx(self, graph, x):
        raise NotImplementedError  # refused by _check_exportable before it is reached

    def _torch(self, torch):
        raise NotImplementedError

    def _check_exportable(self, target: str, method: str) -> None:
        """Refuse a layer whose class writes no ``method``, or whose ``_forward`` is overridden below the class
        that wrote it (the export would describe the base class's computation, not this layer's)."""
        cls = type(self)
        what = f"layer {self.name!r} ({cls.__name__}) cannot be exported to {target}"
        if next(c for c in cls.__mro__ if method in vars(c)) is Layer:
            raise ArgumentError(f"{what}: {cls.__name__} writes no {method} method (see handgrad.layers.base); "
                                "the layers that can are listed in handgrad.export")
        # the most derived class that says how it exports (a method, or the attributes a generic method reads)
        owner = next(c for c in cls.__mro__ if any(n in vars(c) for n in (method, "ONNX_OP", "TORCH_MODULE")))
        computes = next(c for c in cls.__mro__ if "_forward" in vars(c))
        if computes is not owner and issubclass(computes, owner):
            raise ArgumentError(f"{what}: {computes.__name__} overrides _forward but inherits {method} from "
                                f"{owner.__name__}, which describes {owner.__name__}'s computation; write "
                                f"{computes.__name__}.{method}")
        if not self.built:
            raise ArgumentError(f"{what}: it is not built (put it in a Sequential, or call build)")

    @classmethod
    def _from_torch(cls, module):
        """``(layer, params, state)`` for a ``torch.nn`` module of class ``TORCH_MODULE``: a new, unbuilt layer
        with the module's hyperparameters, and its weights and state as NumPy arrays in handgrad's layouts.
        ``ArgumentError`` naming the module's setting that handgrad's layer has no equivalent for."""
        raise NotImplementedError

    # ---------------------------------------------------------------- description
    def regularizer_summary(self) -> str:
        parts = [f"{p}:{reg!r}" for p, reg in self.param_regularizers.items()]
        if self.activity_regularizer is not None:
            parts.append(f"activity:{self.activity_regularizer!r}")
        return " ".join(parts)

    def param_count(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def has_kernel(self) -> bool:
        """Whether the layer holds a kernel: a parameter named ``KERNEL_PARAM``."""
        return self.KERNEL_PARAM in self.params

    def __repr__(self) -> str:
        """``Conv2D(filters=8, kernel_size=(3, 3), activation='elu', name='conv2d')``: the constructor arguments
        that differ from their defaults (as PyTorch's ``extra_repr``), then the name."""
        shown = [f"{key}={_describe(value)}" for key, value in self._non_default_arguments().items()]
        return f"{type(self).__name__}({', '.join([*shown, f'name={self.name!r}'])})"

    def _non_default_arguments(self) -> dict:
        """``argument -> value`` for the arguments of the ``__init__`` methods along the class's MRO that the layer
        keeps as an attribute of the same name, where the value is not the argument's default."""
        out, seen = {}, {"name"}
        for cls in type(self).__mro__:
            init = vars(cls).get("__init__")
            if init is None or cls is object:
                continue
            for p in list(inspect.signature(init).parameters.values())[1:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in seen or not hasattr(self, p.name):
                    continue
                seen.add(p.name)  # the most derived class's default counts
                value = getattr(self, p.name)
                if p.default is p.empty or not _is_default(value, p.default):
                    out[p.name] = value
        return out


def _is_default(value, default) -> bool:
    """Whether a kept attribute equals its argument's default as given: ``3`` for ``(3, 3)``, an initializer
    function for its name."""
    if isinstance(value, tuple) and len(value) == 2 and value == (default, default):
        return True
    if isinstance(default, str) and callable(value) and getattr(value, "__name__", None) == default:
        return True
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # an array
        return False


def _describe(value) -> str:
    """A built-in activation at its defaults by its name (``'elu'``), a function by its name, else ``repr``."""
    if isinstance(value, Layer) and not value._non_default_arguments():
        return repr(default_name(type(value)))
    if callable(value) and not isinstance(value, Layer) and hasattr(value, "__name__"):
        return repr(value.__name__)
    return repr(value)


class ParametricLayer(Layer):
    """A layer with a kernel ``W`` and an optional bias ``b``, each with an optional regularizer."""

    def __init__(self, *, use_bias=True, kernel_regularizer=None, bias_regularizer=None, kernel_initializer,
                 bias_initializer="zeros", activation=None, **kwargs):
        super().__init__(**kwargs)
        from handgrad import initializers
        from handgrad.layers.activations import get as get_activation

        if not isinstance(use_bias, bool):
            raise ArgumentTypeError(f"{type(self).__name__}: use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.activation = get_activation(activation)

    def _create_params(self, w_shape, fan_in, fan_out, bias_size, rng) -> None:
        self.params = {"W": self.kernel_initializer(w_shape, fan_in, fan_out, rng, self.dtype)}
        if self.use_bias:
            self.params["b"] = self.bias_initializer((bias_size,), fan_in, fan_out, rng, self.dtype)
        self.param_regularizers = {}
        if self.kernel_regularizer is not None:
            self.param_regularizers["W"] = self.kernel_regularizer
        if self.use_bias and self.bias_regularizer is not None:
            self.param_regularizers["b"] = self.bias_regularizer

    def _activate(self, z, training):
        """Apply the built-in activation (if any) to the pre-activation ``z``."""
        if self.activation is None:
            return z
        if not self.activation.built:
            self.activation.build(z.shape[1:], dtype=self.dtype)
        return self.activation._forward(z, training)

    def _deactivate(self, dy):
        """dL/dz from dL/dy through the built-in activation."""
        return dy if self.activation is None else self.activation._backward(dy, True)

    def _backward(self, dy, input_grad):
        """``dz`` through the built-in activation, then the kernel's backward cached by ``_forward`` as
        ``self._cache = (backward, args)``: ``backward(dz, *args, input_grad) -> (dW, db, dx)``."""
        backward, args = self._cache
        dz = self._deactivate(dy)
        dW, db, dx = backward(dz, *args, input_grad)
        self.grads["W"] = dW
        if self.use_bias:
            self.grads["b"] = db
        return dx

    def _built_activation(self):
        if self.activation is not None and not self.activation.built:  # built by the first forward pass
            self.activation.build(self.output_shape, dtype=self.dtype)
        return self.activation

    def _onnx_activate(self, graph, z: str) -> str:
        """The built-in activation's nodes after the pre-activation tensor ``z`` (none without activation)."""
        return z if self.activation is None else self._built_activation().to_onnx_nodes(graph, z)

    def _torch_activate(self, torch) -> list:
        return [] if self.activation is None else self._built_activation().to_torch_modules(torch)

    def _torch_weights(self, torch, module, weight):
        """Give ``module`` (``nn.Conv2d``, ``nn.Linear``) copies of ``weight`` (in PyTorch's layout) and ``b``."""
        module.weight = torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(weight).copy()))
        if self.use_bias:
            module.bias = torch.nn.Parameter(torch.from_numpy(self.params["b"].copy()))
        return module

    def astype(self, dtype):
        super().astype(dtype)
        if self.activation is not None:
            self.activation.astype(dtype)
        return self

    def sublayers(self):
        return () if self.activation is None else (self.activation,)
