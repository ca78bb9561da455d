"""2-D convolution layer (cross-correlation, as in every deep learning library)."""
from __future__ import annotations

from handgrad._validation import ShapeError, check_choice, check_int, check_pair
from handgrad.errors import ArgumentError
from handgrad.kernels import backend
from handgrad.kernels import conv_algorithm as algorithms
from handgrad.kernels.conv_geometry import conv_geometry
from handgrad.layers.base import ParametricLayer


class Conv2D(ParametricLayer):
    r"""``y = act(conv(x, W) + b)`` on NCHW batches.

    ``z[n, f, oh, ow] = b[f] + sum_{c, kh, kw} W[f, c, kh, kw] * xpad[n, c, oh*SH + kh, ow*SW + kw]``

    Args:
        filters: number of output channels ``F``.
        kernel_size: int or ``(KH, KW)``.
        stride: int or ``(SH, SW)``, default 1.
        padding: ``"same"`` (default; ``OH = ceil(H / SH)``), ``"valid"`` (none), or an int / pair.
        activation: None (default), a name such as ``"elu"``, or an activation layer.
        use_bias: default True.
        kernel_regularizer, bias_regularizer: ``R(W)``, ``R(b)`` added to the loss (not divided by N).
        activity_regularizer: ``R(y) / N`` on the output ``y`` (after the activation).
        kernel_initializer: default ``"glorot_uniform"`` (Keras's default); bias starts at zero.
        algorithm: ``"auto"`` (default: the kernel set chooses; the numba set takes Winograd for stride-1 3x3
            and 5x5 kernels on 16 or more input channels, else im2col, see ``handgrad.kernels.conv_algorithm``),
            ``"im2col"`` or ``"winograd"`` (stride 1, 3x3 or 5x5 kernels only; see
            ``handgrad.kernels.numpy.winograd`` for the transforms' float error). Settable later:
            ``layer.algorithm = "im2col"``.
        name: see ``Layer``.

    Shape:
        input ``(N, C, H, W)``; ``W``: ``(F, C, KH, KW)`` (PyTorch's layout); ``b``: ``(F,)``;
        output ``(N, F, OH, OW)`` with ``OH = (H + top + bottom - KH) // SH + 1``.

    The output is computed by im2col and one matrix product ``cols @ W_mat.T`` of shapes
    ``(N*OH*OW, KH*KW*C) @ (KH*KW*C, F)``; it is returned as a channels-last array viewed as NCHW.

    Backward, with ``dZ`` of shape ``(N*OH*OW, F)``: ``dW_mat = dZ.T @ cols``, ``db = sum_rows(dZ)``,
    ``dx = col2im(dZ @ W_mat)``. The kernels are the active kernel set's ``conv2d_forward``/``conv2d_backward``
    (NumPy or numba, see ``handgrad.kernels.backend``). ``backward`` reads the input array given to
    ``forward``: do not modify it in between. With Winograd, the same results (up to float rounding).
    """

    FUSABLE_AS = "conv2d"  # this exact class, for a kernel set's fusion rules (handgrad.kernels.fusion)

    def __init__(self, filters: int, kernel_size, stride=1, padding="same", activation=None, use_bias=True,
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_initializer="glorot_uniform", algorithm="auto", name=None):
        super().__init__(use_bias=use_bias, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, kernel_initializer=kernel_initializer,
                         activation=activation, activity_regularizer=activity_regularizer, name=name)
        self.filters = check_int("Conv2D", "filters", filters, minimum=1)
        self.kernel_size = check_pair("Conv2D", "kernel_size", kernel_size)
        self.stride = check_pair("Conv2D", "stride", stride)
        if padding in ("same", "valid"):
            self.padding = padding
        elif isinstance(padding, (int, tuple, list)) and not isinstance(padding, bool):
            self.padding = check_pair("Conv2D", "padding", padding, minimum=0)
        else:
            raise ArgumentError(f"Conv2D: padding must be 'same', 'valid', an int or a pair of ints, got {padding!r}")
        self.algorithm = algorithm

    @property
    def algorithm(self) -> str:
        """The requested algorithm: ``"auto"``, ``"im2col"`` or ``"winograd"`` (``conv_algorithm`` says which runs)."""
        return self._algorithm

    @algorithm.setter
    def algorithm(self, value):
        value = check_choice(self.name, "algorithm", value, algorithms.ALGORITHMS)
        if value == "winograd" and not algorithms.supported(self.kernel_size, self.stride):
            raise ArgumentError(f"{self.name}: algorithm='winograd' needs stride 1 and a 3x3 or 5x5 kernel, got "
                             f"kernel_size {self.kernel_size} and stride {self.stride}; use 'im2col' or 'auto'")
        self._algorithm = value

    @property
    def conv_algorithm(self) -> str:
        """The algorithm that runs now: ``"im2col"`` or ``"winograd"`` (``"auto"`` resolved; needs a built layer)."""
        if self._algorithm != "auto":
            return self._algorithm
        if not self.built:
            raise ArgumentError(f"{self.name}: algorithm='auto' is resolved when the layer is built")
        return backend.active().conv_algorithm("auto", self.kernel_size, self.stride, self.input_shape[0],
                                               self.filters)

    def _build(self, input_shape, rng):
        if len(input_shape) != 3:
            raise ShapeError(f"{self.name}: Conv2D expects per-sample input (C, H, W), got {input_shape}")
        C, H, W = input_shape
        g = conv_geometry(H, W, self.kernel_size, self.stride, self.padding)
        if g.OH < 1 or g.OW < 1:
            raise ShapeError(f"{self.name}: kernel {self.kernel_size} with padding {self.padding!r} does not fit "
                             f"input (C, H, W) = {input_shape}")
        self.geometry = g
        KH, KW = self.kernel_size
        self._create_params((self.filters, C, KH, KW), C * KH * KW, self.filters * KH * KW, self.filters, rng)
        return (self.filters, g.OH, g.OW)

    def _forward(self, x, training):
        kernels = backend.active()  # chosen per call; backward uses the same set
        z, cache = kernels.conv2d_forward(x, self.params["W"], self.params.get("b"), self.geometry,
                                          self.conv_algorithm)  # (N, F, OH, OW)
        self._cache = (kernels.conv2d_backward, (cache, self.geometry))  # run by ParametricLayer._backward
        return self._activate(z, training)

    # Export: ONNX's ``Conv`` with the padding of ``self.geometry`` (ONNX pads may differ top and bottom) then
    # the activation, whatever the algorithm (Winograd and im2col compute the same convolution). PyTorch:
    # ``nn.Conv2d`` with the same padding argument where PyTorch has it ("valid"; "same" at stride 1, which
    # PyTorch splits as handgrad does, the extra row at the bottom; symmetric ints), else ``nn.ZeroPad2d`` with
    # the exact padding before an unpadded ``nn.Conv2d``.
    TORCH_MODULE = "Conv2d"

    def _onnx(self, graph, x):
        g = self.geometry
        inputs = [x, graph.weight(f"{self.name}.W", self.params["W"])]
        if self.use_bias:
            inputs.append(graph.weight(f"{self.name}.b", self.params["b"]))
        z = graph.node("Conv", inputs, self.name, kernel_shape=list(self.kernel_size), strides=list(self.stride),
                       pads=[g.top, g.left, g.bottom, g.right], dilations=[1, 1], group=1)
        return self._onnx_activate(graph, z)

    def _torch(self, torch):
        g, pad = self.geometry, []
        if self.padding == "valid" or (self.padding == "same" and self.stride == (1, 1)):
            padding = self.padding
        elif (g.top, g.left) == (g.bottom, g.right):
            padding = (g.top, g.left)
        else:
            padding, pad = 0, [torch.nn.ZeroPad2d((g.left, g.right, g.top, g.bottom))]
        conv = torch.nn.Conv2d(self.input_shape[0], self.filters, self.kernel_size, stride=self.stride,
                               padding=padding, bias=self.use_bias)
        return [*pad, self._torch_weights(torch, conv, self.params["W"]), *self._torch_activate(torch)]

    @classmethod
    def _from_torch(cls, module):
        for setting, value, supported in (("dilation", module.dilation, (1, 1)), ("groups", module.groups, 1),
                                          ("padding_mode", module.padding_mode, "zeros")):
            if value != supported:
                raise ArgumentError(f"Conv2D: nn.Conv2d's {setting} must be {supported!r} (the only value Conv2D "
                                    f"has), got {value!r}")
        params = {"W": module.weight.detach().cpu().numpy()}  # (F, C, KH, KW): the same layout
        if module.bias is not None:
            params["b"] = module.bias.detach().cpu().numpy()
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        layer = cls(module.out_channels, tuple(module.kernel_size), stride=tuple(module.stride), padding=padding,
                    use_bias=module.bias is not None)
        return layer, params, {}
