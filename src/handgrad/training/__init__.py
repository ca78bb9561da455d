"""Training: ``Trainer``, checkpoints, history and monitors."""
from handgrad.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from handgrad.training.history import History
from handgrad.training.rundir import RunDirError, claim_run_dir
from handgrad.training.trainer import Trainer, TrainingDiverged, evaluate

__all__ = ["Checkpoint", "History", "RunDirError", "Trainer", "TrainingDiverged", "claim_run_dir", "evaluate",
           "load_checkpoint", "save_checkpoint"]
