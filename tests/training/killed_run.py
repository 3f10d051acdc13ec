"""`python -m tests.training.killed_run VARIANT OUTPUT TOKENIZER KILL_AT OPTIONS_JSON`: an `hfv pretrain` run that
SIGKILLs itself (kill -9: no cleanup, no final save) as it starts the training step after global step KILL_AT."""

import json
import os
import signal
import sys

import torch
from transformers import Trainer

from hf_variants.training.pretrain import pretrain

torch.set_num_threads(1)  # as tests/conftest.py: the same kernels as the in-process runs it is compared with


def _kill_after(step: int) -> None:
    original = Trainer.training_step

    def training_step(self, *args, **kwargs):
        if self.state.global_step >= step:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)

    Trainer.training_step = training_step


if __name__ == "__main__":
    variant, output, tokenizer, kill_at, options = sys.argv[1:]
    _kill_after(int(kill_at))
    pretrain(variant, output, tokenizer=tokenizer, **json.loads(options))
    sys.exit("the run was not killed")
