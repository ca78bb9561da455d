"""handgrad: convolutional neural networks in NumPy with hand-written, proven-right gradients."""
from handgrad import datasets, errors, gradcheck, initializers, layers, models, optim, regularizers
from handgrad.layers import (
                             ELU,
                             ActivityRegularization,
                             AvgPool2D,
                             BatchNorm1D,
                             BatchNorm2D,
                             Conv2D,
                             Dense,
                             Dropout,
                             Flatten,
                             GroupNorm,
                             LayerNorm,
                             LeakyReLU,
                             MaxPool2D,
                             ReLU,
                             Sigmoid,
                             Tanh,
)
from handgrad.regularizers import L1, L1L2, L2
from handgrad.sequential import LossTerms, Sequential

__version__ = "0.1.0"

__all__ = ["ELU", "L1", "L1L2", "L2", "ActivityRegularization", "AvgPool2D", "BatchNorm1D", "BatchNorm2D", "Conv2D",
           "Dense", "Dropout", "Flatten", "GroupNorm", "LayerNorm", "LeakyReLU", "LossTerms", "MaxPool2D", "ReLU",
           "Sequential", "Sigmoid", "Tanh", "datasets", "errors", "gradcheck", "initializers", "layers", "models",
           "optim", "regularizers"]
