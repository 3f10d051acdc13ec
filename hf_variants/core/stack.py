"""A stack of transformer blocks: masks, rotary tables and position biases computed once, then every layer.

ALBERT-style sharing: `num_hidden_groups` blocks serve `num_hidden_layers` layers (layer i uses block
i * groups // layers), so a fully shared ALBERT holds one block.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .block import TransformerBlock
from .masks import attention_backend, cross_attention_mask, self_attention_mask
from .norms import build_norm
from .paged import FULL_ATTENTION as PAGED_FULL_ATTENTION
from .paged import check_support as paged_check_support
from .paged import is_paged
from .paged import key_positions as paged_key_positions
from .paged import layer_mask as paged_layer_mask
from .paged import past_length as paged_past_length
from .positions import RotaryEmbedding, build_position_bias


@dataclass
class StackOutput:
    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None


class TransformerStack(nn.Module):
    def __init__(self, config, is_causal: bool, has_cross_attention: bool = False, num_layers: int | None = None):
        """`num_layers` overrides `config.num_hidden_layers` (an encoder-decoder's decoder depth); without
        cross-layer sharing each of those layers gets its own block."""
        super().__init__()
        self.config = config
        self.is_causal = is_causal
        self.num_layers = config.num_hidden_layers if num_layers is None else num_layers
        sharing = config.num_hidden_groups != config.num_hidden_layers
        self.num_groups = config.num_hidden_groups if sharing or num_layers is None else self.num_layers
        self.layers = nn.ModuleList(
            TransformerBlock(config, i, is_causal=is_causal, has_cross_attention=has_cross_attention)
            for i in range(self.num_groups)
        )
        self.rotary_emb = RotaryEmbedding(config) if config.position_embedding_type == "rope" else None
        self.position_bias = build_position_bias(config, bidirectional=not is_causal)
        self.final_norm = build_norm(config) if config.use_final_norm else None
        self.final_dropout = nn.Dropout(config.hidden_dropout_prob) if config.use_final_norm else None

    def block_for_layer(self, layer_idx: int) -> TransformerBlock:
        return self.layers[layer_idx * self.num_groups // self.num_layers]

    @staticmethod
    def _key_span(cache, past_length: int, seq_length: int) -> tuple[int, int]:
        """(key length, position of the first key) the attention will see: a static cache exposes its whole
        buffer and a sliding-window cache only the window, so a position bias must be sized like the cache's mask."""
        cache = getattr(cache, "self_attention_cache", cache)
        if cache is None or not hasattr(cache, "get_mask_sizes"):
            return past_length + seq_length, 0
        length, offset = cache.get_mask_sizes(seq_length, 0)
        return int(length), int(offset)

    def _paged_mask(self, attention_mask, position_ids, kwargs, output_attentions):
        """(mask, backend) for a continuous-batching step: its block-diagonal additive mask, plus the position bias
        between every packed query and key."""
        paged_check_support(self.config)
        mask = paged_layer_mask(self.config, attention_mask)
        if self.position_bias is None:
            return mask, attention_backend(self.config, False, output_attentions)
        keys = paged_key_positions(kwargs["cu_seq_lens_k"][PAGED_FULL_ATTENTION])
        bias = self.position_bias.between(position_ids[0], keys)
        return mask + bias.to(mask.dtype), attention_backend(self.config, True, output_attentions)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache=None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> StackOutput:
        """`output_attentions` / `output_hidden_states` default to the config's settings."""
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        past_length = paged_past_length(cache)
        seq_length = hidden_states.shape[1]
        slots = None  # the query positions, when a default or a position bias needs them (not per generated token)
        if position_ids is None or self.position_bias is not None:
            slots = torch.arange(past_length, past_length + seq_length, device=hidden_states.device)
        if position_ids is None:
            position_ids = slots.unsqueeze(0)

        cross_mask = None
        if is_paged(cache):  # continuous batching: packed requests, the mask comes ready-made
            mask, attn_implementation = self._paged_mask(attention_mask, position_ids, kwargs, output_attentions)
        else:
            bias = None
            if self.position_bias is not None:
                bias = self.position_bias(slots, *self._key_span(cache, past_length, seq_length))
            # every mask is built for the kernel that will run (a bias or output_attentions may change it)
            attn_implementation = attention_backend(self.config, bias is not None, output_attentions)
            mask = self_attention_mask(self.config, hidden_states, attention_mask, self.is_causal, cache,
                                       position_ids, bias, backend=attn_implementation)
        if encoder_hidden_states is not None:
            cross_mask = cross_attention_mask(self.config, hidden_states, encoder_hidden_states, encoder_attention_mask,
                                              backend=attn_implementation)
        rotary = self.rotary_emb(hidden_states, position_ids) if self.rotary_emb is not None else None

        all_hidden = [hidden_states] if output_hidden_states else None
        all_attn, all_cross, all_router = [], [], []
        for layer_idx in range(self.num_layers):
            # Tensors that may carry gradients (hidden and encoder states, a mask holding a learned position bias)
            # go positionally: reentrant checkpointing routes gradients only through positional tensor arguments.
            hidden_states, self_w, cross_w, router = self.block_for_layer(layer_idx)(
                hidden_states,
                mask,
                rotary,
                encoder_hidden_states,
                cross_mask,
                cache=cache,
                layer_idx=layer_idx,
                attn_implementation=attn_implementation,
                output_attentions=output_attentions,
                **kwargs,
            )
            if output_hidden_states:
                all_hidden.append(hidden_states)
            all_attn.append(self_w)
            all_cross.append(cross_w)
            if router is not None:
                all_router.append(router)

        if self.final_norm is not None:
            hidden_states = self.final_norm(hidden_states)
            hidden_states = self.final_dropout(hidden_states) if self.training else hidden_states
            if output_hidden_states:  # transformers' convention: the last entry is the normed output
                all_hidden[-1] = hidden_states
        return StackOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attn) if output_attentions else None,
            cross_attentions=tuple(all_cross) if output_attentions and encoder_hidden_states is not None else None,
            router_logits=tuple(all_router) or None,
        )
