"""Training: ``Trainer``, checkpoints, history and monitors."""
from handgrad.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from handgrad.training.history import History
from handgrad.training.trainer import Trainer, TrainingDiverged, evaluate

__all__ = ["Checkpoint", "History", "Trainer", "TrainingDiverged", "evaluate", "load_checkpoint", "save_checkpoint"]
