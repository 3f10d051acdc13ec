"""Run under torchrun (2 CPU processes, gloo): load a checkpoint with transformers' DistributedConfig in tensor
parallel and then FSDP2 mode, write one JSON file per mode and rank (loss, parameters held locally), and in TP mode
save the sharded model back to a directory. Used by test_parallel_plans.py."""

import json
import os
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM
from transformers.distributed import DistributedConfig

import hf_variants  # noqa: F401  (registers the Auto classes)


def local_numel(parameter: torch.Tensor) -> int:
    return (parameter.to_local() if hasattr(parameter, "to_local") else parameter).numel()


def main(checkpoint: str, saved: str, records: str) -> None:
    ids = torch.arange(3, 35).view(4, 8) % 90 + 3
    for mode, config in (("tp", DistributedConfig(tp_size=2)), ("fsdp", DistributedConfig(fsdp_size=2))):
        model = AutoModelForCausalLM.from_pretrained(checkpoint, distributed_config=config)
        loss = model(input_ids=ids, labels=ids).loss.item()
        sharded = {name: local_numel(p) for name, p in model.named_parameters()}
        rank = int(os.environ["RANK"])
        record = {"mode": mode, "rank": rank, "loss": loss, "numel": sum(sharded.values()), "parameters": sharded}
        # one file per rank and mode: the ranks' stdout lines can interleave
        (Path(records) / f"{mode}-{rank}.json").write_text(json.dumps(record))
        if mode == "tp":
            model.save_pretrained(saved)


if __name__ == "__main__":
    main(*sys.argv[1:4])
