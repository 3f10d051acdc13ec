"""A stack of transformer blocks: masks, rotary tables and position biases computed once, then every layer.

ALBERT-style sharing: `num_hidden_groups` blocks serve `num_hidden_layers` layers (layer i uses block
i * groups // layers), so a fully shared ALBERT holds one block.

The stack embeds nothing: the base model that owns it runs the embeddings first (families/). Hidden states,
attention weights and router logits are not collected here: the base model records them from the layers' outputs
(core/recording.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .backends import forced_backend, select_backend
from .block import TransformerBlock
from .dropout import train_dropout
from .linear_attention import stack_mask as linear_stack_mask
from .linformer import key_padding
from .masks import cross_attention_mask, self_attention_mask
from .norms import build_norm
from .paged import FULL_ATTENTION as PAGED_FULL_ATTENTION
from .paged import check_support as paged_check_support
from .paged import is_paged
from .paged import key_positions as paged_key_positions
from .paged import layer_mask as paged_layer_mask
from .paged import past_length as paged_past_length
from .positions import RotaryEmbedding, build_position_bias
from .sparse import mask_function as sparse_mask_function
from .sparse import pattern_key

# The output flags transformers' output capturing reads at the base model; the stack only reads
# `output_attentions` (to pick the kernel that materialises the weights) and passes none of them to the layers.
OUTPUT_FLAGS = ("output_attentions", "output_hidden_states", "output_router_logits")


@dataclass
class StackOutput:
    last_hidden_state: torch.Tensor


class TransformerStack(nn.Module):
    def __init__(self, config, is_causal: bool, has_cross_attention: bool = False, num_layers: int | None = None):
        """`num_layers` overrides `config.num_hidden_layers` (an encoder-decoder's decoder depth); without
        cross-layer sharing each of those layers gets its own block."""
        super().__init__()
        self.build_stack(config, is_causal, has_cross_attention, num_layers)

    def build_stack(self, config, is_causal: bool, has_cross_attention: bool = False,
                    num_layers: int | None = None) -> None:
        """Create the layers on `self`; a PreTrainedModel that is itself a stack (the encoder-decoder family's
        encoder and decoder) calls it after its own `__init__`."""
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
        # which self-attention mask each layer uses (core/sparse.py; None = dense): fixed by the config, so worked
        # out once here rather than on every forward (every generated token)
        self.layer_pattern_keys = [pattern_key(config, i) for i in range(self.num_layers)]
        self.has_pattern = any(key is not None for key in self.layer_pattern_keys)
        # likewise fixed by the fields the modules were built from: the attention kind and a kernel it forces
        self.attention_type = config.attention_type
        self.forced_backend = forced_backend(config)

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

    def _paged_mask(self, attention_mask, position_ids, kwargs, output_attentions, configured):
        """(mask, backend) for a continuous-batching step: its block-diagonal additive mask, plus the position bias
        between every packed query and key."""
        paged_check_support(self.config)
        mask = paged_layer_mask(self.config, attention_mask)
        if self.position_bias is None:
            return mask, select_backend(configured, self.forced_backend, False, output_attentions)
        keys = paged_key_positions(kwargs["cu_seq_lens_k"][PAGED_FULL_ATTENTION])
        bias = self.position_bias.between(position_ids[0], keys)
        return mask + bias.to(mask.dtype), select_backend(configured, self.forced_backend, True, output_attentions)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache=None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_length: int | None = None,
        **kwargs,
    ) -> StackOutput:
        """`output_attentions` (default: the config's) makes every layer run the eager kernel, the one that
        materialises the weights the base model records. `past_length`: the tokens already in `cache`, when the
        caller has read it (read from the cache otherwise, and only when default positions, a position bias or a
        sparse pattern need it: not per generated token)."""
        output_attentions = None
        if kwargs:  # (a forward per generated token passes none)
            output_attentions = kwargs.pop("output_attentions", None)
            for flag in OUTPUT_FLAGS:
                kwargs.pop(flag, None)
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        seq_length = hidden_states.shape[1]
        slots = None  # the query positions, when a default or a position bias needs them (not per generated token)
        if past_length is None and (position_ids is None or self.position_bias is not None or self.has_pattern):
            past_length = paged_past_length(cache)
        if position_ids is None or self.position_bias is not None:
            slots = torch.arange(past_length, past_length + seq_length, device=hidden_states.device)
        if position_ids is None:
            position_ids = slots.unsqueeze(0)

        cross_mask = None
        # one self-attention mask per distinct sparse pattern, picked per layer
        layer_keys = self.layer_pattern_keys
        attention_type = self.attention_type
        configured = self.config._attn_implementation  # (read per forward: set_attn_implementation changes it)
        if is_paged(cache):  # continuous batching: packed requests, the mask comes ready-made
            mask, attn_implementation = self._paged_mask(attention_mask, position_ids, kwargs, output_attentions,
                                                         configured)
            masks = {None: mask}  # sparse patterns are refused by paged_check_support
        elif attention_type == "linear":  # no score matrix: the padding of the new keys (and redraws)
            attn_implementation = None  # (sparse patterns are refused with linear attention)
            masks = {None: linear_stack_mask(self, attention_mask, seq_length, output_attentions)}
        else:
            bias = key_span = None  # (the key span only sizes a position bias and the sparse patterns)
            if self.position_bias is not None or self.has_pattern:
                key_span = self._key_span(cache, past_length, seq_length)
            if self.position_bias is not None:
                bias = self.position_bias(slots, *key_span)
            # every mask is built for the kernel that will run (a bias, a pattern or output_attentions may change it)
            attn_implementation = select_backend(configured, self.forced_backend, bias is not None, output_attentions,
                                                 has_pattern=self.has_pattern)
            if attention_type == "linformer":  # Linformer zeroes padding before its projection
                masks = {None: key_padding(attention_mask, hidden_states)}
            elif not self.has_pattern:  # (one dense mask: every layer's key is None)
                masks = {None: self_attention_mask(self.config, hidden_states, attention_mask, self.is_causal, cache,
                                                   position_ids, bias, backend=attn_implementation)}
            else:
                masks = {
                    key: self_attention_mask(
                        self.config, hidden_states, attention_mask, self.is_causal, cache, position_ids, bias,
                        backend=attn_implementation,
                        and_mask_function=None if key is None else sparse_mask_function(
                            self.config, key, self.is_causal, sum(key_span), hidden_states.device),
                    )
                    for key in dict.fromkeys(layer_keys)
                }
        if encoder_hidden_states is not None:
            cross_mask = cross_attention_mask(self.config, hidden_states, encoder_hidden_states, encoder_attention_mask,
                                              backend=attn_implementation)
        rotary = self.rotary_emb(hidden_states, position_ids) if self.rotary_emb is not None else None
        # the kernel every layer calls, resolved once here rather than read from the config in every attention
        layer_kernel = attn_implementation or configured
        # without ALBERT-style sharing block i is layer i: iterated, not indexed per layer
        blocks = self.layers if self.num_groups == self.num_layers else map(self.block_for_layer, range(self.num_layers))

        for layer_idx, block in enumerate(blocks):
            # Tensors that may carry gradients (hidden and encoder states, a mask holding a learned position bias)
            # go positionally: reentrant checkpointing routes gradients only through positional tensor arguments.
            hidden_states, _ = block(  # (router logits are recorded, not collected)
                hidden_states,
                masks[layer_keys[layer_idx]],
                rotary,
                encoder_hidden_states,
                cross_mask,
                cache=cache,
                layer_idx=layer_idx,
                attn_implementation=layer_kernel,
                **kwargs,
            )
        if self.final_norm is not None:  # the base model's recording ties the last hidden state to this output
            hidden_states = self.final_norm(hidden_states)
            if self.training:
                hidden_states = train_dropout(self.final_dropout, hidden_states, True)
        return StackOutput(last_hidden_state=hidden_states)
