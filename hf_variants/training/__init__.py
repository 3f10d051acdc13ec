"""Training workflows behind `hfv pretrain` and `hfv finetune` (Trainer-based; the tools layer)."""

from .finetune import TASKS, finetune
from .pretrain import SIZES, pretrain

__all__ = ["pretrain", "finetune", "SIZES", "TASKS"]
