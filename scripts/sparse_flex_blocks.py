"""One encoder layer under flex attention, dense vs a local+global sparse pattern: forward time and how many
128-token blocks flex's BlockMask visits (README, "Sparse attention").

    HF_HUB_OFFLINE=1 python scripts/sparse_flex_blocks.py --length 4096 --window 128
"""

from __future__ import annotations

import argparse
import time

import torch

import hf_variants
from hf_variants.core.masks import self_attention_mask
from hf_variants.core.sparse import mask_function

BLOCK = 128  # transformers' flex BlockMask block size


def measure(length: int, sparse_fields: dict, repeats: int = 3) -> tuple[float, int]:
    """(seconds per forward after two warm-up calls, blocks the BlockMask visits)."""
    config = hf_variants.VARIANTS["bert"].config_class(
        vocab_size=99, hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=1,
        max_position_embeddings=length, **sparse_fields)
    config._attn_implementation = "flex_attention"
    torch.manual_seed(0)
    model = hf_variants.VARIANTS["bert"].classes["Model"](config).eval()
    ids = torch.randint(4, 99, (1, length))
    with torch.no_grad():
        model(ids), model(ids)
        start = time.perf_counter()
        for _ in range(repeats):
            model(ids)
    seconds = (time.perf_counter() - start) / repeats
    if not sparse_fields:
        return seconds, (-(-length // BLOCK)) ** 2
    embeds = torch.zeros(1, length, config.hidden_size)
    blocks = self_attention_mask(config, embeds, None, False, backend="flex_attention",
                                 and_mask_function=mask_function(config, 0, False, length, embeds.device))
    full = blocks.full_kv_num_blocks
    return seconds, int(blocks.kv_num_blocks.sum() + (0 if full is None else full.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    total = (-(-args.length // BLOCK)) ** 2
    for name, fields in (("dense", {}), (f"window {args.window} + global [0]",
                                         {"attention_window": args.window, "global_attention_positions": [0]})):
        seconds, visited = measure(args.length, fields)
        print(f"{name}: {seconds * 1000:.0f} ms/forward, {visited}/{total} blocks visited")


if __name__ == "__main__":
    main()
