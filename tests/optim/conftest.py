"""Shared test problem: a sum of positive-definite quadratics over parameters of CNN-like shapes."""
import numpy as np
import pytest

SHAPES = {"conv2d.W": (2, 1, 3, 3), "conv2d.b": (2,), "dense.W": (4, 3), "dense.b": (3,)}


class Quadratic:
    """``loss = sum_i 0.5 * p_i^T A_i p_i + b_i . p_i`` over flattened ``p_i``; ``grad_i = A_i p_i + b_i``.

    ``A_i = Q Q^T / n + 0.5 I`` is symmetric positive definite, so every optimizer has a unique minimum to
    walk towards, and the gradient couples the entries of a parameter (unlike an elementwise loss).
    """

    def __init__(self, seed: int = 0, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        self.shapes = dict(shapes)
        self.A, self.b, self.p0 = {}, {}, {}
        for name, shape in self.shapes.items():
            n = int(np.prod(shape))
            Q = rng.normal(size=(n, n))
            self.A[name] = Q @ Q.T / n + 0.5 * np.eye(n)
            self.b[name] = rng.normal(size=n)
            self.p0[name] = rng.normal(size=shape)

    def params(self, dtype=np.float64) -> dict:
        return {name: p.astype(dtype) for name, p in self.p0.items()}

    def grads(self, params: dict) -> dict:
        """Gradient at ``params`` (numpy arrays, or anything ``np.asarray`` reads), in each parameter's dtype."""
        out = {}
        for name, p in params.items():
            p = np.asarray(p)
            g = self.A[name] @ p.reshape(-1).astype(np.float64) + self.b[name]
            out[name] = g.reshape(p.shape).astype(p.dtype)
        return out


@pytest.fixture
def problem():
    return Quadratic(seed=0)
