"""Routing, expert dispatch and the balancing losses read nothing back to the host (on GPU: no synchronisation
per layer and per generated token). Counted as aten `_local_scalar_dense` calls (`.item()`, `int()`, `bool()`)."""

import collections

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hf_variants.core.config import HfvConfig
from hf_variants.core.moe import SparseMoE, load_balancing_loss, router_z_loss, switch_load_balancing_loss


class CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("router_type", ["topk", "switch"])
def test_moe_layer_and_losses_make_no_host_reads(router_type):
    top_k = 2 if router_type == "topk" else 1
    config = HfvConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1,
                       num_experts=4, num_experts_per_tok=top_k, router_type=router_type, ffn_type="glu",
                       hidden_act="silu", mlp_bias=False,
                       expert_capacity=3 if router_type == "switch" else None)
    layer = SparseMoE(config)
    hidden = torch.randn(2, 8, 32, requires_grad=True)
    mask = torch.ones(2, 8, dtype=torch.long)
    with CountOps() as ops:
        output, logits = layer(hidden)
        losses = (load_balancing_loss((logits,), 4, top_k, mask) + switch_load_balancing_loss((logits,), 4)
                  + router_z_loss((logits,)))
        (output.sum() + losses).backward()
    assert ops.counts["_local_scalar_dense"] == 0, ops.counts
