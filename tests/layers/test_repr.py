"""A layer shows the constructor arguments that differ from their defaults, then its name."""
import pytest

import handgrad as hg


@pytest.mark.parametrize("layer, text", [
    (hg.Conv2D(8, 3), "Conv2D(filters=8, kernel_size=(3, 3), name='conv2d')"),
    (hg.Conv2D(4, (5, 3), stride=2, padding="valid", use_bias=False, activation="elu",
               kernel_regularizer=hg.L2(1e-3), kernel_initializer="he_normal", algorithm="im2col"),
     "Conv2D(filters=4, kernel_size=(5, 3), stride=(2, 2), padding='valid', activation='elu', use_bias=False, "
     "kernel_regularizer=L2(l2=0.001), kernel_initializer='he_normal', algorithm='im2col', name='conv2d')"),
    (hg.Dense(3, activation=hg.ELU(alpha=0.5), activity_regularizer="l2", name="head"),
     "Dense(units=3, activation=ELU(alpha=0.5, name='elu'), activity_regularizer=L2(l2=0.01), name='head')"),
    (hg.Dense(3), "Dense(units=3, name='dense')"),
    (hg.MaxPool2D(3, stride=2), "MaxPool2D(pool_size=(3, 3), stride=(2, 2), name='max_pool2d')"),
    (hg.LeakyReLU(0.1), "LeakyReLU(negative_slope=0.1, name='leaky_relu')"),
    (hg.ELU(), "ELU(name='elu')"),
    (hg.Dropout(0.3), "Dropout(rate=0.3, name='dropout')"),
    (hg.Flatten(), "Flatten(name='flatten')"),
])
def test_repr_lists_the_non_default_arguments(layer, text):
    assert repr(layer) == text
