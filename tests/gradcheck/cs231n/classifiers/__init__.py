from .cnn import ThreeLayerConvNet  # noqa: F401
from .fc_net import FullyConnectedNet  # noqa: F401
