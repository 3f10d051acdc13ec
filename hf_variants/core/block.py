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

    def _residual(self, hidden_states, norm, sublayer, dropout=None):
        dropout = self.dropout if dropout is None else dropout
        if self.pre_norm:
            output, extra = sublayer(norm(hidden_states))
            return hidden_states + train_dropout(dropout, output, self.training), extra
        output, extra = sublayer(hidden_states)
        return norm(hidden_states + train_dropout(dropout, output, self.training)), extra

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
        the balancing loss must reach the router."""
        attention_kwargs = dict(cache=cache, layer_idx=layer_idx, attn_implementation=attn_implementation, **kwargs)
        hidden_states, _ = self._residual(  # (the weights are recorded from the attention's output)
            hidden_states, self.self_attn_norm,
            lambda x: self.self_attn(x, attention_mask, position_embeddings=position_embeddings, **attention_kwargs),
            self.attn_dropout,
        )
        if self.cross_attn is not None:
            if encoder_hidden_states is None:
                raise ValueError("this layer has cross-attention: pass encoder_hidden_states")
            hidden_states, _ = self._residual(
                hidden_states, self.cross_attn_norm,
                lambda x: self.cross_attn(x, encoder_attention_mask, key_value_states=encoder_hidden_states,
                                          **attention_kwargs),
            )
        return self._residual(hidden_states, self.mlp_norm, self._channel_mix, self.mlp_dropout)

    def _channel_mix(self, hidden_states):
        output = self.mlp(hidden_states)
        return output if isinstance(output, tuple) else (output, None)
