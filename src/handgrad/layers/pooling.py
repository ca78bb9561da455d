"""Max and average pooling over 2-D windows (no padding, as Keras's default ``padding="valid"``)."""
from __future__ import annotations

from handgrad._validation import ShapeError, check_pair
from handgrad.errors import ArgumentError
from handgrad.kernels import backend
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.layers.base import Layer


class _Pool2D(Layer):
    """Shared geometry. ``OH = (H - PH) // SH + 1``; rows and columns that do not fill a window are dropped."""

    def __init__(self, pool_size=2, stride=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = check_pair(owner, "pool_size", pool_size)
        self.stride = self.pool_size if stride is None else check_pair(owner, "stride", stride)

    def _build(self, input_shape, rng):
        if len(input_shape) != 3:
            raise ShapeError(f"{self.name}: {type(self).__name__} expects per-sample input (C, H, W), "
                             f"got {input_shape}")
        C, H, W = input_shape
        g = conv_geometry(H, W, self.pool_size, self.stride, "valid")
        if g.OH < 1 or g.OW < 1:
            raise ShapeError(f"{self.name}: pool_size {self.pool_size} is larger than the input "
                             f"(C, H, W) = {input_shape}")
        self.geometry = g
        return (C, g.OH, g.OW)

    # Export: ONNX's ``MaxPool`` / ``AveragePool`` and ``nn.MaxPool2d`` / ``nn.AvgPool2d``, without padding and
    # with the incomplete last windows dropped (``ceil_mode`` off), as here.
    def _onnx(self, graph, x):
        return graph.node(self.ONNX_OP, [x], self.name, kernel_shape=list(self.pool_size), strides=list(self.stride))

    def _torch(self, torch):
        return [getattr(torch.nn, self.TORCH_MODULE)(self.pool_size, stride=self.stride)]

    @classmethod
    def _from_torch(cls, module):
        settings = {"padding": (module.padding, 0), "ceil_mode": (module.ceil_mode, False),
                    **cls._torch_settings(module)}
        for setting, (value, supported) in settings.items():
            if value not in (supported, (supported, supported)):
                raise ArgumentError(f"{cls.__name__}: nn.{cls.TORCH_MODULE}'s {setting} must be {supported!r} (the "
                                    f"only value {cls.__name__} has), got {value!r}")
        stride = module.kernel_size if module.stride is None else module.stride
        return cls(_pair(module.kernel_size), stride=_pair(stride)), {}, {}


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else value


class MaxPool2D(_Pool2D):
    """``y[n, c, oh, ow] = max over the window``; the gradient goes to the first maximum of each window.

    Args:
        pool_size: int or ``(PH, PW)``, default 2.
        stride: int or pair, default ``pool_size``.

    Shape: ``(N, C, H, W)`` -> ``(N, C, OH, OW)``, ``OH = (H - PH) // SH + 1``.
    """

    ONNX_OP, TORCH_MODULE = "MaxPool", "MaxPool2d"
    FUSABLE_AS = "max_pool"  # this exact class, for a kernel set's fusion rules (handgrad.kernels.fusion)

    @staticmethod
    def _torch_settings(module):
        return {"dilation": (module.dilation, 1), "return_indices": (module.return_indices, False)}

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
        y, argmax = kernels.max_pool_forward(x, self.geometry)
        self._cache = (kernels.max_pool_backward, argmax, x.shape)
        return y

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        backward, argmax, x_shape = self._cache
        return backward(dy, argmax, x_shape, self.geometry)


class AvgPool2D(_Pool2D):
    """``y[n, c, oh, ow] = mean over the window``; each input gets ``dy / (PH*PW)`` from every window holding it.

    Args and shape as ``MaxPool2D``. Both kernel sets run the NumPy kernels (not on the reference network's path).
    """

    ONNX_OP, TORCH_MODULE = "AveragePool", "AvgPool2d"

    @staticmethod
    def _torch_settings(module):  # count_include_pad does not matter without padding
        return {"divisor_override": (module.divisor_override, None)}

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
        self._cache = (kernels.avg_pool_backward, x.shape)
        return kernels.avg_pool_forward(x, self.geometry)

    def _backward(self, dy, input_grad):
        if not input_grad:
            return None
        backward, x_shape = self._cache
        return backward(dy, x_shape, self.geometry)
