"""One transformer layer: self-attention, optional cross-attention, feed-forward, each a residual sublayer."""

from __future__ import annotations

import torch
from torch import nn

from .attention import Attention
from .compat import GradientCheckpointingLayer
from .dropout import train_dropout
from .feedforward import build_feedforward
from .norms import build_norm


def build_channel_mixer(config, layer_idx: int) -> nn.Module:
    """Dense feed-forward, or a mixture of experts on the layers `config.is_moe_layer` picks."""
    if config.is_moe_layer(layer_idx):
        from .moe import SparseMoE  # imported lazily: dense models never need it

        return SparseMoE(config)
    return build_feedforward(config)


class TransformerBlock(GradientCheckpointingLayer):
    """Residual sublayers with pre-norm (x + f(norm(x))) or post-norm (norm(x + f(x))) placement."""

    def __init__(self, config, layer_idx: int, is_causal: bool, has_cross_attention: bool = False):
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.self_attn = Attention(config, layer_idx, is_causal=is_causal)
        self.self_attn_norm = build_norm(config)
        if has_cross_attention:
            self.cross_attn = Attention(config, layer_idx, is_causal=False, is_cross_attention=True)
            self.cross_attn_norm = build_norm(config)
        else:
            self.cross_attn = None
        self.mlp = build_channel_mixer(config, layer_idx)
        self.mlp_norm = build_norm(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        # Natives without a dropout on one sublayer's output: DistilBERT (attention), ALBERT (feed-forward).
        self.attn_dropout = self.dropout if config.attention_output_dropout else nn.Identity()
        self.mlp_dropout = self.dropout if config.ffn_output_dropout else nn.Identity()

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache=None,
        layer_idx: int | None = None,
        attn_implementation: str | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (hidden states, router logits or None). Attention weights are recorded from the attention modules
        by the model's output capturing (core/recording.py). The router logits are recorded from this output, not
        from the MoE module: under reentrant checkpointing only a checkpointed layer's outputs carry gradients, and
        the balancing loss must reach the router. Pre-norm x + f(norm(x)), post-norm norm(x + f(x)); written
        without closures or keyword dicts: this runs per layer and generated token."""
        pre_norm = self.pre_norm
        norm = self.self_attn_norm
        output, _ = self.self_attn(  # (the weights are recorded from the attention's output)
            norm(hidden_states) if pre_norm else hidden_states, attention_mask,
            position_embeddings=position_embeddings, cache=cache, layer_idx=layer_idx,
            attn_implementation=attn_implementation, **kwargs,
        )
        hidden_states = self._add(hidden_states, output, self.attn_dropout, norm)
        if self.cross_attn is not None:
            if encoder_hidden_states is None:
                raise ValueError("this layer has cross-attention: pass encoder_hidden_states")
            norm = self.cross_attn_norm
            output, _ = self.cross_attn(
                norm(hidden_states) if pre_norm else hidden_states, encoder_attention_mask,
                key_value_states=encoder_hidden_states, cache=cache, layer_idx=layer_idx,
                attn_implementation=attn_implementation, **kwargs,
            )
            hidden_states = self._add(hidden_states, output, self.dropout, norm)
        norm = self.mlp_norm
        output = self.mlp(norm(hidden_states) if pre_norm else hidden_states)
        output, router_logits = output if isinstance(output, tuple) else (output, None)
        return self._add(hidden_states, output, self.mlp_dropout, norm), router_logits

    def _add(self, residual: torch.Tensor, output: torch.Tensor, dropout: nn.Module, norm: nn.Module) -> torch.Tensor:
        """The residual connection of one sublayer: residual + dropout(output) (dropout in training only), then
        `norm` for post-norm blocks (pre-norm blocks applied it to the sublayer's input)."""
        hidden_states = residual + (train_dropout(dropout, output, True) if self.training else output)
        return hidden_states if self.pre_norm else norm(hidden_states)
