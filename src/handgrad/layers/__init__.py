"""Layers: each a class with ``forward(x, training)`` and ``backward(dy)``; see ``handgrad.layers.base``."""
from handgrad.layers.activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from handgrad.layers.activity_regularization import ActivityRegularization
from handgrad.layers.base import Layer
from handgrad.layers.batchnorm import BatchNorm1D, BatchNorm2D
from handgrad.layers.conv2d import Conv2D
from handgrad.layers.dense import Dense
from handgrad.layers.dropout import Dropout
from handgrad.layers.flatten import Flatten
from handgrad.layers.group_norm import GroupNorm
from handgrad.layers.layer_norm import LayerNorm
from handgrad.layers.pooling import AvgPool2D, MaxPool2D

__all__ = ["ActivityRegularization", "AvgPool2D", "BatchNorm1D", "BatchNorm2D", "Conv2D", "Dense", "Dropout", "ELU",
           "Flatten", "GroupNorm", "Layer", "LayerNorm", "LeakyReLU", "MaxPool2D", "ReLU", "Sigmoid", "Tanh"]
