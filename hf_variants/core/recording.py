"""What a base model records from its layers: transformers' output capturing, declared once for every stack.

Layers return their hidden states (and a MoE layer its router logits); nothing is collected by hand. A base model
whose forward is decorated with `records_outputs` gets forward hooks (installed once, active only while a forward
asks for an output) on:
- every `TransformerBlock` call: the hidden states, the first block's input (the embeddings output) first. A block
  shared by several layers (ALBERT) records each call, so there is one entry per layer as in native ALBERT; the last
  entry is replaced by the base model's `last_hidden_state` (the normed output, transformers' convention);
- the `self_attn` / `cross_attn` attention modules: their weights (index 1 of their output);
- the router logits a mixture-of-experts block returns next to its hidden states (index 1 of a block's output,
  None on dense blocks), which the balancing losses read: taken from the block's output rather than from the MoE
  module so that they keep their gradient under reentrant checkpointing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .attention import Attention
from .block import TransformerBlock
from .compat import OutputRecorder, capture_outputs


def recordable_outputs(cross_attention: bool = False) -> dict[str, type | OutputRecorder]:
    """The `_can_record_outputs` of a base model over one `TransformerStack` (with cross-attention: a decoder that
    reads an encoder)."""
    outputs = {
        "hidden_states": TransformerBlock,
        "attentions": OutputRecorder(Attention, index=1, layer_name="self_attn"),
        "router_logits": OutputRecorder(TransformerBlock, index=1),
    }
    if cross_attention:
        outputs["cross_attentions"] = OutputRecorder(Attention, index=1, layer_name="cross_attn")
    return outputs


def records_outputs(forward: Callable) -> Callable:
    """transformers' `capture_outputs` (which also honours `return_dict=False`), always recording the router logits
    of a mixture-of-experts model: its balancing losses are added whenever their coefficients are > 0, not only when
    the logits are asked for (so `router_logits` is always returned, as before)."""
    captured = capture_outputs(forward)

    @functools.wraps(forward)
    def recording_forward(self, *args, **kwargs):
        if getattr(self.config, "num_experts", 0):
            kwargs["output_router_logits"] = True
        return captured(self, *args, **kwargs)

    return recording_forward
