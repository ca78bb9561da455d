"""A tiny, learnable classification problem and model for trainer tests (runs in well under a second)."""
import numpy as np

import handgrad as hg


def make_data(n=240, seed=0, classes=3):
    """Images ``(n, 1, 8, 8)`` whose class is the quadrant-pattern that is brightest, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = 0.3 * rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    for c in range(classes):
        x[y == c, 0, (2 * c) % 8 : (2 * c) % 8 + 3, 2:6] += 1.0
    return x, y.astype(np.int64)


def make_model(seed=0, activity_l2=0.0, dropout=0.25, activity_regularizer=None, batchnorm=False):
    """``batchnorm``: BatchNorm2D after the conv and BatchNorm1D after the hidden Dense (layers with state)."""
    if activity_l2:
        activity_regularizer = hg.L2(activity_l2)
    bn2d, bn1d = ([hg.BatchNorm2D(momentum=0.9)], [hg.BatchNorm1D(momentum=0.9)]) if batchnorm else ([], [])
    layers = [hg.Conv2D(4, 3, activity_regularizer=activity_regularizer), *bn2d, hg.ELU(),
              hg.MaxPool2D(2), hg.Flatten(), hg.Dense(16, kernel_regularizer=hg.L2(1e-4)), *bn1d, hg.ELU(),
              hg.Dropout(dropout), hg.Dense(3)]
    return hg.Sequential(layers, input_shape=(1, 8, 8), seed=seed)


def make_optimizer(steps_per_epoch=8, epochs=3):
    schedule = hg.optim.make_schedule("cosine", 3e-3, total_steps=steps_per_epoch * epochs, warmup_steps=2)
    return hg.optim.Adam(lr=schedule)
